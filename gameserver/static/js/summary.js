// The end-of-battle summary: per ship the shots it fired and hit, the damage it dealt and
// took, the criticals it caused, and the decisive moment (the hardest blow, with its roll
// card). Sums of what the log's events recorded; nothing here rolls or applies a rule.
import { h, label } from "./dom.js";

/**
 * @param {any[]} events  the whole log, in seq order
 * @param {any} view  the final public view
 * @returns {HTMLElement}
 */
export function battleSummary(events, view) {
  const ships = view?.ships ?? [];
  const names = new Map(ships.map((s) => [s.id, s.name]));
  const rows = new Map(ships.map((s) => [s.id, { shots: 0, hits: 0, dealt: 0, taken: 0, crits: 0 }]));
  const launcher = new Map();
  let decisive = null;
  const blow = (event, attacker, target, damage, crits) => {
    const from = rows.get(attacker);
    const to = rows.get(target);
    if (from) {
      from.dealt += damage;
      from.crits += crits;
    }
    if (to) to.taken += damage;
    if (damage > 0 && (!decisive || damage > decisive.damage)) decisive = { event, attacker, target, damage };
  };
  for (const e of events) {
    const d = e.data ?? {};
    if (e.type === "missiles_launched") launcher.set(d.id, d.launcher);
    if (e.type === "attack_resolved") {
      const row = rows.get(d.attacker);
      if (row) {
        row.shots += 1;
        row.hits += d.attack?.hit ? 1 : 0;
      }
      blow(e, d.attacker, d.target, d.attack?.hit ? Number(d.attack.damage) : 0, (d.criticals ?? []).length);
    }
    // boarders' damage to the boarded ship (§13.4) counts as dealt by the boarding ship
    if (e.type === "boarding" && Number(d.damage) > 0) blow(e, d.ship, d.target, Number(d.damage), (d.criticals ?? []).length);
    if (e.type === "salvo_resolved") {
      const from = launcher.get(d.id);
      const row = rows.get(from);
      if (row) {
        row.shots += 1;
        row.hits += d.hit ? 1 : 0;
      }
      blow(e, from, d.target, d.hit ? Number(d.damage) : 0, (d.criticals ?? []).length);
    }
  }
  const pct = (r) => (r.shots ? `${Math.round((100 * r.hits) / r.shots)}%` : "—");
  return h("section.summary", { testid: "battle-summary", "aria-labelledby": "summary-h", tabindex: "0" },
    h("h3", { id: "summary-h" }, "After-action report"),
    h("table.summary-table", null,
      h("thead", null, h("tr", null, ["Ship", "Shots", "Hits", "Hit rate", "Damage dealt", "Damage taken", "Criticals caused", "Hull", "Status"]
        .map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", null, ships.map((s) => {
        const r = rows.get(s.id);
        return h("tr", { testid: `summary-${s.id}` },
          h("th", { scope: "row" }, s.name), h("td", null, String(r.shots)), h("td", null, String(r.hits)),
          h("td", null, pct(r)), h("td", { testid: `dealt-${s.id}` }, String(r.dealt)),
          h("td", { testid: `taken-${s.id}` }, String(r.taken)), h("td", null, String(r.crits)),
          h("td", null, `${s.hull} / ${s.hull_max}`), h("td", null, label(s.status)));
      }))),
    decisive
      ? h("p", { testid: "decisive" }, h("strong", null, "Decisive moment: "),
        `${names.get(decisive.attacker) ?? "a ship"} hit ${names.get(decisive.target) ?? "a ship"} for ${decisive.damage} damage — `,
        h("a", { href: `#log-${decisive.event.seq}` }, `#${decisive.event.seq}`))
      : h("p.muted", { testid: "decisive" }, "No shot found its mark."));
}
