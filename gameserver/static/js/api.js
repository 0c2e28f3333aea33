// HTTP side of the server (docs/protocol.md): presets, creating and importing battles, the
// battle summary used by the join screen, and the GM's event-log export.
import { ServerError } from "./protocol.js";

export async function call(method, path, body, headers = {}, raw = false) {
  const init = { method, headers: { Accept: "application/json", ...headers } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = typeof body === "string" ? body : JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    throw new ServerError("network", `Cannot reach the server (${e instanceof Error ? e.message : e}).`);
  }
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { message: text };
  }
  if (!res.ok) {
    // Server errors are {"error": code, "message": text}.
    const code = typeof data?.error === "string" ? data.error : data?.error?.code ?? `http_${res.status}`;
    const message = data?.message ?? data?.error?.message ?? `The server answered ${res.status} ${res.statusText}.`;
    throw new ServerError(code, message, data);
  }
  return raw ? text : data;
}

/** Preset ship catalogue: [{id, name, tons, hull, armour, thrust, turrets, stations}]. */
export const getPresets = () => call("GET", "/api/presets");

/** Create a battle from a scenario; returns {battle_id, code, gm_token, ...}. */
export const createBattle = (body) => call("POST", "/api/battles", body);

/** Import an exported events JSON as a new battle; returns like createBattle. */
export const importBattle = (eventsJson) => call("POST", "/api/battles/import", eventsJson);

/** Battle summary by id: public state, seq, awaiting, held stations (claims), bot sides. */
export const getBattle = (battleId) => call("GET", `/api/battles/${encodeURIComponent(battleId)}`);

/** The battle id a join code stands for: {battle_id}. */
export const findBattle = (code) => call("GET", `/api/join/${encodeURIComponent(code)}`);

/** The export: {battle_id, name, bot_sides, schema_version, events: [...]} (the save file). */
export const getLog = (battleId) => call("GET", `/api/battles/${encodeURIComponent(battleId)}/log`);

let weaponTable = null;
/** The weapon table {kind: {max_band, damage_dice, attack_dm, direct_fire}}, fetched once. */
export const getWeapons = () => (weaponTable ??= call("GET", "/api/weapons").catch((e) => {
  weaponTable = null;
  throw e;
}));

/** The GM's resumable save file as the server wrote it (raw text: JSON.parse would round every
 * integer beyond 2^53, and a resumed battle must get its numbers exactly): the log plus the
 * running battle's sealed seed. */
export const getGmExport = (battleId, gmToken) =>
  call("GET", `/api/battles/${encodeURIComponent(battleId)}/export`, undefined,
    { Authorization: `Bearer ${gmToken}` }, true);

/** After the end: {verified, dice, reason, seed} (the server's check of every die). */
export const verifyBattle = (battleId) => call("GET", `/api/battles/${encodeURIComponent(battleId)}/verify`);
