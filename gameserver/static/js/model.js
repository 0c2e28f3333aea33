// Read-only accessors over the battle's public view: the `PublicView` of gameserver/protocol.py
// (its JSON Schema is served at /api/protocol.json), sent in `snapshot.view` and on the last
// `event` frame of every batch. The page never computes a rule: it only reads what the server
// decided, in the one shape the server documents.

/** @returns {any[]} the ships, each with its `id`. */
export const shipsOf = (view) => view?.ships ?? [];

/** @returns {{id: string, name: string}[]} the sides, in the scenario's order. */
export const sidesOf = (view) => view?.sides ?? [];

/** @returns {{a: string, b: string, band: string, progress: number}[]} the band of every ship pair. */
export const rangesOf = (view) => view?.ranges ?? [];

/** @returns {any[]} missiles in flight: {id, launcher, target, missiles, launched_round, arrives_round, band}. */
export const salvosOf = (view) => view?.salvos ?? [];

/** Ship ids in initiative order (highest first). */
export const initiativeOf = (view) => view?.initiative_order ?? [];

/** Critical hits of a ship as [location, Severity] (the view lists only those above 0). */
export const critsOf = (ship) => Object.entries(ship?.criticals ?? {});

/** Stations awaited now, as "ship/station" keys. */
export function awaitingKeys(awaiting) {
  return new Set((awaiting ?? []).map(([ship, station]) => `${ship}/${station}`));
}

/** Hull bar level for colour: ok above 60%, mid above 30%, low below. */
export function hullLevel(hull, max) {
  const pct = max > 0 ? hull / max : 0;
  return pct > 0.6 ? "ok" : pct > 0.3 ? "mid" : "low";
}
