// The GM panel: run the stations nobody plays (the NPC ships: the same legal actions a player
// gets, or a pass), advance the step when players stall, make a house ruling (with a reason),
// undo the last events, download the battle (events JSON) and manage who holds which station.
// Each of these is an intent; the server records it as an event everyone sees in the log.
import { renderActions } from "./actions.js";
import { h, label, replace, stationLabel } from "./dom.js";
import { shipsOf } from "./model.js";

/**
 * @typedef {{shipId: string, station: string, name: string, commands: any[] | null}} NpcStation
 *   an awaited station nobody connected holds; `commands` null while its options load
 */

/**
 * @param {HTMLElement} root
 * @param {{state: any, presence: any, battleId: string,
 *   npc: {seq: number, ready: boolean, stations: NpcStation[]} | null,
 *   send: (cmd: any) => Promise<any>, request: (msg: any) => Promise<any>,
 *   download: () => void, toast: (m: string, k?: string) => void}} ctx
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
        h("div", { testid: "gm-npc-list" })),
      form,
      h("div", { testid: "gm-presence" }));
  }
  if (ctx.npc) drawNpc(/** @type {HTMLElement} */ (root.querySelector('[data-testid="gm-npc"]')), ctx.npc, ctx);
  const box = /** @type {HTMLElement} */ (root.querySelector('[data-testid="gm-presence"]'));
  replace(box, presenceList(ctx));
}

/** Awaited stations without a connected player: the GM passes them or acts for them. */
function drawNpc(section, npc, ctx) {
  // data-seq names the state the options shown belong to, once all of them have arrived.
  section.dataset.seq = npc.ready ? String(npc.seq) : "";
  const list = /** @type {HTMLElement} */ (section.querySelector('[data-testid="gm-npc-list"]'));
  replace(list, npc.stations.length
    ? npc.stations.map((x) => npcStation(x, ctx))
    : h("p.muted", { testid: "gm-npc-none" }, "No station without a player is waiting: the players (or the bot) have the move."));
}

/** One station the GM runs: a one-click pass (or "no reaction"), and the full options folded. */
function npcStation(x, ctx) {
  const commands = x.commands ?? [];
  const pass = commands.find((c) => c.type === "end_step" || c.type === "no_reaction");
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
      ? h("details", null, h("summary", null, "Act for this station…"), renderActions({
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

function gmForms(ctx) {
  const run = async (cmd, done) => {
    try {
      await ctx.send(cmd);
      done?.();
    } catch {
      /* toast shown by send */
    }
  };
  const undoN = h("input", { id: "gm-undo-n", type: "number", min: 1, max: 50, value: 1, testid: "gm-undo-n", style: { width: "5em" } });
  const path = h("input", { id: "gm-ruling-path", testid: "gm-ruling-path", placeholder: "ships.s1.hull" });
  const value = h("input", { id: "gm-ruling-value", testid: "gm-ruling-value", placeholder: "30" });
  const reason = h("input", { id: "gm-ruling-reason", testid: "gm-ruling-reason", placeholder: "Why (shown in the log)" });
  return h("div.gm-grid", { testid: "gm-forms" },
    h("div.btns", null,
      h("button.btn.btn-warn", { type: "button", testid: "gm-advance", onClick: () => run({ type: "gm_advance" }) }, "Advance step"),
      h("button.btn", { type: "button", testid: "gm-download", onClick: () => ctx.download() }, "Download battle")),
    h("form", {
      testid: "gm-undo-form",
      onSubmit: (e) => {
        e.preventDefault();
        run({ type: "gm_undo", n: Number(/** @type {HTMLInputElement} */ (undoN).value) || 1 });
      },
    }, h("div.row", null,
      h("div.field", null, h("label", { for: "gm-undo-n" }, "Undo last events"), undoN),
      h("div.field", null, h("button.btn", { type: "submit", testid: "gm-undo" }, "Undo")))),
    h("form", {
      testid: "gm-ruling-form",
      onSubmit: (e) => {
        e.preventDefault();
        const raw = /** @type {HTMLInputElement} */ (value).value.trim();
        let parsed;
        try {
          parsed = JSON.parse(raw);
        } catch {
          parsed = raw;
        }
        run({
          type: "gm_ruling",
          path: /** @type {HTMLInputElement} */ (path).value.trim(),
          value: parsed,
          reason: /** @type {HTMLInputElement} */ (reason).value.trim(),
        }, () => {
          /** @type {HTMLInputElement} */ (reason).value = "";
        });
      },
    },
    h("fieldset", null, h("legend", null, "House ruling"),
      h("div.row", null,
        h("div.field", null, h("label", { for: "gm-ruling-path" }, "What"), path),
        h("div.field", null, h("label", { for: "gm-ruling-value" }, "New value"), value)),
      h("div.field", null, h("label", { for: "gm-ruling-reason" }, "Reason"), reason),
      h("div.btns", { style: { "margin-top": "8px" } }, h("button.btn", { type: "submit", testid: "gm-ruling" }, "Apply ruling")))),
  );
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
  const kick = async (peerId) => {
    try {
      await ctx.request({ type: "kick", peer_id: peerId });
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
      peer.role !== "gm" ? h("button.btn.btn-small.btn-ghost", { type: "button", onClick: () => kick(peer.peer_id) }, "Kick") : null))),
  );
}
