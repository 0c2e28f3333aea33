// One battle-log line per event: seq, the engine's one-line summary, and the dice it rolled
// (shown as die faces so everyone at the table sees the same roll).
import { h, label } from "./dom.js";

const GM_TYPES = /^(gm_|ruling|undo|house)/;

/** @param {any} event  the engine's Event.to_dict() @param {boolean} fresh  animate it */
export function logEntry(event, fresh) {
  const type = String(event.type ?? "");
  const kind = GM_TYPES.test(type) ? "gm" : /attack|hit|miss|damage|critical|missile|salvo/.test(type) ? "attack" : "other";
  const dice = Array.isArray(event.dice) ? event.dice : [];
  return h("li", {
    class: `kind-${kind}${fresh ? " fresh" : ""}`,
    dataset: { seq: String(event.seq), type },
    testid: `log-${event.seq}`,
  },
  h("span.seq", { "aria-hidden": "true" }, `#${event.seq}`),
  h("span.summary", null, event.summary || label(type)),
  dice.length
    ? h("span.dice", null,
      h("span.visually-hidden", null, `dice ${dice.join(", ")}`),
      dice.map((d) => h("span.die", { dataset: { face: String(d) }, "aria-hidden": "true" }, String(d))))
    : null);
}
