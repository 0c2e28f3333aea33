// What the browser remembers per battle: the resume token that binds a claimed station to this
// browser (so a reload or reconnect gets it back and nobody else can take it), the GM token, and
// the last role/ship/station so a reload rejoins the same seat. localStorage survives reloads
// and is private to the browser profile — exactly the scope of "this player".
import { randomId } from "./protocol.js";

const PREFIX = "tvtt:battle:";

/** @typedef {{resume_token: string, gm_token?: string, role?: string, ship_id?: string,
 *   station?: string, name?: string, code?: string}} Seat */

/** @returns {Seat} */
export function loadSeat(battleId) {
  let seat = null;
  try {
    seat = JSON.parse(localStorage.getItem(PREFIX + battleId) || "null");
  } catch {
    seat = null;
  }
  if (!seat || typeof seat.resume_token !== "string") {
    seat = { resume_token: randomId(24) };
    saveSeat(battleId, seat);
  }
  return seat;
}

/** @param {string} battleId @param {Partial<Seat>} fields */
export function saveSeat(battleId, fields) {
  const current = (() => {
    try {
      return JSON.parse(localStorage.getItem(PREFIX + battleId) || "{}") || {};
    } catch {
      return {};
    }
  })();
  const next = { ...current, ...fields };
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
