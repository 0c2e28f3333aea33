// "Fire all of this ship's turrets at X", for the GM running an NPC ship: one click sends, for
// every turret of the ship whose gunner the GM runs and the table awaits, its best legal attack
// at X, taken as is from that station's own legal list (the server's). Turrets with no shot at X
// are left alone, and the report says which and why.
//
// A page feature, not a server command: each shot is the ordinary command a gunner would send,
// accepted or refused on its own, and the server needs to guarantee nothing about the whole.
// The shots go one at a time, each after the events of the last: a shot at a ship that can
// react makes the table wait for the defender (§11.B), so the next turret is awaited again only
// once the reactions are in, and the page sends it then. One command per batch also keeps a
// six-turret ship well inside the connection's rate limit (10 a second, bursts of 20).
import { getWeapons } from "./api.js";
import { bandTo, turretReach } from "./actions.js";
import { h, humanMessage, label, replace, stationLabel } from "./dom.js";
import { BANDS } from "./lobby.js";
import { shipsOf } from "./model.js";
import { retryLater } from "./protocol.js";

/** Legal entries that fire guns at a target (MgT2e, CE), and those that launch missiles. */
const GUNS = new Set(["attack", "ce_fire"]);
const MISSILES = new Set(["launch_missiles", "ce_launch"]);
/** A shot refused with `retryLater` was not taken: sent again after RETRY_MS, MAX_TRIES times. */
const RETRY_MS = 1000;
const MAX_TRIES = 3;

/**
 * @typedef {{station: string, command: any, what: string, tries?: number}} Shot
 * @typedef {{station: string, outcome: "fired" | "skipped" | "refused", text: string}} Line
 * @typedef {{battleId: string, shipId: string, ship: string, target: string, queue: Shot[],
 *   lines: Line[], busy: boolean, waiting: boolean, over: boolean}} Volley
 */

/** The volley under way or last fired (its report stays until the next one), or null. */
let volley = /** @type {Volley | null} */ (null);
/** The stations and context the GM panel drew last: what the next shot is judged against. */
let latest = /** @type {{npc: any, ctx: any, host: HTMLElement} | null} */ (null);
/** The target the GM picked per ship, kept across redraws. */
const picked = new Map();

const shipNames = (state) => new Map(shipsOf(state).map((s) => [s.id, s.name]));

/** The best legal shot of one station at `target`: its guns (the most weapons linked, then the
 * best DM the engine previewed), else its missiles; null when it has none at that ship. */
export function bestShot(commands, target) {
  const at = (commands ?? []).filter((c) => c.command?.target === target);
  const guns = at.filter((c) => GUNS.has(c.type));
  const pool = guns.length ? guns : at.filter((c) => MISSILES.has(c.type));
  const linked = (c) => (c.command.weapons ?? []).length;
  const dm = (c) => Number(c.preview?.total_dm ?? 0) + Math.sign(Number(c.preview?.boon ?? 0));
  return [...pool].sort((a, b) => linked(b) - linked(a) || dm(b) - dm(a))[0] ?? null;
}

/** The awaited gunner stations the GM runs, per ship with two turrets or more. */
function gunnersByShip(stations, state) {
  const ships = new Map(shipsOf(state).map((s) => [s.id, s]));
  const out = new Map();
  for (const x of stations) {
    if (!/^gunner:\d+$/.test(x.station) || (ships.get(x.shipId)?.turrets ?? []).length < 2) continue;
    if (!out.has(x.shipId)) out.set(x.shipId, []);
    out.get(x.shipId).push(x);
  }
  return out;
}

/**
 * The "Fire all turrets at…" control of every ship whose gunners the GM runs (two awaited or
 * more, one at least with a shot), for the GM panel's list of stations.
 * @param {any[]} stations  the awaited stations the GM runs (gm.js NpcStation)
 */
export function volleyControls(stations, ctx) {
  const out = [];
  for (const [shipId, gunners] of gunnersByShip(stations, ctx.state)) {
    if (gunners.length < 2) continue;
    const ship = shipsOf(ctx.state).find((s) => s.id === shipId);
    const loading = gunners.some((x) => x.commands === null);
    const targets = shipsOf(ctx.state).filter((s) => gunners.some((x) => bestShot(x.commands, s.id)));
    if (!loading && !targets.length) continue;
    const name = ship?.name ?? shipId;
    const chosen = targets.some((s) => s.id === picked.get(shipId)) ? picked.get(shipId) : targets[0]?.id;
    const select = /** @type {HTMLSelectElement} */ (h("select", {
      id: `volley-target-${shipId}`, testid: `volley-target-${shipId}`, disabled: loading,
      onChange: (e) => picked.set(shipId, e.target.value),
    }, targets.map((s) => h("option", { value: s.id, selected: s.id === chosen }, s.name ?? s.id))));
    const running = Boolean(volley && !volley.over);
    // aria-disabled, not disabled: a disabled button drops keyboard focus to <body>.
    const fire = h("button.btn.btn-small.btn-fire", {
      type: "submit", id: `volley-fire-${shipId}`, testid: `volley-fire-${shipId}`, dataset: { count: String(gunners.length) },
      "aria-disabled": loading || running ? "true" : undefined,
      title: "Each awaited turret fires its best legal shot at the target, one after the other; the others are left alone and the report says why",
    }, loading ? "Loading…" : running ? "Firing…" : `Fire all ${gunners.length} turrets`);
    out.push(h("form.volley", {
      testid: `volley-${shipId}`,
      onSubmit: (e) => {
        e.preventDefault();
        if (fire.getAttribute("aria-disabled") === "true" || !select.value) return;
        startVolley(shipId, select.value);
      },
    },
    h("fieldset", null, h("legend", null, `${name}: every turret at once`),
      h("div.volley-row", null,
        h("div.field", null, h("label", { for: `volley-target-${shipId}` }, `Target for all of ${name}'s turrets`), select),
        fire))));
  }
  return out;
}

/**
 * Called with every new list of the stations the GM runs: the volley goes on when its next
 * turret is awaited again (after the defender's reactions), and its report is drawn.
 * @param {HTMLElement} host  where the report lives (kept across redraws: a live region)
 */
export function followVolley(host, npc, ctx) {
  if (volley && volley.battleId !== ctx.battleId) volley = null; // another battle's volley
  latest = { npc, ctx, host };
  pump();
  drawReport();
}

async function startVolley(shipId, target) {
  if (volley && !volley.over) return;
  const weapons = await getWeapons().catch(() => null);
  if (!latest || (volley && !volley.over)) return;
  const state = latest.ctx.state;
  const names = shipNames(state);
  const ship = shipsOf(state).find((s) => s.id === shipId);
  const held = new Map((latest.ctx.presence?.claims ?? []).filter((c) => c.connected)
    .map((c) => [`${c.ship_id}/${c.station}`, c.name || "a player"]));
  /** @type {Volley} */
  const v = { battleId: latest.ctx.battleId, shipId, ship: ship?.name ?? shipId, target: names.get(target) ?? target, queue: [], lines: [], busy: false, waiting: false, over: false };
  (ship?.turrets ?? []).forEach((turret, t) => {
    const station = `gunner:${t}`;
    const x = latest?.npc.stations.find((y) => y.shipId === shipId && y.station === station);
    const best = x ? bestShot(x.commands, target) : null;
    if (best) v.queue.push({ station, command: best.command, what: shotText(best, turret, names) });
    else {
      const why = held.has(`${shipId}/${station}`)
        ? `${held.get(`${shipId}/${station}`)} plays it`
        : whyNoShot(state, ship, t, target, weapons, Boolean(x));
      v.lines.push({ station, outcome: "skipped", text: `${stationLabel(station)} did not fire: ${why}.` });
    }
  });
  volley = v;
  pump();
  drawReport();
  redrawControls();
}

/** Send the next shot when its turret is awaited; wait while a reaction is pending. */
function pump() {
  const v = volley;
  if (!v || v.over || v.busy || !latest) return;
  const { npc, ctx } = latest;
  while (v.queue.length) {
    const shot = v.queue[0];
    const awaited = !npc.isOver && npc.stations.some((y) => y.shipId === v.shipId && y.station === shot.station);
    if (!awaited && !npc.isOver && (ctx.state?.pending ?? []).length) {
      v.waiting = true; // the defender reacts first; the table awaits this turret again after
      return;
    }
    v.queue.shift();
    if (!awaited) {
      const why = npc.isOver ? "the battle ended first" : "its turn passed before it could fire";
      v.lines.push({ station: shot.station, outcome: "skipped", text: `${stationLabel(shot.station)} did not fire: ${why}.` });
      continue;
    }
    v.busy = true;
    v.waiting = false;
    let again = false;
    ctx.send(shot.command).then(
      () => v.lines.push({ station: shot.station, outcome: "fired", text: `${stationLabel(shot.station)} ${shot.what}.` }),
      (err) => {
        // Refused for speed or while reconnecting: the shot was not taken; try it again soon.
        again = retryLater(err) && (shot.tries = (shot.tries ?? 0) + 1) <= MAX_TRIES;
        if (again) {
          v.queue.unshift(shot);
          return;
        }
        const why = humanMessage(err?.message ?? label(err?.code ?? "error"), shipNames(ctx.state)).replace(/[.!?]$/, "");
        v.lines.push({ station: shot.station, outcome: "refused", text: `${stationLabel(shot.station)} was refused: ${why}.` });
      },
    ).finally(() => {
      const go = () => {
        v.busy = false;
        pump(); // the ack comes after the shot's events: `latest` is the state after it
        drawReport();
      };
      if (again) setTimeout(go, RETRY_MS);
      else go();
    });
    return;
  }
  v.over = true;
  v.waiting = false;
  redrawControls();
}

/** Stop before the next shot (the ones already fired stay fired). */
function stopVolley() {
  const v = volley;
  if (!v || v.over) return;
  for (const shot of v.queue) {
    v.lines.push({ station: shot.station, outcome: "skipped", text: `${stationLabel(shot.station)} did not fire: you stopped the volley.` });
  }
  v.queue = [];
  if (!v.busy) v.over = true;
  drawReport();
  redrawControls();
}

/** The Fire-all buttons say "Firing…" while a volley runs: redraw them when it starts or ends. */
function redrawControls() {
  for (const button of document.querySelectorAll('[data-testid^="volley-fire-"]')) {
    const running = Boolean(volley && !volley.over);
    const form = button.closest("form");
    const loading = /** @type {HTMLSelectElement | null} */ (form?.querySelector("select"))?.disabled;
    if (running || loading) button.setAttribute("aria-disabled", "true");
    else button.removeAttribute("aria-disabled");
    if (!loading) button.textContent = running ? "Firing…" : `Fire all ${/** @type {HTMLElement} */ (button).dataset.count} turrets`;
  }
}

/** What a shot does, in the table's words: "fired 3 beam lasers at Beowulf". */
function shotText(entry, turret, names) {
  const at = names.get(entry.command.target) ?? entry.command.target;
  const n = (entry.command.weapons ?? []).length;
  if (MISSILES.has(entry.type)) return `launched missiles${n > 1 ? ` from ${n} racks` : ""} at ${at}`;
  const kind = label(turret?.weapons?.[entry.command.weapons?.[0]]?.kind ?? "").toLowerCase();
  if (!kind) return `fired at ${at}`;
  return `fired ${n > 1 ? `${n} ${kind}s` : `a ${kind}`} at ${at}`;
}

/**
 * Why a turret has no shot at the target, in words, from what the view and the weapon table
 * show. It explains the server's verdict (no legal attack there); it decides nothing.
 * @param {boolean} awaited  whether the table awaits this gunner now
 */
export function whyNoShot(state, ship, t, target, weapons, awaited) {
  const turret = ship?.turrets?.[t];
  const station = `gunner:${t}`;
  const targetShip = shipsOf(state).find((s) => s.id === target);
  const tname = targetShip?.name ?? target;
  const crew = (ship?.crew ?? []).find((c) => c.station === station);
  const guns = turret?.weapons ?? [];
  if (!crew) return "nobody mans it";
  if (crew.able === false) return "its gunner is out of action";
  if (guns.some((w) => w.fired)) return "it already fired this step";
  if (guns.length && guns.every((w) => ["destroyed", "disabled"].includes(w.status))) return `its weapons are ${guns.every((w) => w.status === "destroyed") ? "destroyed" : "disabled"}`;
  if ((ship?.power?.offline ?? []).includes(`turret:${t}`)) return "the engineer took it offline";
  if ((ship?.power?.unpowered ?? []).includes(`turret:${t}`)) return "it has no power";
  const band = String(bandTo(state, ship?.id, target) ?? "");
  const reach = turretReach(turret, weapons);
  if (reach && band && BANDS.indexOf(band) > reach.band) return `${tname} is at ${label(band)} range; its ${reach.parts.join(", its ")} at most`;
  if (guns.length && guns.every((w) => /missile/.test(w.kind) && Number(w.ammo) <= 0)) return "its missile racks are empty";
  if ((ship?.done ?? []).includes(station)) return "it is done for this step";
  if (!awaited) return "it is not awaited now";
  return `it has no legal shot at ${tname} now (its own options say what it can do)`;
}

/** The report of the volley: a status line (announced) and one line per turret. The status
 * line exists from the GM panel's first draw on, empty until a volley: a live region has to be
 * there before its text changes for a screen reader to announce it. */
function drawReport() {
  const host = latest?.host;
  if (!host) return;
  let line = /** @type {HTMLElement | null} */ (host.querySelector('[data-testid="volley-status"]'));
  if (!line) {
    line = h("p.volley-status", { testid: "volley-status", role: "status" });
    host.replaceChildren(line, h("ul.volley-lines", { testid: "volley-lines" }), h("div.btns"));
  }
  const lines = /** @type {HTMLElement} */ (host.querySelector('[data-testid="volley-lines"]'));
  const buttons = /** @type {HTMLElement} */ (host.querySelector(".btns"));
  const v = volley;
  if (!v) {
    host.dataset.key = "";
    delete host.dataset.state;
    line.textContent = "";
    replace(lines);
    replace(buttons);
    return;
  }
  const fired = v.lines.filter((l) => l.outcome === "fired").length;
  const not = v.lines.length - fired;
  const status = v.over
    ? `${v.ship} fired ${fired} turret${fired === 1 ? "" : "s"} at ${v.target}${not ? `; ${not} did not (why below)` : ""}.`
    : v.waiting
      ? `${v.ship} fires at ${v.target}: ${fired} fired, waiting for ${v.target}'s reactions before the next.`
      : `${v.ship} fires at ${v.target}: ${fired} fired, ${v.queue.length + (v.busy ? 1 : 0)} to go.`;
  const key = JSON.stringify([status, v.lines.length]);
  if (host.dataset.key === key) return;
  host.dataset.key = key;
  line.textContent = status;
  host.dataset.state = v.over ? "done" : v.waiting ? "waiting" : "firing";
  const order = (l) => Number(l.station.split(":")[1]);
  replace(lines, [...v.lines].sort((a, b) => order(a) - order(b))
    .map((l) => h("li", { dataset: { station: l.station, outcome: l.outcome } }, l.text)));
  replace(buttons, v.over
    ? h("button.btn.btn-small.btn-ghost", {
      type: "button", testid: "volley-dismiss",
      onClick: () => {
        volley = null;
        drawReport();
      },
    }, "Dismiss the report")
    : h("button.btn.btn-small.btn-warn", { type: "button", testid: "volley-stop", onClick: stopVolley }, "Stop before the next shot"));
}
