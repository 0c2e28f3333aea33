// The GM panel: run the stations nobody plays (the NPC ships: the same legal actions a player
// gets, or a pass), advance the step when players stall, make a house ruling (with a reason),
// undo the last events, download the battle (events JSON) and manage who holds which station.
// Each of these is an intent; the server records it as an event everyone sees in the log.
import { renderActions } from "./actions.js";
import { BOT_TACTICS, TACTIC_HELP, botTactic } from "./bots.js";
import { h, label, replace, stationLabel } from "./dom.js";
import { BANDS } from "./lobby.js";
import { rangesOf, shipsOf } from "./model.js";
import { followVolley, volleyControls } from "./volley.js";

/**
 * @typedef {{shipId: string, station: string, name: string, commands: any[] | null}} NpcStation
 *   an awaited station nobody connected holds; `commands` null while its options load
 */

/**
 * `recent`: the latest events, newest first (for undo).
 * @param {HTMLElement} root
 * @param {{state: any, presence: any, table: any, battleId: string, seq: number, recent: any[],
 *   npc: {seq: number, ready: boolean, stations: NpcStation[], isOver: boolean} | null, isOver?: boolean,
 *   botSides: string[], send: (cmd: any) => Promise<any>, request: (msg: any) => Promise<any>,
 *   download: () => void, gmToken: string, toast: (m: string, k?: string) => void}} ctx
 *   `npc` null: the stations the GM runs did not change (keep the GM's half-made choices)
 */
export function renderGm(root, ctx) {
  // Keep what the GM is typing: re-render only the parts fed by the server.
  let form = root.querySelector('[data-testid="gm-forms"]');
  if (!form) {
    form = gmForms(ctx);
    replace(root, h("header", null, h("h2", { id: "gm-h" }, "GM controls")),
      h("section.gm-npc", { testid: "gm-npc", "aria-labelledby": "gm-npc-h", dataset: { seq: "" } },
        h("h3", { id: "gm-npc-h" }, "Stations you run"),
        h("label.check", { title: "The server passes (or takes no reaction for) the stations nobody holds aboard a ship a player commands, as soon as they are awaited" },
          h("input", { type: "checkbox", testid: "gm-autopass", checked: ctx.autoPass, onChange: (e) => ctx.setAutoPass(e.target.checked) }),
          " Idle crew of player ships pass by themselves"),
        h("div.volley-report", { testid: "gm-volley" }),
        h("div", { testid: "gm-npc-list" }),
        h("div", { testid: "gm-bots" })),
      form,
      h("div", { testid: "gm-presence" }));
  }
  // The switch shows the table rule the server holds (another GM tab may change it).
  const autopass = /** @type {HTMLInputElement} */ (root.querySelector('[data-testid="gm-autopass"]'));
  if (autopass.checked !== Boolean(ctx.autoPass)) autopass.checked = Boolean(ctx.autoPass);
  const advance = /** @type {HTMLElement | null} */ (form.querySelector('[data-testid="gm-advance"]'));
  if (advance) labelAdvance(advance, ctx.state);
  const undoBox = /** @type {HTMLElement} */ (root.querySelector('[data-testid="gm-undo-box"]'));
  const undoKey = JSON.stringify([ctx.seq, ctx.state?.undo_available ?? 0, ctx.recent.length]);
  if (undoBox.dataset.key !== undoKey) {
    undoBox.dataset.key = undoKey;
    const old = /** @type {HTMLSelectElement | null} */ (undoBox.querySelector("select"));
    // Keep an event the GM picked on purpose while it is still on offer; otherwise the
    // default is the newest undoable event (a pick left from an older state would take back
    // everything since).
    const picked = old?.dataset.picked ? old.value : "";
    replace(undoBox, undoForm(ctx, picked));
  }
  const box = /** @type {HTMLElement} */ (root.querySelector('[data-testid="gm-ruling-box"]'));
  const ruling = /** @type {HTMLElement | null} */ (box.querySelector("form"));
  if (ruling?.dataset.targets !== rulingTargetsKey(ctx.state)) replace(box, rulingForm(ctx.state, (cmd, done) => send(ctx, cmd, done)));
  if (ctx.npc) drawNpc(/** @type {HTMLElement} */ (root.querySelector('[data-testid="gm-npc"]')), ctx.npc, ctx);
  drawBots(/** @type {HTMLElement} */ (root.querySelector('[data-testid="gm-bots"]')), ctx);
  replace(/** @type {HTMLElement} */ (root.querySelector('[data-testid="gm-presence"]')), presenceList(ctx));
  if (ctx.isOver !== undefined) settleEnding(root, Boolean(ctx.isOver), ctx.state);
}

/** After the end only what still makes sense stays enabled: the download, the seats, the table
 * and the chat. Advancing, ending, rulings and undo are refused once the dice are revealed. */
function settleEnding(root, over, state) {
  for (const id of ["gm-advance", "gm-end", "gm-ruling", "gm-undo", "gm-undo-to"]) {
    const control = /** @type {HTMLButtonElement | null} */ (root.querySelector(`[data-testid="${id}"]`));
    if (!control) continue;
    if (over) {
      if (!control.disabled) control.dataset.overDisabled = "1";
      control.disabled = true;
      control.title = "The battle is over";
    } else if (control.dataset.overDisabled) {
      delete control.dataset.overDisabled;
      control.disabled = false;
      control.title = id === "gm-end" ? END_TITLE : "";
      if (id === "gm-advance") labelAdvance(control, state);
    }
  }
}

/** Awaited stations without a connected player: the GM passes them or acts for them. */
function drawNpc(section, npc, ctx) {
  // data-seq names the state the options shown belong to, once all of them have arrived.
  section.dataset.seq = npc.ready ? String(npc.seq) : "";
  const list = /** @type {HTMLElement} */ (section.querySelector('[data-testid="gm-npc-list"]'));
  // Stations passed by themselves are not listed (the GM has nothing to do for them).
  const shown = ctx.autoPass ? npc.stations.filter((x) => !npc.playerShips.has(x.shipId)) : npc.stations;
  const passable = shown.filter((x) => passOf(x));
  replace(list, npc.isOver
    ? h("p.muted", { testid: "gm-npc-none" }, "The battle is over: no station acts any more.")
    : shown.length
      ? [passable.length > 1 ? passAll(passable, ctx) : null, volleyControls(shown, ctx), shown.map((x) => npcStation(x, ctx))]
      : h("p.muted", { testid: "gm-npc-none" }, "No station without a player is waiting: the players (or the bot) have the move."));
  followVolley(/** @type {HTMLElement} */ (section.querySelector('[data-testid="gm-volley"]')), npc, ctx);
}

/**
 * The ships the server's bot may run: one click hands a ship over at the tactic picked beside it
 * (standard unless changed), one click takes it back. Redrawn only when a ship's status or bot
 * changes, so a tactic being picked survives the battle's updates.
 */
function drawBots(box, ctx) {
  const ships = shipsOf(ctx.state).filter((s) => s.status === "active");
  const key = JSON.stringify([ctx.state?.outcome ? 1 : 0, ctx.botSides, ships.map((s) => [s.id, s.name, s.bot ?? null])]);
  if (box.dataset.key === key) return;
  box.dataset.key = key;
  if (!ships.length || ctx.state?.outcome) {
    replace(box);
    return;
  }
  const hand = async (ship, tactic, button) => {
    button.disabled = true;
    try {
      await ctx.send({ type: "gm_bot", ship_id: ship.id, tactic });
    } catch {
      button.disabled = false; // refused: the toast says why
    }
  };
  replace(box, h("h4.bot-h", { id: "gm-bots-h" }, "The bot"),
    h("ul.bot-ships", { "aria-labelledby": "gm-bots-h" }, ships.map((ship) => {
      const tactic = botTactic(ship, ctx.botSides);
      if (tactic) {
        const back = h("button.btn.btn-small", {
          type: "button", testid: `bot-off-${ship.id}`, "aria-label": `Take back ${ship.name} from the bot`,
          onClick: () => hand(ship, null, back),
        }, "Take back");
        return h("li.bot-ship", { testid: `bot-ship-${ship.id}`, dataset: { tactic } },
          h("span", null, h("strong", null, ship.name), ` · bot, ${tactic}`), back);
      }
      const pick = /** @type {HTMLSelectElement} */ (h("select", {
        id: `bot-tactic-${ship.id}`, testid: `bot-tactic-${ship.id}`, "aria-label": `Tactic for ${ship.name}`,
      }, BOT_TACTICS.map((t) => h("option", { value: t, selected: t === "standard", title: TACTIC_HELP[t] }, label(t)))));
      const on = h("button.btn.btn-small", {
        type: "button", testid: `bot-on-${ship.id}`, "aria-label": `Bot runs it: ${ship.name}`,
        title: "The server's bot plays every station of this ship from now on (an event in the log; undoable)",
        onClick: () => hand(ship, pick.value, on),
      }, "Bot runs it");
      return h("li.bot-ship", { testid: `bot-ship-${ship.id}` },
        h("span", null, h("strong", null, ship.name)), h("span.bot-pick", null, pick, on));
    })));
}

/** The one-click pass of a station: its end of step, or "no reaction" when it may react. */
const passOf = (x) => (x.commands ?? []).find((c) => c.type === "end_step" || c.type === "no_reaction");

/** One button for every listed station that can pass: the GM's "nothing to do here". */
function passAll(stations, ctx) {
  const button = h("button.btn.btn-small", {
    type: "button", testid: "npc-pass-all",
    onClick: async () => {
      button.disabled = true;
      const results = await Promise.allSettled(stations.map((x) => ctx.send(passOf(x).command)));
      if (results.every((r) => r.status === "rejected")) button.disabled = false;
    },
  }, `Pass all ${stations.length}`);
  return h("div.btns.npc-all", null, button);
}

/** Stations whose full options the GM unfolded (kept open across redraws). */
const unfolded = new Set();

/** One station the GM runs: a one-click pass (or "no reaction"), and the full options folded. */
function npcStation(x, ctx) {
  const memo = `${x.shipId}/${x.station}`;
  const commands = x.commands ?? [];
  const pass = passOf(x);
  const more = commands.some((c) => !["end_step", "no_reaction", "surrender"].includes(c.type));
  const title = `${x.name} · ${stationLabel(x.station)}`;
  const button = h("button.btn.btn-small", {
    type: "button",
    testid: "npc-pass",
    disabled: !pass,
    "aria-label": `${pass?.type === "no_reaction" ? "No reaction" : "Pass"}: ${title}`,
    onClick: async () => {
      button.disabled = true;
      try {
        await ctx.send(pass.command);
      } catch {
        button.disabled = false; // refused: the toast says why
      }
    },
  }, x.commands === null ? "Loading…" : pass?.type === "no_reaction" ? "No reaction" : "Pass");
  return h("div.npc-station", { testid: `npc-${x.shipId}-${x.station}`, dataset: { ship: x.shipId, station: x.station } },
    h("div.npc-head", null, h("strong", null, title), button),
    more
      ? h("details", {
        open: unfolded.has(memo),
        onToggle: (e) => (e.currentTarget.open ? unfolded.add(memo) : unfolded.delete(memo)),
      }, h("summary", null, "Act for this station…"), renderActions({
        shipId: x.shipId,
        station: x.station,
        title,
        state: ctx.state,
        commands,
        isAwaited: true,
        send: ctx.send,
      }))
      : null);
}

/** Send a GM command; `done` runs once the server accepted it (a refusal is toasted by send). */
async function send(ctx, cmd, done) {
  try {
    await ctx.send(cmd);
    done?.();
  } catch {
    /* toast shown by send */
  }
}

/** The advance button's words: a CE battle has no steps, the GM ends the turn instead. */
const END_TITLE = "End the battle now (a draw) and reveal its dice seed; it cannot be resumed afterwards";

function labelAdvance(button, state) {
  const ce = state?.ruleset === "CE";
  button.textContent = ce ? "End turn" : "Advance step";
  button.title = ce
    ? "Resolve the pending attack without more reactions, or end the turn for every ship still to act"
    : "Resolve the pending attack without more reactions, or end the current step for every ship";
}

function gmForms(ctx) {
  const run = (cmd, done) => send(ctx, cmd, done);
  const advance = h("button.btn.btn-warn", {
    type: "button", testid: "gm-advance",
    onClick: () => run({ type: "gm_advance" }),
  }, "Advance step");
  labelAdvance(advance, ctx.state);
  return h("div.gm-grid", { testid: "gm-forms" },
    h("div.btns", null,
      advance,
      h("button.btn", { type: "button", testid: "gm-download", onClick: () => ctx.download() }, "Download battle"),
      h("button.btn.btn-warn", {
        type: "button", testid: "gm-end",
        title: END_TITLE,
        onClick: () => {
          if (window.confirm("End the battle now and reveal its dice? It cannot be resumed.")) {
            run({ type: "gm_end", reason: "ended by the GM" });
          }
        },
      }, "End battle")),
    ctx.gmToken
      ? h("details", { testid: "gm-token-box" },
        h("summary", null, "GM token (to run this table from another browser)"),
        h("div.field", null,
          h("label", { for: "gm-token" }, "GM token — a secret: whoever has it is the GM"),
          h("input", { id: "gm-token", testid: "gm-token", readonly: true, value: ctx.gmToken, autocomplete: "off", spellcheck: "false" })))
      : null,
    h("div", { testid: "gm-undo-box" }),
    h("div", { testid: "gm-ruling-box" }, rulingForm(ctx.state, run)),
  );
}

/**
 * Undo back to a chosen event: the engine undoes a number of events, automatic ones included
 * (a step ending, a turn starting), so the GM picks the first event to take back from the log.
 * The newest undoable event is the default; the form says what goes and asks to confirm.
 * @param {string} picked  the event the GM chose before this redraw ("" for none)
 */
function undoForm(ctx, picked) {
  const available = Math.max(0, Number(ctx.state?.undo_available ?? 0));
  const events = ctx.recent.filter((e) => e.seq > ctx.seq - available);
  const keep = events.some((e) => String(e.seq) === picked);
  const select = /** @type {HTMLSelectElement} */ (h("select", {
    id: "gm-undo-to", testid: "gm-undo-to", "aria-describedby": "gm-undo-preview", disabled: !events.length,
    dataset: keep ? { picked: "1" } : {},
    onChange: () => {
      select.dataset.picked = "1";
      cancel();
      describe();
    },
  }, events.map((e) => h("option", { value: String(e.seq) }, `#${e.seq} ${e.summary || label(e.type)}`))));
  if (keep) select.value = picked;
  const preview = h("p.muted.small", { id: "gm-undo-preview", testid: "gm-undo-preview", "aria-live": "polite" });
  const count = () => (Number(select.value) ? ctx.seq - Number(select.value) + 1 : 0);
  const describe = () => {
    const n = count();
    const first = events.find((e) => String(e.seq) === select.value);
    preview.textContent = !n ? "Nothing to undo." : n === 1
      ? `Takes back 1 event: #${first?.seq} ${first?.summary ?? ""}`
      : `Takes back ${n} events: #${first?.seq} ${first?.summary ?? ""} and the ${n - 1} after it.`;
    preview.append(" The dice do not rewind.");
  };
  const undo = h("button.btn", { type: "submit", testid: "gm-undo", disabled: !events.length }, "Undo…");
  const confirm = h("button.btn.btn-warn", {
    type: "button", testid: "gm-undo-confirm", hidden: true,
    onClick: () => {
      const n = count();
      cancel();
      undo.focus(); // the confirm button hides: keep the keyboard here, not on <body>
      if (n) send(ctx, { type: "gm_undo", n });
    },
  }, "Confirm undo");
  const back = h("button.btn.btn-ghost", {
    type: "button", testid: "gm-undo-cancel", hidden: true,
    onClick: () => {
      cancel();
      undo.focus();
    },
  }, "Keep it");
  const cancel = () => {
    confirm.hidden = true;
    back.hidden = true;
    undo.hidden = false;
  };
  describe();
  return h("form", {
    testid: "gm-undo-form",
    onSubmit: (e) => {
      e.preventDefault();
      if (!count()) return;
      const n = count();
      confirm.textContent = `Confirm: undo ${n} event${n === 1 ? "" : "s"}`;
      undo.hidden = true;
      confirm.hidden = false;
      back.hidden = false;
      confirm.focus();
    },
  },
  h("div.field", null, h("label", { for: "gm-undo-to" }, "Undo back to (this event and all after it)"), select),
  preview,
  h("div.btns", { style: { "margin-top": "8px" } }, undo, confirm, back));
}

// What a house ruling may set (the engine's gm_ruling fields); the engine checks the values.
const SHIP_FIELDS = [
  ["hull", "Hull"], ["armour", "Armour"], ["thrust_pool", "Thrust pool"], ["initiative", "Initiative"],
  ["status", "Status"], ["missile_reserve", "Missile reserve"], ["sand_reserve", "Sand reserve"],
];
const LOCATIONS = ["sensors", "power_plant", "fuel", "weapon", "armour", "hull", "m_drive", "cargo", "j_drive", "crew", "computer"];
const STATUSES = ["active", "wrecked", "surrendered", "escaped"];

/** A ship's stations as the view shows them: its crew's and one gunner per turret. */
function stationsOf(ship) {
  const turrets = (ship.turrets ?? []).map((_, i) => `gunner:${i}`);
  return [...new Set([...(ship.crew ?? []).map((c) => c.station), ...turrets])];
}

/** Ships and pairs the ruling form offers; the form is rebuilt only when they change. */
export function rulingTargetsKey(state) {
  return JSON.stringify([shipsOf(state).map((s) => [s.id, s.name]), rangesOf(state).map((r) => [r.a, r.b])]);
}

/** House ruling: which ship, pair or the battle; which value; the new value; the reason. */
function rulingForm(state, run) {
  const ships = shipsOf(state);
  const names = new Map(ships.map((s) => [s.id, s.name ?? s.id]));
  const target = h("select", { id: "gm-ruling-target", testid: "gm-ruling-target" },
    ships.map((s) => h("option", { value: `ship:${s.id}` }, s.name ?? s.id)),
    rangesOf(state).map((r) => h("option", { value: `pair:${r.a}|${r.b}` }, `Range ${names.get(r.a) ?? r.a} ↔ ${names.get(r.b) ?? r.b}`)),
    h("option", { value: "battle" }, "The battle"));
  const field = h("select", { id: "gm-ruling-field", testid: "gm-ruling-field" });
  const valueBox = h("div.field");
  const reason = h("input", { id: "gm-ruling-reason", testid: "gm-ruling-reason", required: true, maxlength: 300, placeholder: "Why (shown in the log)" });
  let value = /** @type {HTMLInputElement | HTMLSelectElement} */ (h("input"));

  const shipStations = () => {
    const t = /** @type {HTMLSelectElement} */ (target).value;
    const ship = ships.find((s) => `ship:${s.id}` === t);
    return ship ? stationsOf(ship) : [];
  };
  const drawValue = () => {
    const f = /** @type {HTMLSelectElement} */ (field).value;
    const cover = f.startsWith("cover:");
    const crewMove = f.startsWith("station:") || cover;
    // cover:<station>: whose crew member holds it as well ("" lets whoever holds it go)
    const others = shipStations().filter((st) => `station:${st}` !== f && `cover:${st}` !== f);
    const choices = f === "band" ? BANDS : f === "status" ? STATUSES : crewMove ? (cover ? ["", ...others] : others) : null;
    value = choices
      ? h("select", { id: "gm-ruling-value", testid: "gm-ruling-value" }, choices.map((c) => h("option", { value: c }, c === "" ? "nobody (let it go)" : crewMove ? stationLabel(c) : label(c))))
      : h("input", { id: "gm-ruling-value", testid: "gm-ruling-value", type: "number", required: true, min: f.startsWith("crit:") ? 0 : undefined, max: f.startsWith("crit:") ? 6 : undefined, style: { width: "7em" } });
    replace(valueBox, h("label", { for: "gm-ruling-value" }, "New value"), value);
  };
  const drawFields = () => {
    const t = /** @type {HTMLSelectElement} */ (target).value;
    const options = t.startsWith("pair:") ? [["band", "Range band"]]
      : t === "battle" ? [["round_limit", "Round limit"]]
        : [...SHIP_FIELDS, ...LOCATIONS.map((loc) => [`crit:${loc}`, `Critical: ${label(loc)} (Severity)`]),
          ...shipStations().map((st) => [`station:${st}`, `Crew: move the ${stationLabel(st)} to (swap)`]),
          ...shipStations().map((st) => [`cover:${st}`, `Crew: the ${stationLabel(st)} is held as well by`])];
    replace(field, options.map(([v, text]) => h("option", { value: v }, text)));
    drawValue();
  };
  target.addEventListener("change", drawFields);
  field.addEventListener("change", drawValue);
  drawFields();

  return h("form", {
    testid: "gm-ruling-form",
    dataset: { targets: rulingTargetsKey(state) },
    onSubmit: (e) => {
      e.preventDefault();
      const t = /** @type {HTMLSelectElement} */ (target).value;
      const f = /** @type {HTMLSelectElement} */ (field).value;
      const raw = value.value.trim();
      const picked = f.startsWith("cover:") && raw === "" ? null : raw;
      const cmd = { type: "gm_ruling", field: f, value: value.tagName === "SELECT" ? picked : Number(raw), reason: reason.value.trim() };
      if (t.startsWith("ship:")) cmd.ship_id = t.slice(5);
      if (t.startsWith("pair:")) cmd.pair = t.slice(5).split("|");
      run(cmd, () => {
        reason.value = "";
      });
    },
  },
  h("fieldset", null, h("legend", null, "House ruling"),
    // "Applies to" on a line of its own: "Range Beowulf ↔ Vengeance" needs the whole width.
    h("div.field", null, h("label", { for: "gm-ruling-target" }, "Applies to"), target),
    h("div.row", null,
      h("div.field", null, h("label", { for: "gm-ruling-field" }, "What"), field),
      valueBox),
    h("div.field", null, h("label", { for: "gm-ruling-reason" }, "Reason"), reason),
    h("div.btns", { style: { "margin-top": "8px" } }, h("button.btn", { type: "submit", testid: "gm-ruling" }, "Apply ruling"))));
}

function presenceList(ctx) {
  const p = ctx.presence;
  if (!p) return h("p.muted", null, "No presence information yet.");
  const names = new Map(shipsOf(ctx.state).map((s) => [s.id, s.name]));
  const release = async (shipId, station) => {
    try {
      await ctx.request({ type: "release", ship_id: shipId, station });
      ctx.toast(`${stationLabel(station)} aboard ${names.get(shipId) ?? shipId} released.`);
    } catch (e) {
      ctx.toast(`Cannot release: ${e.message}`, "error");
    }
  };
  const kick = async (peerId, name) => {
    try {
      await ctx.request({ type: "kick", peer_id: peerId });
      ctx.toast(`${name || "The player"} was removed; they cannot come back unless you let them.`);
    } catch (e) {
      ctx.toast(`Cannot kick: ${e.message}`, "error");
    }
  };
  return h("div", null,
    h("h2", { style: { margin: "6px 0" } }, "Stations held"),
    (p.claims ?? []).length
      ? h("ul.presence", { testid: "gm-claims" }, p.claims.map((c) => h("li", null,
        h("span", null, h("strong", null, `${names.get(c.ship_id) ?? c.ship_id} · ${stationLabel(c.station)}`),
          ` ${c.name || "anonymous"} `, h("span.muted", null, c.connected ? "online" : "offline")),
        h("button.btn.btn-small", {
          type: "button", testid: `release-${c.ship_id}-${c.station}`,
          onClick: () => release(c.ship_id, c.station),
        }, "Release"))))
      : h("p.muted", null, "Nobody holds a station yet."),
    h("h2", { style: { margin: "10px 0 6px" } }, "Connected"),
    h("ul.presence", { testid: "gm-peers" }, (p.peers ?? []).map((peer) => h("li", null,
      h("span", null, `${peer.name || "anonymous"} `, h("span.muted", null, `${peer.role === "gm" ? "GM" : label(peer.role)}${peer.ship_id ? ` · ${names.get(peer.ship_id) ?? peer.ship_id}` : ""}`)),
      peer.role !== "gm" ? h("button.btn.btn-small.btn-ghost", { type: "button", testid: `kick-${peer.peer_id}`, onClick: () => kick(peer.peer_id, peer.name) }, "Kick") : null))),
    tablePanel(ctx),
  );
}

/** Who may sit down: lock the table, cap the stations per player, let kicked players back. */
function tablePanel(ctx) {
  const t = ctx.table;
  if (!t) return null;
  const change = async (fields, done) => {
    try {
      await ctx.request({ type: "table", ...fields });
      ctx.toast(done);
    } catch (e) {
      ctx.toast(`Cannot change the table: ${e.message}`, "error");
    }
  };
  const unban = async (ban) => {
    try {
      await ctx.request({ type: "unban", ban_id: ban.ban_id });
      ctx.toast(`${ban.name || "The player"} may come back.`);
    } catch (e) {
      ctx.toast(`Cannot let them back: ${e.message}`, "error");
    }
  };
  const cap = h("input", { id: "gm-table-cap", type: "number", min: 0, max: 64, value: t.max_stations, testid: "table-cap" });
  const timer = h("input", { id: "gm-table-timer", type: "number", min: 0, max: 3600, value: t.turn_timer_s ?? 0, testid: "table-timer" });
  return h("section", { testid: "gm-table" },
    h("h2", { style: { margin: "10px 0 6px" } }, "The table"),
    h("div.field", null,
      h("label", null,
        h("input", {
          type: "checkbox", testid: "table-lock", checked: t.locked,
          onChange: (/** @type {Event} */ e) => {
            const locked = /** @type {HTMLInputElement} */ (e.target).checked;
            change({ locked }, locked ? "Table locked: no new players or spectators." : "Table open again.");
          },
        }),
        " Locked (no new players or spectators; seated players may come back)")),
    h("form.row", {
      onSubmit: (/** @type {Event} */ e) => {
        e.preventDefault();
        const n = Math.max(0, Math.min(64, Number(cap.value) || 0));
        change({ max_stations: n }, n ? `At most ${n} stations per player.` : "No limit on stations per player.");
      },
    },
    h("div.field", null, h("label", { for: "gm-table-cap" }, "Stations per player (0 = no limit)"), cap),
    h("div.btns", null, h("button.btn.btn-small", { type: "submit", testid: "table-cap-set" }, "Set"))),
    h("form.row", {
      onSubmit: (/** @type {Event} */ e) => {
        e.preventDefault();
        const n = Math.max(0, Math.min(3600, Math.round(Number(timer.value) || 0)));
        change({ turn_timer_s: n }, n ? `Turn timer: ${n} s, then the stations still to act pass.` : "Turn timer off.");
      },
    },
    h("div.field", null, h("label", { for: "gm-table-timer" }, "Turn timer in seconds (0 = off; at zero the stations still to act pass)"), timer),
    h("div.btns", null, h("button.btn.btn-small", { type: "submit", testid: "table-timer-set" }, "Set"))),
    t.bans.length
      ? h("ul.presence", { testid: "gm-bans" }, t.bans.map((ban) => h("li", null,
        h("span", null, `${ban.name || "anonymous"} `, h("span.muted", null, "kicked")),
        h("button.btn.btn-small", { type: "button", testid: `unban-${ban.ban_id}`, onClick: () => unban(ban) }, "Let back in"))))
      : h("p.muted", null, "Nobody is banned."));
}
