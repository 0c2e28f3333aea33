// Tiny DOM helpers: the page has no build step and no framework, so views are plain functions
// that build elements with `h()` and swap them in with `replace()`.

/**
 * Build an element.
 * @param {string} tag  tag name, optionally with `.class` suffixes ("div.card.ship")
 * @param {Record<string, any> | null} [attrs]  attributes; `on*` functions become listeners,
 *   `dataset`/`style` objects are merged, `testid` sets data-testid, booleans toggle attributes
 * @param {...any} children  strings, nodes, arrays (flattened), null/false (skipped)
 * @returns {HTMLElement}
 */
export function h(tag, attrs, ...children) {
  const [name, ...classes] = tag.split(".");
  const el = document.createElement(name || "div");
  if (classes.length) el.classList.add(...classes);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === "testid") {
      el.dataset.testid = String(value);
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (key === "style" && typeof value === "object") {
      for (const [prop, v] of Object.entries(value)) el.style.setProperty(prop, String(v));
    } else if (key === "class") {
      for (const c of String(value).split(/\s+/).filter(Boolean)) el.classList.add(c);
    } else if (key === "value" && "value" in el) {
      /** @type {HTMLInputElement} */ (el).value = String(value);
    } else if (value === true) {
      el.setAttribute(key, "");
    } else {
      el.setAttribute(key, String(value));
    }
  }
  append(el, children);
  return el;
}

/** Append children (flattening arrays, skipping null/false). */
export function append(parent, children) {
  for (const child of [children].flat(Infinity)) {
    if (child === null || child === undefined || child === false || child === true) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

/** Replace every child of `parent`, keeping focus on an element with the same id when possible.
 * When the focused control is gone (an action done, its button replaced by the next step's),
 * focus lands on the nearest focusable container instead of dropping to <body>: the keyboard
 * user stays where they were, and a screen reader reads the region that changed. */
export function replace(parent, ...children) {
  const active = document.activeElement;
  const hadFocus = !!active && active !== parent && parent.contains(active);
  const focusKey = hadFocus ? focusKeyOf(active) : null;
  parent.replaceChildren();
  append(parent, children);
  if (hadFocus) {
    const again = focusKey ? parent.querySelector(focusKey) : null;
    const usable = again instanceof HTMLElement && !(/** @type {any} */ (again).disabled) && !again.closest("[hidden]");
    if (usable) again.focus();
    else keepFocusNear(parent);
  }
  return parent;
}

/** Focus `el` if it takes focus, else its nearest ancestor that does (a region with tabindex). */
export function keepFocusNear(el) {
  const target = el.closest("[tabindex]");
  if (target instanceof HTMLElement) target.focus({ preventScroll: true });
}

function focusKeyOf(el) {
  if (el.id) return `#${CSS.escape(el.id)}`;
  const tid = el.getAttribute("data-testid");
  return tid ? `[data-testid="${CSS.escape(tid)}"]` : null;
}

/** Query one element or throw: a missing anchor is a bug in index.html, not a runtime state. */
export function $(selector, root = document) {
  const el = root.querySelector(selector);
  if (!el) throw new Error(`missing element ${selector}`);
  return /** @type {HTMLElement} */ (el);
}

/** Human label from a snake_case id ("very_long" -> "Very long"). */
export function label(id) {
  const s = String(id ?? "").replace(/[_:]+/g, " ").trim();
  return s ? s[0].toUpperCase() + s.slice(1) : "";
}

/** Signed number for DMs ("+2", "−1", "0"). */
export function signed(n) {
  const v = Number(n) || 0;
  return v > 0 ? `+${v}` : v < 0 ? `\u2212${Math.abs(v)}` : "0";
}

/** Station label: "gunner:0" is the gunner of the first turret, "Gunner 1" (the log's words). */
export function stationLabel(id) {
  const m = String(id ?? "").match(/^gunner:(\d+)$/);
  return m ? `Gunner ${Number(m[1]) + 1}` : label(id);
}

/**
 * A server message in the page's words: station ids ("gunner:2", "pilot on s1") and ship ids
 * become the names the table uses ("Gunner 3 aboard Vengeance"). The server's texts are meant
 * for people already; only the ids it sometimes names are translated.
 * @param {string} message
 * @param {Map<string, string>} shipNames  ship id -> name
 */
export function humanMessage(message, shipNames) {
  const ship = (id) => shipNames.get(id) ?? "that ship";
  return String(message ?? "")
    .replace(/\b([a-z_]+(?::\d+)?) on ([A-Za-z0-9_.-]+)\b/g, (all, st, id) => (shipNames.has(id) || /^s\d+$/.test(id)
      ? `${stationLabel(st)} aboard ${ship(id)}` : all))
    .replace(/\bgunner:(\d+)/g, (_, n) => `Gunner ${Number(n) + 1}`)
    .replace(/\b(s\d+)\b/g, (all, id) => (shipNames.has(id) ? ship(id) : all));
}
