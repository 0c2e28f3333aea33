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

// Saved fleets: the lobby's ships (designs and crews) under a name, in this browser only. The
// stored value is read as untrusted (another tab, an extension or a hand edit may have written
// anything): `readFleets` never throws, and the lobby checks every fleet before using it
// (`fleets.checkFleet`).
const FLEETS_KEY = "tvtt:fleets";
/** A stored value past this many characters is not read at all (a fleet is a few KB). */
export const FLEETS_MAX_CHARS = 512 * 1024;
export const FLEETS_MAX = 20;

/** The stored fleets as {name: fleet} (null prototype) and a problem to tell ("" when none). */
export function readFleets() {
  const fleets = Object.create(null);
  let raw;
  try {
    raw = localStorage.getItem(FLEETS_KEY);
  } catch {
    return { fleets, problem: "This browser's storage cannot be read: saved fleets are unavailable." };
  }
  if (raw === null) return { fleets, problem: "" };
  if (raw.length > FLEETS_MAX_CHARS) {
    return { fleets, problem: "The saved fleets in this browser are too large to be real: they were ignored." };
  }
  let data;
  try {
    data = JSON.parse(raw);
  } catch {
    return { fleets, problem: "The saved fleets in this browser could not be read (not JSON): they were ignored." };
  }
  if (!data || typeof data !== "object" || Array.isArray(data) || data.version !== 1
      || !data.fleets || typeof data.fleets !== "object" || Array.isArray(data.fleets)) {
    return { fleets, problem: "The saved fleets in this browser are not in a form this page knows: they were ignored." };
  }
  for (const name of Object.keys(data.fleets).slice(0, FLEETS_MAX)) fleets[name] = data.fleets[name];
  return { fleets, problem: "" };
}

/** Store the fleets ({name: fleet}); false when the browser refuses (full, private mode). */
export function writeFleets(fleets) {
  try {
    localStorage.setItem(FLEETS_KEY, JSON.stringify({ version: 1, fleets: { ...fleets } }));
    return true;
  } catch {
    return false;
  }
}
