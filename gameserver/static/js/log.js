// One battle-log line per event: seq, the engine's one-line summary, and the dice it rolled
// (shown as die faces so everyone at the table sees the same roll). An event with a roll also
// gets a roll card anyone can audit: each roll labelled (attack 2D + DMs with their sources =
// total vs 8+, damage dice, checks with their target), folded in a <details> so a 69-dice salvo
// is one line until opened. Everything comes from the event's `data`, itemised by the engine.
import { DM_NAMES } from "./actions.js";
import { h, label, signed } from "./dom.js";

const GM_TYPES = /^(gm_|ruling|undo|house)/;
const DICE_SHOWN = 12;
const CHECK_KEYS = { check: "Check", tactics: "Tactics check", opposed: "Opposing check" };
// Opposed checks named for what they are (docking: §5.2 Dock; boarding: §13.4).
const CHECK_NAMES = {
  docking: { check: "Piloting", opposed: "Their pilot" },
  boarding: { check: "Boarders' Tactics", opposed: "Defenders' Tactics" },
};

/**
 * @param {any} event  the engine's Event.to_dict() @param {boolean} fresh  animate it
 * @param {(id: string) => any} [shipOf]  a ship of the public view (for terms the event leaves
 *   to the ship, e.g. the Thrust in initiative)
 */
export function logEntry(event, fresh, shipOf) {
  const type = String(event.type ?? "");
  const kind = GM_TYPES.test(type) ? "gm" : /attack|hit|miss|damage|critical|missile|salvo/.test(type) ? "attack" : "other";
  const dice = Array.isArray(event.dice) ? event.dice : [];
  const card = rollCard(event, shipOf);
  return h("li", {
    class: `kind-${kind}${fresh ? " fresh" : ""}`,
    dataset: { seq: String(event.seq), type },
    testid: `log-${event.seq}`,
    id: `log-${event.seq}`,
  },
  h("span.seq", { "aria-hidden": "true" }, `#${event.seq}`),
  h("span.summary", null, event.summary || label(type)),
  dice.length ? diceFaces(dice, DICE_SHOWN) : null,
  card);
}

/** Die faces (at most `limit`, then "+N more"), with the whole list for screen readers. */
function diceFaces(dice, limit = Infinity) {
  const shown = dice.slice(0, limit);
  return h("span.dice", null,
    h("span.visually-hidden", null, `dice ${dice.join(", ")}`),
    shown.map((d) => h("span.die", { dataset: { face: String(d) }, "aria-hidden": "true" }, String(d))),
    dice.length > shown.length ? h("span.more", { "aria-hidden": "true" }, `+${dice.length - shown.length} more`) : null);
}

/** The roll card of an event, or null when it rolled nothing the table needs to audit. */
export function rollCard(event, shipOf) {
  const d = event.data ?? {};
  const dice = Array.isArray(event.dice) ? event.dice : [];
  const rows = [];
  if (event.type === "attack_resolved" && d.attack) {
    const a = d.attack;
    const n = 2 + Math.abs(Number(a.boon) || 0);
    rows.push(rollRow("Attack", dice.slice(0, n), a.roll, dmTerms(a.dms, DM_NAMES), a.boon, a.total, 8,
      a.hit ? `hit, Effect ${signed(a.effect)}` : `miss, Effect ${signed(a.effect)}`));
    if (a.hit) {
      const terms = [["Effect", a.effect], ["Armour", -Number(a.armour ?? 0)]];
      rows.push(h("li", { dataset: { roll: "damage" } },
        h("span.roll-name", null, "Damage"), " ", diceFaces(dice.slice(n)), ` ${a.damage_roll}`,
        terms.map(([k, v]) => ` ${signed(v)} ${k}`).join(""),
        a.multiple > 1 ? ` × ${a.multiple} (mount)` : "", " = ", h("strong", null, String(a.damage)),
        d.hull_after !== undefined ? ` → Hull ${d.hull_after}` : ""));
    }
  } else if (event.type === "salvo_resolved") {
    rows.push(rollRow("Salvo attack", dice.slice(0, 2), d.roll,
      dmTerms(d.dms, { smart: "Smart", missiles: "Missiles", evasive: "Evasive action" }), 0, d.total, 8,
      d.hit ? `hit, Effect ${signed(d.effect)}` : `miss, Effect ${signed(d.effect)}`));
    if (d.hit && Array.isArray(d.damage_rolls)) {
      rows.push(h("li", { dataset: { roll: "damage" } },
        h("span.roll-name", null, "Damage"), ` per missile ${d.damage_rolls.join(", ")} = `,
        h("strong", null, String(d.damage)), d.hull_after !== undefined ? ` → Hull ${d.hull_after}` : "",
        h("details.all-dice", null, h("summary", null, `all ${dice.length - 2} damage dice`), diceFaces(dice.slice(2)))));
    }
  } else {
    let used = 0;
    if (event.type === "initiative_rolled") {
      // RULES Part A: initiative = 2D + Pilot skill + Thrust (+ the Tactics check's Effect);
      // the event itemises the roll and the Tactics check, the rest is the ship and its pilot.
      const t = d.tactics;
      const rest = Number(d.initiative) - Number(d.roll) - (t ? Number(t.effect) : 0);
      // The Thrust is the ship's rating (the event leaves it to the ship); the rest is the
      // pilot's skill DM (−3 unskilled).
      const thrust = Number(shipOf?.(String(d.ship))?.thrust_rating);
      const terms = Number.isFinite(thrust)
        ? ` ${signed(rest - thrust)} Pilot skill ${signed(thrust)} Thrust`
        : ` ${signed(rest)} Pilot skill and Thrust`;
      rows.push(h("li", { dataset: { roll: "initiative" } }, h("span.roll-name", null, "Initiative"), " 2D ",
        diceFaces(dice.slice(0, 2)), ` ${d.roll}${terms}`,
        t ? ` ${signed(t.effect)} Tactics Effect` : "", " = ", h("strong", null, String(d.initiative))));
      if (t) rows.push(checkRow("Tactics check", t, dice.slice(2, 4)));
      used = dice.length;
    }
    // an opposed check shows its deciding roll: each tie re-rolled both sides' 2D before it
    if (d.opposed && Number(d.rerolls) > 0) used = 4 * Number(d.rerolls);
    for (const [key, name] of Object.entries(CHECK_KEYS)) {
      const c = d[key];
      if (!c || typeof c !== "object" || c.roll === undefined || event.type === "initiative_rolled") continue;
      const n = d.opposed && d.damage_dice !== undefined ? 2 : Math.max(2, dice.length - used - (key === "check" && d.opposed ? 2 : 0));
      rows.push(checkRow(CHECK_NAMES[event.type]?.[key] ?? name, c, dice.slice(used, used + Math.min(n, 3))));
      used += Math.min(n, 3);
    }
    if (event.type === "boarding" && Number(d.damage) > 0) {
      // §13.4 read for MgT2e: the boarded ship's Hull damage, no armour
      const n = Number(d.damage_dice) || 0;
      rows.push(h("li", { dataset: { roll: "damage" } }, h("span.roll-name", null, "Damage"), " ",
        diceFaces(dice.slice(used, used + n)), " = ", h("strong", null, String(d.damage)), " (no armour)",
        d.hull_after !== undefined ? ` → Hull ${d.hull_after}` : ""));
      used += n;
    }
  }
  if (!rows.length) return null;
  for (const c of d.criticals ?? []) {
    rows.push(h("li", { dataset: { roll: "critical" } }, h("span.roll-name", null, "Critical"),
      ` ${label(c.location)} Severity ${c.previous ? `${c.previous} → ` : ""}${c.severity}`,
      c.source === "sustained" ? " (sustained damage)" : "", c.extra_damage ? ` (+${c.extra_damage} damage)` : ""));
  }
  for (const note of d.effects ?? []) rows.push(h("li", { dataset: { roll: "effect" } }, h("span.roll-name", null, "Effect"), ` ${note}`));
  return h("details.roll-card", { testid: `roll-${event.seq}`, dataset: { seq: String(event.seq) } },
    h("summary", null, `Roll card #${event.seq}`),
    h("ul.roll-rows", null, rows));
}

/** DMs other than 0 as [name, value], named the way the shot preview names them. */
function dmTerms(dms, names) {
  return Object.entries(dms ?? {}).filter(([, v]) => Number(v) !== 0).map(([k, v]) => [names[k] ?? label(k), Number(v)]);
}

function rollRow(name, dice, roll, terms, boon, total, target, outcome) {
  return h("li", { dataset: { roll: name.toLowerCase().replace(/\s+/g, "-") } },
    h("span.roll-name", null, name), ` ${2 + Math.abs(boon || 0)}D${boon > 0 ? " (Boon: best two)" : boon < 0 ? " (Bane: worst two)" : ""} `,
    diceFaces(dice), ` ${roll}`, terms.map(([k, v]) => ` ${signed(v)} ${k}`).join(""),
    " = ", h("strong", null, String(total)), ` vs ${target}+ — ${outcome}`);
}

function checkRow(name, c, dice) {
  const terms = [["skill", c.skill_dm], ["characteristic", c.characteristic_dm], ["other DMs", c.dm]].filter(([, v]) => Number(v) !== 0);
  return h("li", { dataset: { roll: "check" } },
    h("span.roll-name", null, name), " 2D ", diceFaces(dice), ` ${c.roll}`,
    terms.map(([k, v]) => ` ${signed(v)} ${k}`).join(""), " = ", h("strong", null, String(c.total)),
    ` vs ${c.target}+ — ${c.success ? "success" : "failure"}, Effect ${signed(c.effect)}`);
}
