// The tactical plot: an SVG picture of the public view. Range in these rules is a band per ship
// pair, not a position, so the plot is a ladder per pair: the seven bands as columns, the pair's
// first ship at the left, the other in the column of their band (nudged by the progress made
// toward the next band), missiles in flight on the line between them with the round they hit.
// Tokens show the side (colour), the hull left (the ring), criticals, a wreck and who is acting.
// It draws only what the server sent; the ship cards and ladders below say the same in text.
import { label } from "./dom.js";
import { critsOf, rangesOf, salvosOf, shipsOf, sidesOf } from "./model.js";

const NS = "http://www.w3.org/2000/svg";
const BANDS = ["adjacent", "close", "short", "medium", "long", "very_long", "distant"];
const SHORT = ["Adj", "Close", "Short", "Med", "Long", "V.Long", "Dist"];
const SHORTER = ["Adj", "Cl", "Sh", "Med", "Lg", "VL", "Dist"]; // columns under 44 px (phones)
const HEAD = 26;
const ROW = 70;
const R = 16; // token radius

/** An SVG element with attributes and children. */
function s(tag, attrs, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v !== undefined && v !== null && v !== false) el.setAttribute(k, String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** Pairs to draw: enemies first (the ones that matter), then friends; ours before others. */
function pairs(view, mine) {
  const side = new Map(shipsOf(view).map((x) => [x.id, x.side]));
  const rank = (r) => (side.get(r.a) === side.get(r.b) ? 2 : 0) + (r.a === mine || r.b === mine ? 0 : 1);
  return rangesOf(view)
    .map((r) => (r.b === mine ? { ...r, a: r.b, b: r.a } : r))
    .sort((x, y) => rank(x) - rank(y));
}

function shipWords(ship, sideName, acting) {
  const bits = [`${ship.name} (${sideName})`, `hull ${ship.hull} of ${ship.hull_max}`];
  const crits = critsOf(ship);
  if (crits.length) bits.push(`criticals: ${crits.map(([loc, sev]) => `${label(loc)} ${sev}`).join(", ")}`);
  if (ship.status !== "active") bits.push(label(ship.status));
  if (acting) bits.push("acting now");
  return bits.join(", ");
}

/** One ship token: side colour, hull ring, critical count, wreck cross, acting halo. */
function token(ship, x, y, colour, acting, mine, hit) {
  const pct = ship.hull_max > 0 ? Math.max(0, Math.min(1, ship.hull / ship.hull_max)) : 0;
  const circ = 2 * Math.PI * (R + 4);
  const level = pct > 0.6 ? "ok" : pct > 0.3 ? "mid" : "low";
  const out = ship.status !== "active";
  const crits = critsOf(ship).length;
  const initials = ship.name.split(/\s+/).map((w) => w[0]).join("").slice(0, 2).toUpperCase();
  return s("g", { class: `token${out ? " out" : ""}${acting ? " acting" : ""}${mine ? " mine" : ""}${hit ? " hit" : ""}`, "data-ship": ship.id, "data-level": level },
    acting ? s("circle", { class: "halo", cx: x, cy: y, r: R + 9 }) : null,
    s("circle", { class: "hull-track", cx: x, cy: y, r: R + 4 }),
    s("circle", {
      class: "hull-ring", cx: x, cy: y, r: R + 4,
      "stroke-dasharray": `${(circ * pct).toFixed(1)} ${circ.toFixed(1)}`,
      transform: `rotate(-90 ${x} ${y})`,
    }),
    // A class per side, not a style attribute: the CSP refuses inline styles.
    s("circle", { class: `body side-${colour}`, cx: x, cy: y, r: R }),
    s("text", { class: "initials", x, y: y + 4, "text-anchor": "middle" }, initials),
    out ? s("path", { class: "wreck", d: `M${x - 10} ${y - 10}L${x + 10} ${y + 10}M${x + 10} ${y - 10}L${x - 10} ${y + 10}` }) : null,
    crits ? s("g", { class: "crit-badge" },
      s("circle", { cx: x + R, cy: y - R, r: 7 }),
      s("text", { x: x + R, y: y - R + 3.5, "text-anchor": "middle" }, String(crits))) : null);
}

/**
 * Draw the plot.
 * @param {any} view  the public view
 * @param {any[]} awaiting  (ship, station) pairs that may act now
 * @param {string | null} mine  our ship's id (players), drawn first in each of its pairs
 * @param {number} width  the width to draw at, in CSS pixels (text stays at its size: 390 px
 *   phones and 1920 px screens read the same letters; the SVG still scales if the box resizes)
 * @param {Set<string>} [hit]  ships whose hull dropped since the last drawing (a short flash)
 * @returns {SVGSVGElement}
 */
export function tacticalPlot(view, awaiting, mine, width, hit = new Set()) {
  const W = Math.round(Math.max(300, Math.min(960, width)));
  const LEFT = Math.min(120, Math.max(84, W * 0.18)); // the pair's first ship sits in this gutter
  const COL = (W - LEFT - 8) / BANDS.length;
  const ships = new Map(shipsOf(view).map((x) => [x.id, x]));
  const sides = sidesOf(view);
  const sideIdx = new Map(sides.map((x, i) => [x.id, i]));
  const colour = (ship) => (sideIdx.get(ship.side) ?? 0) % 4; // side-0 … side-3 in the CSS
  const sideName = (ship) => sides.find((x) => x.id === ship.side)?.name ?? ship.side;
  const acting = new Set((awaiting ?? []).map(([id]) => id));
  const rows = pairs(view, mine);
  const salvos = salvosOf(view);
  const height = HEAD + Math.max(1, rows.length) * ROW + 4;
  const words = [];

  const columns = BANDS.map((band, i) => s("g", { class: "band-col" },
    s("rect", { x: LEFT + i * COL, y: 0, width: COL, height, class: i % 2 ? "odd" : "even" }),
    s("text", { x: LEFT + (i + 0.5) * COL, y: 16, "text-anchor": "middle", class: "band-label" }, (COL < 44 ? SHORTER : SHORT)[i],
      s("title", null, label(band)))));

  const drawn = rows.map((r, row) => {
    const a = ships.get(r.a);
    const b = ships.get(r.b);
    if (!a || !b) return null;
    const band = BANDS.indexOf(String(r.band));
    const y = HEAD + row * ROW + ROW / 2 - 6;
    const ax = LEFT / 2;
    // Progress toward the next band nudges the token a little (at most a third of a column).
    const nudge = Math.min(COL / 3, Number(r.progress ?? 0) * 4);
    const bx = LEFT + (Math.max(0, band) + 0.5) * COL + nudge;
    const inFlight = salvos.filter((x) => (x.launcher === a.id && x.target === b.id) || (x.launcher === b.id && x.target === a.id));
    words.push(`${a.name} to ${b.name}: ${label(r.band)}${r.progress ? `, progress ${r.progress} toward the next band` : ""}`
      + inFlight.map((m) => `; ${m.missiles} missiles from ${ships.get(m.launcher)?.name} hit in round ${m.arrives_round}`).join(""));
    const missiles = inFlight.map((m) => {
      const span = Math.max(1, m.arrives_round - m.launched_round);
      const done = Math.max(0, Math.min(1, (Number(view.round) - m.launched_round) / span));
      const [fx, tx] = m.launcher === a.id ? [ax + R + 6, bx - R - 6] : [bx - R - 6, ax + R + 6];
      const mx = fx + (tx - fx) * (0.2 + 0.6 * done);
      const dir = tx > fx ? 1 : -1;
      return s("g", { class: "missile", "data-salvo": m.id },
        s("path", { d: `M${mx - 7 * dir} ${y - 4}L${mx + 5 * dir} ${y}L${mx - 7 * dir} ${y + 4}Z` }),
        s("text", { x: mx, y: y - 9, "text-anchor": "middle" }, `${m.missiles}× R${m.arrives_round}`));
    });
    return s("g", { class: "pair", "data-pair": `${a.id}|${b.id}`, "data-band": r.band },
      s("line", { class: "range-line", x1: ax + R + 5, y1: y, x2: bx - R - 5, y2: y }),
      missiles,
      token(a, ax, y, colour(a), acting.has(a.id), a.id === mine, hit.has(a.id)),
      s("text", { class: "ship-label", x: ax, y: y + R + 17, "text-anchor": "middle" }, a.name),
      token(b, bx, y, colour(b), acting.has(b.id), b.id === mine, hit.has(b.id)),
      s("text", { class: "ship-label", x: Math.min(W - 40, Math.max(LEFT + 36, bx)), y: y + R + 17, "text-anchor": "middle" }, b.name));
  });

  const ordered = [...ships.values()];
  const summary = [
    `Round ${view.round}, ${label(view.step)} step.`,
    ...ordered.map((x) => `${shipWords(x, sideName(x), acting.has(x.id))}.`),
    ...words.map((w) => `${w}.`),
  ].join(" ");
  return s("svg", {
    class: "plot", viewBox: `0 0 ${W} ${height}`, role: "img",
    "aria-labelledby": "plot-title plot-desc", "data-testid": "tactical-plot",
    "data-round": view.round, "data-salvos": salvos.length,
  },
  s("title", { id: "plot-title" }, "Tactical plot: range bands between the ships"),
  s("desc", { id: "plot-desc" }, summary),
  columns, drawn);
}
