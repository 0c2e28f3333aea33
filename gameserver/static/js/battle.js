// The battle screen: joins over the WebSocket, keeps the latest public state the server sent, and
// renders the status strip, the tactical board (ships + range ladders), the station panel (only
// the legal actions the server offers), the live log and the GM panel. Every change comes from the
// server: snapshots and events in, intents out.
import { chatPanel } from "./chat.js";
import { getBattle, getGmExport, getLog, getWeapons, verifyBattle } from "./api.js";
import { h, humanMessage, label, replace, stationLabel } from "./dom.js";
import { renderActions } from "./actions.js";
import { yourMoveAlerts } from "./alerts.js";
import { renderBoard } from "./board.js";
import { botTactic } from "./bots.js";
import { renderGm as drawGm } from "./gm.js";
import { logEntry } from "./log.js";
import { resultCard } from "./result.js";
import { battleSummary } from "./summary.js";
import { awaitingKeys, initiativeOf, shipsOf, sidesOf } from "./model.js";
import { BattleClient, retryLater } from "./protocol.js";
import { loadSeat, saveSeat } from "./storage.js";
import { sideColour } from "./lobby.js";

const STEPS = ["manoeuvre", "attack", "actions"];
/** ms the GM's page waits for the batches to settle before asking for its stations' options */
const LEGAL_SETTLE_MS = 120;
/** ms before asking again after the server refused an ask (rate limit: 10 a second) */
const LEGAL_RETRY_MS = 1000;

/**
 * Enter a battle: connect, join with the seat stored for it, and render.
 * @param {HTMLElement} root
 * @param {string} battleId
 * @param {{toast: (msg: string, kind?: string) => void, setTopbar: (node: Node | null) => void,
 *   setConnection: (state: string, text: string) => void, leave: () => void}} ctx
 * @returns {{close: () => void}}
 */
export function enterBattle(root, battleId, ctx) {
  const seat = loadSeat(battleId);
  const join = { battle_id: battleId, role: seat.role ?? "spectator", name: seat.name ?? "" };
  if (seat.role === "gm") join.gm_token = seat.gm_token;
  if (seat.role === "player") {
    join.ship_id = seat.ship_id;
    join.stations = seat.stations ?? [];
  }
  if (seat.resume_token) join.resume_token = seat.resume_token;

  const view = {
    state: /** @type {any} */ (null),
    seq: 0,
    awaiting: /** @type {any[]} */ ([]),
    isOver: false,
    joined: /** @type {any} */ (null),
    presence: /** @type {any} */ (null),
    table: /** @type {any} */ (null),
    /** @type {Map<string, any>} legal commands per "ship/station" */
    legal: new Map(),
    /** @type {Map<number, any>} event dicts by seq, for the log */
    log: new Map(),
    code: seat.code ?? "",
    name: "",
    /** sides the server's bot plays (its stations are not the GM's to run) */
    botSides: /** @type {string[]} */ ([]),
    /** stations the GM took from us ("Pilot aboard Beowulf"), shown until we pick another */
    released: /** @type {string[]} */ ([]),
    /** the weapon table (max band per kind), to say why a gunner has no shot */
    weapons: /** @type {any} */ (null),
    /** our last action and the events it caused (the result card), until the next one */
    mine: /** @type {{command: any, after: number, seqs: Set<number>, ids: Set<number>, events: any[]} | null} */ (null),
  };
  /** "ship/station" -> seq of the `legal` the GM last asked for (no duplicate requests) */
  const asked = new Map();
  /** The pending (debounced or retry) ask for the GM's station options. */
  let legalTimer = /** @type {ReturnType<typeof setTimeout> | undefined} */ (undefined);
  /** Set when the page leaves the battle: nothing is scheduled after that. */
  let closed = false;
  let stationKey = "";
  let npcKey = "";

  // Stable skeleton; each region re-renders on its own so focus and scroll survive updates.
  const status = h("section.panel.area-status", { "aria-label": "Round and initiative", testid: "status-panel" });
  const board = h("section.panel.area-board", { "aria-labelledby": "board-h", testid: "board" });
  // tabindex -1: where focus goes when the control that had it is replaced (see dom.replace).
  const station = h("section.panel.area-station", { "aria-labelledby": "station-h", testid: "station-panel", tabindex: "-1" });
  // tabindex 0: a scrollable region the keyboard can reach and scroll (arrows, Page Up/Down).
  const logList = h("ol.log", { testid: "battle-log", "aria-live": "polite", "aria-relevant": "additions", "aria-label": "Battle log", tabindex: "0" });
  const logPanel = h("section.panel.area-log", { "aria-labelledby": "log-h", testid: "log-panel" },
    h("header", null, h("h2", { id: "log-h" }, "Battle log"), h("span.muted.mono", { testid: "log-seq" }, "")),
    // Bookkeeping (a turn starts, a station is done, no reaction) can hide: what happened stays.
    h("label.check.log-filter", null, h("input", {
      type: "checkbox", testid: "log-quiet", checked: localStorage.getItem("tvtt-log-quiet") === "on",
      onChange: (e) => {
        localStorage.setItem("tvtt-log-quiet", e.target.checked ? "on" : "off");
        logList.classList.toggle("quiet", e.target.checked);
        showLast();
      },
    }), " Hide bookkeeping lines"),
    logList);
  const chat = chatPanel({
    send: (to, text) => client.request({ type: "chat", to, text }),
  });
  logPanel.append(chat.root);
  logList.classList.toggle("quiet", localStorage.getItem("tvtt-log-quiet") === "on");
  const gm = h("section.panel.area-gm", { "aria-labelledby": "gm-h", testid: "gm-panel", hidden: true, tabindex: "-1" });
  // data-seq: the last seq whose batch is complete here (state, awaiting and log all applied);
  // it moves only at the end of a batch, never in the middle of one.
  // Below desktop width the log panel scrolls out of sight: a strip pinned to the bottom of the
  // screen repeats the newest lines (aria-hidden: the log itself is the live region).
  const strip = h("div.last-events", { testid: "last-events", "aria-hidden": "true" });
  const battleView = h("div.battle", { testid: "battle-view", dataset: { battleId, seq: "" } }, status, board, station, logPanel, gm, strip);
  replace(root, battleView);

  const client = new BattleClient({ join });

  const alerts = yourMoveAlerts({
    baseTitle: () => `${view.name || "Battle"} — Traveller VTT`,
    focusTarget: () => (view.joined?.role === "gm" ? gm : station),
  });

  /** What is awaited of us, in words ("" when nothing): our held stations, or the GM's NPCs. */
  const awaitedOfUs = () => {
    if (!view.state || view.isOver) return "";
    const names = shipNames();
    const pairs = view.joined?.role === "gm"
      ? npcStations().filter(([shipId]) => !(gmPrefs.autoPass && playerShips().has(shipId)))
      : heldStations().filter(([shipId, stn]) => awaitingKeys(view.awaiting).has(`${shipId}/${stn}`));
    return pairs.map(([shipId, stn]) => `${stationLabel(stn)} aboard ${names.get(shipId) ?? shipId}`).join(", ");
  };

  const render = () => {
    renderTopbar();
    renderStatus();
    if (view.state) renderBoard(board, view.state, view.awaiting, view.joined, view.botSides);
    renderStation();
    renderGm();
    alerts.update(awaitedOfUs());
  };

  const renderTopbar = () => {
    const sc = view.state?.scenario;
    const name = view.name || (typeof sc === "string" ? sc : sc?.name) || "Battle";
    const link = `${location.origin}/?join=${encodeURIComponent(view.code)}`;
    ctx.setTopbar(h("div.topbar-battle", null,
      h("span.battle-title", { testid: "battle-title" }, name),
      view.code ? h("span.chip", { title: "Join code" }, "Code ", h("strong", { testid: "join-code-display" }, view.code)) : null,
      view.code ? h("button.btn.btn-small.btn-ghost", {
        type: "button", testid: "copy-link",
        onClick: async () => {
          try {
            await navigator.clipboard.writeText(link);
            ctx.toast("Join link copied.");
          } catch {
            ctx.toast(`Share this link: ${link}`);
          }
        },
      }, "Copy join link") : null,
      h("span.chip", { testid: "my-role" }, roleText()),
    ));
  };

  const roleText = () => {
    const j = view.joined;
    if (!j) return "joining…";
    if (j.role === "player" && !(j.stations ?? []).length) return "Spectator";
    if (j.role === "player") {
      const ship = shipsOf(view.state).find((s) => s.id === j.ship_id);
      return `${(j.stations ?? []).map(stationLabel).join(", ")} · ${ship?.name ?? j.ship_id}`;
    }
    return j.role === "gm" ? "GM" : label(j.role);
  };

  const renderStatus = () => {
    const st = view.state;
    if (!st) {
      replace(status, h("p.muted", null, "Waiting for the battle state…"));
      return;
    }
    const ships = new Map(shipsOf(st).map((s) => [s.id, s]));
    const sideIdx = new Map(sidesOf(st).map((s, i) => [s.id, i]));
    const awaitingShips = new Set((view.awaiting ?? []).map(([shipId]) => shipId));
    const waiting = (view.awaiting ?? []).map(([shipId, stn]) => {
      return h("li", { dataset: { ship: shipId, station: stn } }, `${ships.get(shipId)?.name ?? shipId} ${stationLabel(stn)}`);
    });
    const step = String(st.step ?? "").toLowerCase();
    const outcome = st.outcome;
    replace(status, h("div.status-strip", null,
      h("span.round", { testid: "round" }, st.ruleset === "CE" ? "Turn " : "Round ", h("strong", null, String(st.round ?? 0))),
      st.ruleset === "CE"
        // CE (RULES §3.A): no steps; each ship's whole crew acts on its turn
        ? h("span.muted", { testid: "steps" }, "Cepheus Engine: ships act in initiative order")
        : h("ol.steps", { "aria-label": "Step", testid: "steps" }, STEPS.map((s) => h("li", { "aria-current": s === step ? "step" : false }, label(s)))),
      h("div", null,
        h("span.field-label", { id: "init-h" }, "Initiative"),
        h("ol.initiative", { "aria-labelledby": "init-h", testid: "initiative" }, initiativeOf(st).map((id, i) => {
          const ship = ships.get(id);
          return h("li", { "aria-current": awaitingShips.has(id) ? "true" : false, style: { "--side-colour": sideColour(sideIdx.get(ship?.side) ?? 0) } },
            h("span.ord", { "aria-hidden": "true" }, String(i + 1)), ship?.name ?? id,
            ship?.initiative !== undefined ? h("span.muted.mono", null, ` ${ship.initiative}`) : null);
        }))),
      outcome || view.isOver
        ? h("div.ending", null, h("p.outcome", { testid: "outcome", role: "status" }, outcomeText(outcome, st)), diceBadge(),
          battleSummary([...view.log.keys()].sort((a, b) => a - b).map((q) => view.log.get(q)), st))
        : h("div.awaiting-box", { testid: "awaiting" }, h("span.muted", null, "Awaiting: "),
          waiting.length ? h("ul.awaiting-list", { testid: "awaiting-list" }, waiting) : h("span.awaiting", null, "the GM"),
          turnClock, turnTimer),
    ));
    tickClock();
  };

  // The turn clock: how long the table has waited for the stations awaited now (this page's
  // clock, from the batch that made them awaited; a reload starts it again).
  const turnClock = h("span.turn-clock.mono", { testid: "turn-clock", title: "How long the table has waited for this move" });
  let clockKey = "";
  let clockSince = Date.now();
  const tickClock = () => {
    const key = JSON.stringify(view.awaiting);
    if (key !== clockKey) {
      clockKey = key;
      clockSince = Date.now();
    }
    const s = Math.floor((Date.now() - clockSince) / 1000);
    turnClock.textContent = ` ${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
    tickTimer();
  };

  // The GM's turn timer: the server says how many seconds the awaited stations have left (at
  // zero it passes them itself, as events); the page counts down from its own clock.
  const turnTimer = h("span.turn-timer.mono", { testid: "turn-timer", hidden: true, role: "timer", "aria-label": "Time left for this move" });
  /** @type {{seq: number, left: number | null, at: number}} */
  let timer = { seq: -1, left: null, at: 0 };
  const tickTimer = () => {
    const on = timer.left !== null && timer.seq === view.seq && !view.isOver;
    turnTimer.hidden = !on;
    if (!on) return;
    const s = Math.max(0, Math.ceil(Number(timer.left) - (Date.now() - timer.at) / 1000));
    turnTimer.textContent = `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")} left`;
    turnTimer.classList.toggle("low", s <= 10);
  };
  const clockTimer = setInterval(tickClock, 1000);

  // After the end the seed is revealed: the server checks every die against the commitment and
  // the page shows the verdict (docs/protocol.md, "Fair dice"). Asked once per battle.
  let diceVerdict = null;
  let diceAsked = false;
  const diceBadge = () => {
    if (!diceAsked) {
      diceAsked = true;
      verifyBattle(battleId)
        .then((v) => { diceVerdict = v; renderStatus(); })
        .catch(() => { diceVerdict = { verified: false, reason: "could not be checked" }; renderStatus(); });
    }
    if (!diceVerdict) return h("span.badge.muted", { testid: "dice-verified" }, "checking dice…");
    return diceVerdict.verified
      ? h("span.badge.ok", { testid: "dice-verified", title: diceVerdict.reason }, "dice verified")
      : h("span.badge.warn", { testid: "dice-verified", title: diceVerdict.reason }, "dice not verified");
  };

  const outcomeText = (outcome, st) => {
    if (!outcome) return "The battle is over.";
    if (typeof outcome === "string") return `Battle over: ${label(outcome)}`;
    const side = sidesOf(st).find((s) => s.id === outcome.winner);
    if (side) return `Battle over — ${side.name} win${outcome.reason ? ` (${label(outcome.reason)})` : ""}.`;
    return `Battle over — ${label(outcome.result ?? outcome.reason ?? "draw")}.`;
  };

  const heldStations = () => {
    const j = view.joined;
    if (!j || j.role !== "player") return [];
    return (j.stations ?? []).map((stn) => [j.ship_id, stn]);
  };

  /**
   * While our ship acts in the Actions step, ask for the options of our held stations the table
   * is not waiting for (once per seq): the server pushes only the awaited ones, yet an engineer
   * with nothing to repair may still overload the drive or shed load then.
   */
  const askIdleLegal = (awaited) => {
    if (view.state?.step !== "actions" || view.isOver) return;
    for (const [shipId, stn] of heldStations()) {
      const key = `${shipId}/${stn}`;
      if (stn !== "engineer" || awaited.has(key) || view.state?.acting_ship !== shipId) continue;
      if (view.legal.get(key)?.seq === view.seq || asked.get(key) === view.seq) continue;
      asked.set(key, view.seq);
      client.request({ type: "legal", ship_id: shipId, station: stn }).catch(() => asked.delete(key));
    }
  };

  const renderStation = () => {
    const j = view.joined;
    if (!j) {
      replace(station, h("header", null, h("h2", { id: "station-h" }, "Station")), h("p.muted", null, "Joining…"));
      return;
    }
    if (j.role !== "player" || !(j.stations ?? []).length) {
      const released = view.released.length ? releasedNotice() : null;
      const key = JSON.stringify([j.role, view.isOver, view.released]);
      if (key === stationKey && station.childElementCount) return;
      stationKey = key;
      replace(station, h("header", null, h("h2", { id: "station-h" }, j.role === "gm" ? "Game master" : "Spectating")),
        released,
        view.isOver ? overNotice() : h("p.muted", null, j.role === "gm"
          ? "You run the table: advance steps, make rulings and undo from the GM panel."
          : "You see the public battle state and the log."));
      return;
    }
    const awaited = awaitingKeys(view.awaiting);
    const ship = shipsOf(view.state).find((s) => s.id === j.ship_id);
    askIdleLegal(awaited);
    const seats = heldStations().map(([shipId, stn]) => {
      const key = `${shipId}/${stn}`;
      const legal = view.legal.get(key);
      // Only options computed for the state we show: an older list may name a shot already
      // fired or a step already over (the server sends a fresh list after every change).
      const current = legal?.seq === view.seq;
      return { shipId, stn, key, isAwaited: awaited.has(key), commands: current ? legal.commands ?? [] : [], legalSeq: current ? legal.seq : -1 };
    });
    // Re-render only when the options or the state drawn change (not on presence updates); the
    // picks themselves are remembered across redraws by actions.js.
    const key = JSON.stringify([view.state?.seq, ship?.name, j.stations, view.isOver, !!view.weapons, view.mine?.events.length ?? -1, seats.map((x) => [x.key, x.isAwaited, x.legalSeq])]);
    if (key === stationKey && station.childElementCount) return;
    stationKey = key;
    replace(station,
      h("header", null, h("h2", { id: "station-h" }, "Your station"),
        h("span.station-id", { testid: "my-station" }, `${(j.stations ?? []).map(stationLabel).join(", ")} · ${ship?.name ?? j.ship_id}`)),
      view.isOver ? null : alerts.controls(),
      view.mine ? resultCard(view.mine, shipNames()) : null,
      view.isOver ? overNotice() : seats.map((x) => renderActions({
        shipId: x.shipId, station: x.stn, state: view.state, commands: x.commands,
        isAwaited: x.isAwaited, loading: x.isAwaited && x.legalSeq < 0, weapons: view.weapons,
        send: (command) => sendOwn(command),
      })));
    station.dataset.seq = String(view.seq);
  };

  const overNotice = () => h("p.notice", { testid: "station-over", role: "status" },
    "The battle is over: no more actions. The log keeps every roll.");

  /** The GM took our station(s): say which, and offer the seat picker (no dead end). */
  const releasedNotice = () => h("div.notice.warn", { testid: "station-released" },
    h("p", { style: { margin: "0 0 8px" } },
      `The GM released your station (${view.released.join(", ")}). You are watching as a spectator now.`),
    view.code && !view.isOver
      ? h("a.btn.btn-primary", { href: `/?join=${encodeURIComponent(view.code)}`, testid: "pick-seat" }, "Pick another seat")
      : null);

  /** Ship id -> name, for turning the server's ids into the table's words. */
  const shipNames = () => new Map(shipsOf(view.state).map((s) => [s.id, s.name]));

  /** Awaited stations the GM runs: nobody connected holds them and the bot does not run the ship. */
  const npcStations = () => {
    if (view.joined?.role !== "gm" || !view.state || view.isOver) return [];
    const held = new Set((view.presence?.claims ?? []).filter((c) => c.connected).map((c) => `${c.ship_id}/${c.station}`));
    const ships = new Map(shipsOf(view.state).map((s) => [s.id, s]));
    return (view.awaiting ?? [])
      .filter(([shipId, stn]) => !held.has(`${shipId}/${stn}`) && !botTactic(ships.get(shipId), view.botSides));
  };

  /** Ships with a connected player: their other stations are idle crew, not NPCs to run. */
  const playerShips = () => new Set((view.presence?.claims ?? []).filter((c) => c.connected).map((c) => c.ship_id));

  /** Idle crew of player ships pass by themselves: a table rule the server applies (it passes
   * them as events, whether or not this page is open); the page only switches it. */
  const gmPrefs = { get autoPass() { return Boolean(view.table?.idle_crew_pass); } };
  const setAutoPass = (on) => {
    client.request({ type: "table", idle_crew_pass: on }).catch((err) => ctx.toast(err.message, "error"));
  };

  /** Ask the server for the options of every station the GM runs (once per seq). */
  const askNpcLegal = () => {
    legalTimer = undefined;
    for (const [shipId, stn] of npcStations()) {
      const key = `${shipId}/${stn}`;
      if (view.legal.get(key)?.seq === view.seq || asked.get(key) === view.seq) continue;
      asked.set(key, view.seq);
      client.request({ type: "legal", ship_id: shipId, station: stn }).catch((err) => {
        asked.delete(key);
        // Refused for speed (or sent while reconnecting): ask again, else the list stays
        // "Loading…" until the next event, and with the GM's turn awaited none comes.
        if (retryLater(err)) scheduleNpcLegal(LEGAL_RETRY_MS);
      });
    }
  };
  /**
   * Ask once the batches settle: the bot plays several batches a second, and asking for every
   * GM station at each would spend the connection's rate limit on options nobody sees.
   * @param {number} [delay]
   */
  const scheduleNpcLegal = (delay = LEGAL_SETTLE_MS) => {
    clearTimeout(legalTimer);
    if (closed) return; // a request refused by the closed client must not retry forever
    legalTimer = setTimeout(askNpcLegal, delay);
  };

  /** A player's own action: its events (and a shot's later resolution) fill the result card. */
  const sendOwn = async (command) => {
    view.mine = { command, after: view.seq, seqs: new Set(), ids: new Set(), events: [] };
    try {
      const ack = await sendCommand(command);
      if (!view.mine || view.mine.command !== command) return ack;
      for (const seq of ack?.seqs ?? []) view.mine.seqs.add(seq);
      for (const seq of view.mine.seqs) noteMine(view.log.get(seq));
      renderStation();
      return ack;
    } catch (e) {
      if (view.mine?.command === command) view.mine = null;
      throw e;
    }
  };

  /** Add an event to the result card when our last action caused it (or resolves our shot). */
  const noteMine = (event) => {
    const mine = view.mine;
    if (!mine || !event || event.seq <= mine.after || mine.events.some((e) => e.seq === event.seq)) return false;
    const ours = mine.seqs.has(event.seq)
      || (["attack_resolved", "attack_lost"].includes(event.type) && mine.ids.has(event.data?.id));
    if (!ours) return false;
    if (event.type === "attack_declared" && event.data?.id !== undefined) mine.ids.add(event.data.id);
    mine.events.push(event);
    mine.events.sort((x, y) => x.seq - y.seq);
    return true;
  };

  const sendCommand = async (command) => {
    try {
      return await client.command(command);
    } catch (e) {
      ctx.toast(humanMessage(e.message ? sentence(e.message) : label(e.code ?? "error"), shipNames()), "error");
      throw e;
    }
  };

  const renderGm = () => {
    const j = view.joined;
    const isGm = !!(j && j.role === "gm");
    root.querySelector(".battle")?.classList.toggle("is-gm", isGm);
    station.hidden = isGm;
    gm.hidden = !isGm;
    if (gm.hidden) return;
    const names = new Map(shipsOf(view.state).map((s) => [s.id, s.name]));
    const npc = npcStations().map(([shipId, stn]) => {
      const legal = view.legal.get(`${shipId}/${stn}`);
      return { shipId, station: stn, name: names.get(shipId) ?? shipId, commands: legal?.seq === view.seq ? legal.commands : null };
    });
    const ready = npc.every((x) => x.commands !== null);
    // As for players: redraw only when the options or the state drawn change.
    const key = JSON.stringify([view.seq, view.state?.seq, ready, view.isOver, npc.map((x) => [x.shipId, x.station, x.commands !== null])]);
    const npcChanged = key !== npcKey;
    npcKey = key;
    // Drawn synchronously: the GM panel must always show the latest of these renders.
    drawGm(gm, {
      state: view.state,
      presence: view.presence,
      table: view.table,
      battleId,
      npc: npcChanged ? { seq: view.seq, ready, stations: npc, isOver: view.isOver, playerShips: playerShips() } : null,
      autoPass: gmPrefs.autoPass,
      setAutoPass,
      botSides: view.botSides,
      isOver: view.isOver,
      seq: view.seq,
      recent: [...view.log.keys()].sort((a, b) => b - a).slice(0, 100).map((q) => view.log.get(q)),
      send: sendCommand,
      request: (msg) => client.request(msg),
      download: () => downloadLog(),
      gmToken: seat.gm_token ?? "",
      toast: ctx.toast,
    });
  };

  const downloadLog = async () => {
    try {
      const text = await getGmExport(battleId, seat.gm_token ?? "");
      const blob = new Blob([text], { type: "application/json" });
      const a = h("a", { href: URL.createObjectURL(blob), download: `battle-${battleId}-seq${view.seq}.json` });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
    } catch (e) {
      ctx.toast(`Cannot download the battle: ${e.message}`, "error");
    }
  };

  const addLog = (event, fresh) => {
    if (!event || view.log.has(event.seq)) return;
    view.log.set(event.seq, event);
    if (noteMine(event) && fresh) stationKey = "";
    const li = logEntry(event, fresh, (id) => shipsOf(view.state).find((s) => s.id === id));
    // Keep seq order even when history arrives after live events.
    const after = [...logList.children].find((el) => Number(/** @type {HTMLElement} */ (el).dataset.seq) > event.seq);
    logList.insertBefore(li, after ?? null);
    if (fresh) logList.scrollTop = logList.scrollHeight;
    showLast();
  };

  /** The newest two log lines in the strip (of those shown in the log). */
  const showLast = () => {
    const last = [...logList.children].filter((li) => getComputedStyle(li).display !== "none").slice(-2);
    replace(strip, last.map((li) => h("p", { dataset: { seq: /** @type {HTMLElement} */ (li).dataset.seq } },
      h("span.seq", null, `#${/** @type {HTMLElement} */ (li).dataset.seq}`), " ",
      li.querySelector(".summary")?.textContent ?? "")));
  };
  // The strip steps aside while the log panel itself is on screen.
  if ("IntersectionObserver" in window) {
    new IntersectionObserver((entries) => {
      for (const entry of entries) battleView.classList.toggle("log-in-view", entry.isIntersecting);
    }).observe(logPanel);
  }

  /** Fill the log with the events before our snapshot (aria-busy: not read out one by one). */
  const loadHistory = async () => {
    logList.setAttribute("aria-busy", "true");
    try {
      const events = await getLog(battleId);
      const list = Array.isArray(events) ? events : events.events ?? [];
      for (const e of list) if (e.seq <= view.seq) addLog(e, false);
      logList.scrollTop = logList.scrollHeight;
    } catch {
      // The history is a convenience; live events still arrive.
    } finally {
      logList.removeAttribute("aria-busy");
      if (view.isOver) renderStatus(); // the summary counts the whole log
    }
  };

  client.addEventListener("status", (e) => {
    const { state, reason } = /** @type {CustomEvent} */ (e).detail;
    const text = { joined: "live", open: "joining", connecting: "connecting", reconnecting: "reconnecting", closed: "offline" }[state] ?? state;
    ctx.setConnection(state, reason && state !== "joined" ? `${text} — ${reason}` : text);
  });
  client.addEventListener("joined", (e) => {
    const msg = /** @type {CustomEvent} */ (e).detail;
    view.joined = msg;
    chat.setRecipients(chatRecipients());
    view.code = msg.join_code ?? view.code;
    view.name = msg.name ?? "";
    view.botSides = msg.bot_sides ?? [];
    saveSeat(battleId, {
      code: view.code,
      ...(msg.resume_token ? { resume_token: msg.resume_token } : {}),
      ...(msg.role === "player" ? { ship_id: msg.ship_id, stations: msg.stations } : {}),
    });
    render();
  });
  const showSeq = () => {
    /** @type {HTMLElement} */ (logPanel.querySelector('[data-testid="log-seq"]')).textContent = `seq ${view.seq}`;
  };

  client.addEventListener("snapshot", (e) => {
    const msg = /** @type {CustomEvent} */ (e).detail;
    view.seq = msg.seq;
    showSeq();
    view.state = msg.view; // the public view (the GM's full `state` is for tools, not the page)
    view.awaiting = msg.awaiting ?? [];
    view.isOver = !!msg.is_over;
    battleView.dataset.seq = String(view.seq);
    render();
    scheduleNpcLegal();
    // A snapshot also comes after a reconnect that was too far behind: fill the log's gap too.
    loadHistory();
  });
  client.addEventListener("event", (e) => {
    const msg = /** @type {CustomEvent} */ (e).detail;
    view.seq = msg.seq;
    addLog(msg.event, true);
    showSeq();
    if (msg.view) {
      // The last event of a batch carries who may act now and the public view after the
      // batch: the batch is complete, nothing is fetched.
      view.state = msg.view;
      view.awaiting = msg.awaiting ?? [];
      view.isOver = msg.view.outcome !== null && msg.view.outcome !== undefined;
      battleView.dataset.seq = String(view.seq);
      render();
      scheduleNpcLegal();
    }
  });
  client.addEventListener("legal", (e) => {
    const msg = /** @type {CustomEvent} */ (e).detail;
    view.legal.set(`${msg.ship_id}/${msg.station}`, msg);
    if (view.joined?.role === "gm") renderGm();
    else renderStation();
  });
  client.addEventListener("table", (e) => {
    view.table = /** @type {CustomEvent} */ (e).detail;
    npcKey = ""; // redraw the list: stations that now pass themselves leave it
    renderGm();
  });
  client.addEventListener("timer", (e) => {
    const msg = /** @type {CustomEvent} */ (e).detail;
    timer = { seq: Number(msg.seq), left: msg.seconds_left ?? null, at: Date.now() };
    tickTimer();
  });
  client.addEventListener("chat", (e) => {
    chat.add(/** @type {CustomEvent} */ (e).detail.lines ?? []);
  });
  /** Players and spectators talk to the table or whisper to the GM; the GM whispers to anyone. */
  const chatRecipients = () => {
    const options = [{ value: "table", label: "Table" }];
    if (view.joined?.role !== "gm") return [...options, { value: "gm", label: "GM (whisper)" }];
    for (const peer of view.presence?.peers ?? []) {
      if (peer.role === "gm" || peer.peer_id === view.joined?.peer_id) continue;
      options.push({ value: peer.peer_id, label: `${peer.name || "Someone"} (whisper)` });
    }
    return options;
  };
  client.addEventListener("presence", (e) => {
    view.presence = /** @type {CustomEvent} */ (e).detail;
    chat.setRecipients(chatRecipients());
    scheduleNpcLegal();
    renderGm();
  });
  client.addEventListener("problem", (e) => {
    const msg = /** @type {CustomEvent} */ (e).detail;
    if (msg.code === "station_released" && view.joined) {
      // The GM freed one of our stations: forget it so a reload does not try to take it back.
      const released = (view.joined.stations ?? []).filter((s) => msg.message.includes(` ${s} `));
      const left = (view.joined.stations ?? []).filter((s) => !released.includes(s));
      const ship = shipNames().get(view.joined.ship_id) ?? "your ship";
      const words = released.map((s) => `${stationLabel(s)} aboard ${ship}`);
      view.released = [...view.released, ...words];
      view.joined = { ...view.joined, stations: left };
      saveSeat(battleId, { stations: left, ...(left.length ? {} : { role: "spectator" }) });
      client.setJoin(left.length ? { stations: left } : { role: "spectator", ship_id: undefined, stations: [] });
      render();
      ctx.toast(`The GM released your station: ${words.join(", ") || "one of your stations"}.`, "warn");
      return;
    }
    ctx.toast(humanMessage(sentence(msg.message || label(msg.code)), shipNames()), "error");
  });
  client.addEventListener("ended", (e) => {
    const err = /** @type {CustomEvent} */ (e).detail;
    if (err.code === "kicked") saveSeat(battleId, { role: "spectator", stations: [], ship_id: undefined });
    replace(root, h("section.panel", { testid: "battle-ended" },
      h("header", null, h("h2", null, err.code === "kicked" ? "Removed from the battle" : "Battle closed")),
      h("p.notice.warn", { role: "alert" }, err.message),
      h("div.btns", { style: { "margin-top": "12px" } }, h("a.btn.btn-primary", { href: "/" }, "Back to the lobby"))));
  });
  client.addEventListener("shutdown", (e) => {
    ctx.toast(`${/** @type {CustomEvent} */ (e).detail.message} Reconnecting…`, "warn");
  });
  client.addEventListener("joinfailed", async (e) => {
    const err = /** @type {CustomEvent} */ (e).detail;
    // A refused seat is not ours: forget it, so the seat picker does not offer it back.
    if (err.code === "station_taken") saveSeat(battleId, { role: undefined, ship_id: undefined, stations: [] });
    let names = shipNames();
    if (!names.size || !view.code) {
      try {
        const battle = await getBattle(battleId);
        names = new Map(shipsOf(battle.state).map((s) => [s.id, s.name]));
        view.code ||= battle.join_code ?? "";
      } catch {
        /* ids stay unnamed ("that ship"); the link goes to the lobby */
      }
    }
    replace(root, h("section.panel", { testid: "join-failed" },
      h("header", null, h("h2", null, "Could not join")),
      h("p.notice.error", { role: "alert", testid: "join-error", dataset: { code: err.code } }, humanMessage(sentence(err.message), names)),
      h("div.btns", { style: { "margin-top": "12px" } },
        h("a.btn.btn-primary", { href: view.code ? `/?join=${encodeURIComponent(view.code)}` : "/", testid: "back-to-join" },
          "Pick another seat"))));
  });

  // The plot is drawn at the board's width (its text keeps its size): redraw after a resize.
  let resizeTimer = null;
  const onResize = () => {
    if (resizeTimer) clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => view.state && renderBoard(board, view.state, view.awaiting, view.joined, view.botSides), 150);
  };
  window.addEventListener("resize", onResize);

  render();
  client.connect();
  getWeapons().then((table) => {
    view.weapons = table;
    renderStation();
  }).catch(() => { /* without it a gunner out of range is only told to wait */ });
  return {
    close: () => {
      window.removeEventListener("resize", onResize);
      clearInterval(clockTimer);
      closed = true;
      clearTimeout(legalTimer);
      alerts.reset();
      client.close();
    },
  };
}

/** A server text as a sentence: capital first letter, final full stop. */
function sentence(text) {
  const t = String(text ?? "").trim();
  if (!t) return t;
  return `${t[0].toUpperCase()}${t.slice(1)}${/[.!?]$/.test(t) ? "" : "."}`;
}
