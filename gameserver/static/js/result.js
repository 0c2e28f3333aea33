// The result of your own action, shown next to the buttons you pressed: for a shot, hit or
// miss, the attack roll against 8+, the damage after armour and any critical with what it does;
// for anything else, what the engine recorded. It reads the events the server sent (their
// `data` itemises every roll); it never works a result out itself.
import { DM_NAMES } from "./actions.js";
import { h, label, signed } from "./dom.js";

/** Bookkeeping events that say nothing about the result (the next turn, a step ending...). */
const BOOKKEEPING = new Set(["station_done", "turn_started", "step_started", "round_started", "initiative_order", "reactions_lapsed"]);

/**
 * @param {{command: any, events: any[]}} mine  the command we sent and the events it caused
 *   (for a shot also its later resolution, once the target has reacted)
 * @param {Map<string, string>} names  ship id -> name
 * @returns {HTMLElement | null}
 */
export function resultCard(mine, names) {
  const shown = mine.events.filter((e) => !BOOKKEEPING.has(e.type));
  if (!shown.length) return null;
  const resolved = shown.filter((e) => e.type === "attack_resolved");
  const declared = shown.find((e) => e.type === "attack_declared");
  let body;
  let outcome = "done";
  if (resolved.length) {
    body = resolved.map((e) => shotResult(e, names));
    outcome = resolved.some((e) => e.data?.attack?.hit) ? "hit" : "miss";
  } else if (declared && !shown.some((e) => e.type === "attack_lost")) {
    const target = names.get(declared.data?.target) ?? "the target";
    body = h("p", null, `Shot declared at ${target}: waiting for ${target} to react.`);
    outcome = "pending";
  } else {
    body = h("ul.result-lines", null, shown.map((e) => h("li", null, e.summary || label(e.type))));
  }
  return h("section.result-card", {
    testid: "result-card",
    dataset: { outcome, seq: String(shown[shown.length - 1].seq) },
    role: "status",
    "aria-label": "Result of your last action",
  }, h("h4.result-title", null, title(outcome)), body);
}

function title(outcome) {
  return { hit: "Hit", miss: "Miss", pending: "Shot fired", done: "Done" }[outcome];
}

/** One resolved attack: the roll, the damage and the criticals, each line labelled. */
function shotResult(event, names) {
  const d = event.data ?? {};
  const a = d.attack ?? {};
  const target = names.get(d.target) ?? "the target";
  const dms = Object.entries(a.dms ?? {}).filter(([, v]) => Number(v) !== 0);
  const roll = [`2D ${a.roll}`, ...dms.map(([k, v]) => `${signed(v)} ${DM_NAMES[k] ?? label(k)}`)].join(" ");
  const boon = a.boon > 0 ? " (with Boon)" : a.boon < 0 ? " (with Bane)" : "";
  const lines = [
    h("li", { testid: "result-roll" },
      h("span.result-key", null, "Attack"), ` ${roll}${boon} = `, h("strong", null, String(a.total)), " vs 8+",
      a.hit ? ` — hits ${target}, Effect ${signed(a.effect)}` : ` — misses ${target}`),
  ];
  if (a.hit) {
    // The terms as the engine itemised them (dice, Effect, linked weapons, armour, mount).
    const terms = [
      `dice ${a.damage_roll}`, `Effect ${signed(a.effect)}`,
      (d.weapons ?? []).length > 1 ? `${d.weapons.length} weapons linked` : null,
      `armour ${signed(-Number(a.armour ?? 0))}`, a.multiple > 1 ? `mount ×${a.multiple}` : null,
    ].filter(Boolean).join(", ");
    lines.push(h("li", { testid: "result-damage" },
      h("span.result-key", null, "Damage"), ` ${terms} = `, h("strong", null, String(a.damage)),
      `; ${target}'s Hull now ${d.hull_after}`));
  }
  for (const c of d.criticals ?? []) {
    lines.push(h("li", { class: "result-crit" },
      h("span.result-key", null, "Critical"),
      ` ${label(c.location)} Severity ${c.previous ? `${c.previous} → ` : ""}${c.severity}`,
      c.extra_damage ? ` (+${c.extra_damage} damage)` : ""));
  }
  for (const note of d.effects ?? []) lines.push(h("li.result-effect", null, note));
  lines.push(h("li", null, h("a", {
    href: `#log-${event.seq}`, testid: "result-roll-card",
    // Open the roll card in the log (every die with its DMs) and take the reader there.
    onClick: (e) => {
      const card = document.querySelector(`[data-testid="roll-${event.seq}"]`);
      if (!(card instanceof HTMLDetailsElement)) return;
      e.preventDefault();
      card.open = true;
      card.scrollIntoView({ block: "nearest" });
      /** @type {HTMLElement | null} */ (card.querySelector("summary"))?.focus();
    },
  }, `Roll card #${event.seq} in the log`)));
  return h("ul.result-lines", { dataset: { hit: String(!!a.hit) } }, lines);
}
