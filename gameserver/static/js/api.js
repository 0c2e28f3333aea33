// HTTP side of the server (docs/protocol.md): presets, creating and importing battles, the
// battle summary used by the join screen, and the GM's event-log export.
import { ServerError } from "./protocol.js";

async function call(method, path, body, headers = {}) {
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
    const err = data?.error ?? data ?? {};
    throw new ServerError(
      err.code ?? `http_${res.status}`,
      err.message ?? `The server answered ${res.status} ${res.statusText}.`,
      data,
    );
  }
  return data;
}

/** Preset ship catalogue: [{id, name, tons, hull, armour, thrust, turrets, stations}]. */
export const getPresets = () => call("GET", "/api/presets");

/** Create a battle from a scenario; returns {battle_id, code, gm_token, ...}. */
export const createBattle = (body) => call("POST", "/api/battles", body);

/** Import an exported events JSON as a new battle; returns like createBattle. */
export const importBattle = (eventsJson) => call("POST", "/api/battles/import", eventsJson);

/** Battle summary (by id or join code): ships, stations, who holds what. */
export const getBattle = (idOrCode) => call("GET", `/api/battles/${encodeURIComponent(idOrCode)}`);

/** Events JSON of a battle (the GM's save file). */
export const getLog = (battleId, gmToken) =>
  call("GET", `/api/battles/${encodeURIComponent(battleId)}/log`, undefined,
    gmToken ? { Authorization: `Bearer ${gmToken}` } : {});
