// What the browser remembers per battle: the resume token that binds a claimed station to this
// browser (so a reload or reconnect gets it back and nobody else can take it), the GM token, and
// the last role/ship/station so a reload rejoins the same seat. localStorage survives reloads
// and is private to the browser profile — exactly the scope of "this player".
const PREFIX = "tvtt:battle:";

/** @typedef {{resume_token?: string, gm_token?: string, role?: string, ship_id?: string,
 *   stations?: string[], name?: string, code?: string}} Seat */

/** The seat this browser holds in a battle ({} when none). The server issues the resume token. */
export function loadSeat(battleId) {
  try {
    const seat = JSON.parse(localStorage.getItem(PREFIX + battleId) || "{}");
    return seat && typeof seat === "object" ? /** @type {Seat} */ (seat) : {};
  } catch {
    return {};
  }
}

/** @param {string} battleId @param {Partial<Seat>} fields */
export function saveSeat(battleId, fields) {
  const next = { ...loadSeat(battleId), ...fields };
  localStorage.setItem(PREFIX + battleId, JSON.stringify(next));
  return next;
}

/** Player's display name, shared across battles. */
export function loadName() {
  return localStorage.getItem("tvtt:name") || "";
}
export function saveName(name) {
  localStorage.setItem("tvtt:name", name);
}
