// Read-only accessors over the engine's public view (`public_view(state)`, sent in snapshots).
// The page never computes a rule: it only reads what the server decided. These helpers exist so
// the views do not care whether a collection arrives as a list or a map keyed by id.

/** @returns {any[]} ships as a list, each with its `id`. */
export function shipsOf(state) {
  const ships = state?.ships ?? [];
  return Array.isArray(ships) ? ships : Object.entries(ships).map(([id, s]) => ({ id, ...s }));
}

/** @returns {any[]} sides as a list of {id, name}. */
export function sidesOf(state) {
  const sides = state?.sides ?? state?.scenario?.sides ?? [];
  const list = Array.isArray(sides) ? sides : Object.entries(sides).map(([id, s]) => ({ id, ...s }));
  if (list.length) return list;
  const seen = [...new Set(shipsOf(state).map((s) => s.side))];
  return seen.map((id) => ({ id, name: id }));
}

/** @returns {{a: string, b: string, band: string}[]} the range band of every ship pair. */
export function rangesOf(state) {
  const ranges = state?.ranges ?? [];
  if (Array.isArray(ranges)) {
    return ranges.map((r) => (Array.isArray(r)
      ? { a: r[0], b: r[1], band: r[2] }
      : { a: r.a ?? r.ships?.[0], b: r.b ?? r.ships?.[1], band: r.band ?? r.range }));
  }
  return Object.entries(ranges).map(([key, band]) => {
    const [a, b] = key.split(/[|:,/]|--/);
    return { a, b, band: typeof band === "string" ? band : band.band };
  });
}

/** Ship ids in initiative order (highest first). */
export function initiativeOf(state) {
  const order = state?.initiative_order ?? state?.initiative;
  if (Array.isArray(order)) return order.map((o) => (typeof o === "string" ? o : o.ship_id ?? o.id));
  return shipsOf(state)
    .filter((s) => s.initiative !== undefined && s.initiative !== null)
    .sort((x, y) => y.initiative - x.initiative)
    .map((s) => s.id);
}

/** Critical hits of a ship as [location, severity] with severity > 0. */
export function critsOf(ship) {
  const crits = ship?.crits ?? ship?.criticals ?? ship?.crit_severity ?? {};
  const list = Array.isArray(crits) ? crits.map((c) => (Array.isArray(c) ? c : [c.location, c.severity]))
    : Object.entries(crits);
  return list.filter(([, sev]) => Number(sev) > 0);
}

/** Stations awaited now, as "ship/station" keys. */
export function awaitingKeys(awaiting) {
  return new Set((awaiting ?? []).map((a) => (Array.isArray(a) ? `${a[0]}/${a[1]}` : `${a.ship_id}/${a.station}`)));
}

/** Hull bar level for colour: ok above 60%, mid above 30%, low below. */
export function hullLevel(hull, max) {
  const pct = max > 0 ? hull / max : 0;
  return pct > 0.6 ? "ok" : pct > 0.3 ? "mid" : "low";
}
