// The station panel's actions, built only from the server's `legal` list for this station (the
// engine's legal_commands: each entry has `type`, the ready-to-send `command`, a `label`, and
// where relevant `choices` and an attack `preview`). The page never offers an illegal action and
// never computes a rule: it groups entries of one type, lets the player pick among the values
// that vary (target, direction, turret, location...), shows the DM breakdown the engine
// previewed, and sends the chosen entry's command as is.
import { h, label, signed, stationLabel } from "./dom.js";
import { BANDS } from "./lobby.js";
import { rangesOf, shipsOf } from "./model.js";

const REACTIONS = new Set(["evasive_action", "sand", "point_defence", "no_reaction", "dodge", "fire_sand", "ce_point_defence", "trigger_screens"]);
const ORDER = [
  "evasive_action", "sand", "point_defence", "dodge", "fire_sand", "ce_point_defence", "trigger_screens", "no_reaction",
  "attack", "ce_fire", "launch_missiles", "ce_launch", "ce_pilot", "range_check", "sensor_targeting", "ce_captain", "ce_repair", "move", "dock", "aid_gunners", "sensor_lock", "electronic_warfare",
  "board", "boarding_action", "repair", "overload_plant", "overload_drive", "offline_system", "restore_system",
  "reload", "improve_initiative", "break_off", "plot_jump", "jump", "change_station", "hold_station", "end_step", "surrender",
];
const VERB = {
  attack: "Fire",
  ce_fire: "Fire",
  ce_launch: "Launch",
  dodge: "Dodge",
  fire_sand: "Fire sand",
  ce_point_defence: "Point defence",
  trigger_screens: "Trigger screens",
  range_check: "Range check",
  sensor_targeting: "Target",
  ce_repair: "Repair",
  launch_missiles: "Launch",
  move: "Engage thrust",
  aid_gunners: "Aid gunners",
  dock: "Dock",
  board: "Board",
  boarding_action: "Board",
  break_off: "Break off",
  evasive_action: "Evade",
  sand: "Cast sand",
  point_defence: "Point defence",
  no_reaction: "Take it",
  sensor_lock: "Lock on",
  electronic_warfare: "Jam",
  improve_initiative: "Improve initiative",
  repair: "Repair",
  reload: "Reload",
  plot_jump: "Plot jump",
  jump: "Jump out",
  overload_drive: "Overload drive",
  overload_plant: "Overload plant",
  offline_system: "Take offline",
  restore_system: "Bring online",
  change_station: "Move there",
  hold_station: "Hold both",
  end_step: "End step",
  surrender: "Surrender…",
};
const TITLE = {
  attack: "Fire weapons",
  ce_fire: "Fire the turret",
  ce_launch: "Launch smart missiles",
  ce_pilot: "Pilot action",
  range_check: "Range check (opposed Navigation)",
  sensor_targeting: "Sensor targeting",
  ce_captain: "Captain's order",
  ce_repair: "Damage control",
  dodge: "Dodge incoming fire",
  fire_sand: "Fire sand",
  ce_point_defence: "Point defence",
  trigger_screens: "Trigger screens",
  launch_missiles: "Launch missiles",
  move: "Manoeuvre",
  dock: "Dock (Average Piloting; an unwilling ship opposes, you at −2)",
  board: "Boarding action (opposed INT Tactics)",
  boarding_action: "Boarding action (opposed INT Tactics; adjacent or docked)",
  evasive_action: "Evasive action",
  sand: "Sandcaster",
  point_defence: "Point defence",
  no_reaction: "No reaction",
  sensor_lock: "Sensor lock",
  electronic_warfare: "Electronic warfare",
  repair: "Repair system",
  overload_drive: "Overload the M-Drive (Engineer 10+: +1 Thrust next round)",
  overload_plant: "Overload the power plant (Engineer 10+: +10% Power next round)",
  offline_system: "Shed load: take a system offline",
  restore_system: "Bring a system back online",
  change_station: "Take over a station nobody able holds (from next round)",
  hold_station: "Hold it as well as your own (MgT2e from next round, CE at once; DM −2 per extra task in a step or CE turn)",
  reload: "Reload",
  end_step: "Done for this step",
};
export const DM_NAMES = {
  gunner: "Gunner skill",
  dex: "DEX",
  range: "Range",
  weapon: "Weapon",
  fire_control: "Fire control",
  aid: "Pilot's aid",
  evasive: "Evasive action",
  called_shot: "Called shot",
  extra_tasks: "Another station this step",
  other: "Other",
};

// Pickers shown even when there is a single value, so a gunner always sees what the shot is
// aimed at and with what before firing.
const ALWAYS_PICK = {
  attack: ["target", "weapons"],
  launch_missiles: ["target", "weapons"],
  move: ["target", "direction"],
  sensor_lock: ["target"],
  dock: ["target"],
  board: ["target"],
  boarding_action: ["target"],
  repair: ["location"],
  offline_system: ["system"],
  restore_system: ["system"],
  change_station: ["to"],
  hold_station: ["to"],
};

/**
 * @param {{shipId: string, station: string, state: any, commands: any[], isAwaited: boolean,
 *   loading?: boolean, title?: string, weapons?: any, send: (command: any) => Promise<any>}} ctx
 *   `loading`: the station is awaited but its options for the current seq have not arrived yet;
 *   `title`: heading instead of the station name (the GM's panel names the ship too).
 */
export function renderActions(ctx) {
  const groups = new Map();
  for (const entry of ctx.commands) {
    const type = entry.type ?? entry.command?.type;
    if (!groups.has(type)) groups.set(type, []);
    groups.get(type).push(entry);
  }
  const types = [...groups.keys()].sort((a, b) => rank(a) - rank(b));
  const names = new Map(shipsOf(ctx.state).map((s) => [s.id, s.name]));
  const incoming = types.some((t) => REACTIONS.has(t)) ? pendingText(ctx, names) : null;
  const heading = ctx.title ?? stationLabel(ctx.station);
  let body;
  if (types.length) body = types.map((type) => actionCard(type, groups.get(type), ctx, names));
  else if (ctx.loading) body = h("p.muted", { testid: "actions-loading", role: "status" }, "Loading your options…");
  else {
    const far = outOfRange(ctx, names);
    body = far
      ? [h("p.notice.warn", { testid: "out-of-range" }, far), h("p.muted", { testid: "no-actions" }, "No shot is possible from here.")]
      : h("p.muted", { testid: "no-actions" }, "Nothing to do until your step comes round.");
  }
  return h("div.actions", {
    testid: `actions-${ctx.shipId}-${ctx.station}`,
    role: "group",
    "aria-label": `${heading} actions`,
    dataset: { ship: ctx.shipId, station: ctx.station },
  },
  h("h3.station-title", null, heading, ctx.isAwaited ? h("span.awaiting", null, " — your move") : null),
  incoming ? h("p.notice.warn", { testid: "incoming", role: "alert" }, incoming) : null,
  body);
}

/**
 * Why a gunner has no shot, when the reason is range: every enemy still fighting is beyond the
 * maximum band of every direct-fire weapon in the turret (the weapon table from the server).
 * The engine already decided there is no legal attack; this only names the reason and the
 * remedy. Null when range is not the reason (or the table has not arrived).
 */
function outOfRange(ctx, names) {
  const m = String(ctx.station).match(/^gunner:(\d+)$/);
  if (!m || !ctx.weapons) return null;
  const ships = shipsOf(ctx.state);
  const me = ships.find((s) => s.id === ctx.shipId);
  const reach = turretReach(me?.turrets?.[Number(m[1])], ctx.weapons);
  if (!reach) return null;
  const enemies = ships.filter((s) => s.side !== me?.side && String(s.status ?? "active") === "active");
  const bands = enemies.map((s) => ({ name: names.get(s.id) ?? s.name, band: String(bandTo(ctx.state, me.id, s.id) ?? "") }));
  if (!bands.length || bands.some((b) => BANDS.indexOf(b.band) <= reach.band)) return null;
  const where = bands.map((b) => `${b.name} is at ${label(b.band)} range`).join("; ");
  return `Out of range: ${where}; your ${reach.parts.join(", your ")} at most. Your pilot can close in during the Manoeuvre step.`;
}

/**
 * How far a turret's direct-fire weapons reach, from the server's weapon table: the farthest
 * band's index in BANDS and the words per weapon kind ("Beam laser reaches Medium"). Null when
 * range cannot be why it has no shot: a missile rack reaches any band, and without the table
 * nothing is known.
 * @returns {{band: number, parts: string[]} | null}
 */
export function turretReach(turret, weapons) {
  if (!turret || !weapons) return null;
  const kinds = [...new Set((turret.weapons ?? []).map((w) => w.kind ?? w))];
  const guns = kinds.filter((k) => weapons[k]?.direct_fire && weapons[k]?.max_band);
  if (!guns.length || kinds.some((k) => /missile/.test(k))) return null;
  return {
    band: Math.max(...guns.map((k) => BANDS.indexOf(weapons[k].max_band))),
    parts: guns.map((k) => `${label(k)} reaches ${label(weapons[k].max_band)}`),
  };
}

/** An option value: a plain id stays as is ("s1"), anything else is JSON ("[0,1,2]"). */
function enc(value) {
  return typeof value === "string" ? value : JSON.stringify(value);
}

function rank(type) {
  const i = ORDER.indexOf(type);
  return i < 0 ? ORDER.length - 2 : i;
}

function pendingText(ctx, names) {
  const head = (ctx.state?.pending ?? [])[0];
  if (!head) return "Incoming fire: react now.";
  const who = names.get(head.attacker) ?? head.attacker ?? "An enemy";
  const what = head.kind === "salvo" ? `a missile salvo (${head.missiles ?? "?"} missiles)` : label(head.weapon ?? "weapon");
  return `Incoming: ${who} fires ${what} at you. React now, or take it.`;
}

/** The player's choices among entries of one type: the keys whose values differ between them,
 * plus the ones always shown for that type (target and weapon of an attack). */
function pickerKeys(type, entries) {
  const keys = new Set(entries.flatMap((e) => Object.keys(e.command ?? {})));
  const always = ALWAYS_PICK[type] ?? [];
  return [...keys].filter((k) => k !== "type" && k !== "ship_id" && (always.includes(k) ||
    new Set(entries.map((e) => enc(e.command?.[k]))).size > 1));
}

function optionText(key, value, entry, names, state) {
  if (key === "target") {
    const band = entry?.preview?.band ?? bandTo(state, entry?.command?.ship_id, value);
    return `${names.get(value) ?? value}${band ? ` (${label(band)})` : ""}`;
  }
  if (key === "turret") return `Turret ${Number(value) + 1}`;
  if (key === "weapons") return weaponsText(state, entry?.command);
  if (key === "station") return stationLabel(value);
  if (key === "system") return systemLabel(value);
  if (key === "to") return stationLabel(value);
  return label(typeof value === "object" ? JSON.stringify(value) : value);
}

/** An engineer's system id as the table says it: "m_drive" is "M-Drive", "turret:0" "Turret 1". */
export function systemLabel(id) {
  const m = String(id ?? "").match(/^turret:(\d+)$/);
  if (m) return `Turret ${Number(m[1]) + 1}`;
  return id === "m_drive" ? "M-Drive" : label(id);
}

/** The band between two ships, as the view's range ladder holds it. */
export function bandTo(state, a, b) {
  const r = rangesOf(state).find((x) => (x.a === a && x.b === b) || (x.a === b && x.b === a));
  return r?.band;
}

function weaponsText(state, command) {
  const ship = shipsOf(state).find((s) => s.id === command?.ship_id);
  const turret = ship?.turrets?.[command?.turret];
  const kinds = (command?.weapons ?? []).map((i) => turret?.weapons?.[i]?.kind ?? `weapon ${i + 1}`);
  if (!kinds.length) return "all ready weapons";
  const n = kinds.length;
  return n > 1 && kinds.every((k) => k === kinds[0]) ? `${n}× ${label(kinds[0])} (linked)` : kinds.map(label).join(" + ");
}

/** The player's last picks per station and action, so a redraw (new state, new options) keeps
 * a half-made choice while it is still legal. */
const picks = new Map();

function actionCard(type, entries, ctx, names) {
  const keys = pickerKeys(type, entries);
  const choiceKeys = Object.keys(entries[0].choices ?? {});
  const memoKey = `${ctx.shipId}/${ctx.station}/${type}`;
  const memo = picks.get(memoKey);
  const stillLegal = memo && entries.some((e) => keys.every((k) => enc(e.command[k]) === memo.selected[k]));
  const selected = stillLegal ? { ...memo.selected } : Object.fromEntries(keys.map((k) => [k, enc(entries[0].command[k])]));
  const choice = Object.fromEntries(choiceKeys.map((k) => {
    const kept = memo?.choice?.[k];
    return [k, kept !== undefined && entries[0].choices[k].includes(kept) ? kept : entries[0].choices[k][0]];
  }));
  const remember = () => picks.set(memoKey, { selected: { ...selected }, choice: { ...choice } });
  const preview = h("div", { testid: `${type}-preview` });
  const fixedText = h("p.muted.small", { testid: `${type}-what` });
  const button = h(`button.btn${type === "attack" ? ".btn-fire" : REACTIONS.has(type) ? ".btn-warn" : type === "end_step" ? ".btn-ghost" : ""}`, {
    type: "submit",
    testid: type === "attack" ? "fire" : `do-${type}`,
  }, VERB[type] ?? label(type));

  const current = () => entries.find((e) => keys.every((k) => enc(e.command[k]) === selected[k])) ?? null;
  const selects = keys.map((key) => {
    const values = [...new Set(entries.map((e) => enc(e.command[key])))];
    const id = `${ctx.shipId}-${ctx.station}-${type}-${key}`.replace(/[^a-z0-9-]/gi, "-");
    const select = h("select", {
      id, testid: `${type}-${key}`,
      onChange: (e) => {
        selected[key] = e.target.value;
        // Keep the other choices valid for this value (e.g. a target some turret cannot reach).
        if (!current()) {
          const fallback = entries.find((x) => enc(x.command[key]) === selected[key]);
          for (const k of keys) selected[k] = enc(fallback.command[k]);
          for (const [k, el] of selectEls) el.value = selected[k];
        }
        remember();
        update();
      },
    }, values.map((v) => {
      const entry = entries.find((e) => enc(e.command[key]) === v);
      return h("option", { value: v }, optionText(key, entry.command[key], entry, names, ctx.state));
    }));
    return [key, select, h("div.field", null, h("label", { for: id }, label(key === "weapons" ? "weapon" : key)), select)];
  });
  const selectEls = selects.map(([k, el]) => [k, el]);
  for (const [k, el] of selectEls) el.value = selected[k];
  const choiceFields = choiceKeys.map((key) => {
    const id = `${ctx.shipId}-${ctx.station}-${type}-${key}`.replace(/[^a-z0-9-]/gi, "-");
    const select = h("select", {
      id, testid: `${type}-${key}`,
      onChange: (e) => {
        choice[key] = JSON.parse(e.target.value);
        remember();
      },
    }, entries[0].choices[key].map((v) => h("option", { value: JSON.stringify(v), selected: v === choice[key] }, label(String(v)))));
    return h("div.field", null, h("label", { for: id }, label(key)), select);
  });

  const update = () => {
    const entry = current();
    button.disabled = !entry;
    fixedText.textContent = entry && !keys.length && entries[0].label && entries[0].label.toLowerCase() !== label(type).toLowerCase()
      ? entries[0].label : "";
    preview.replaceChildren();
    if (entry?.preview) preview.append(dmTable(entry.preview, entry, names));
  };

  let confirming = false;
  const form = h("form", {
    class: `action${REACTIONS.has(type) ? " reaction" : ""}`,
    testid: `action-${type}`,
    onSubmit: async (e) => {
      e.preventDefault();
      const entry = current();
      if (!entry) return;
      if (type === "surrender" && !confirming) {
        confirming = true;
        button.textContent = "Confirm: strike colours";
        return;
      }
      // aria-disabled, not disabled: a disabled button drops keyboard focus to <body>.
      if (button.getAttribute("aria-disabled") === "true") return;
      button.setAttribute("aria-disabled", "true");
      try {
        await ctx.send({ ...entry.command, ...choice });
      } catch {
        button.removeAttribute("aria-disabled"); // refused: the toast says why; nothing changed
      }
    },
  },
  h("div.action-title", null, TITLE[type] ?? entries[0].label ?? label(type)),
  fixedText,
  keys.length || choiceFields.length ? h("div.row", null, selects.map(([, , field]) => field), choiceFields) : null,
  preview,
  h("div.btns", null, button));
  update();
  return form;
}

/** The engine's attack preview: each non-zero DM, boon/bane, and the total. */
function dmTable(p, entry, names) {
  const rows = Object.entries(p.dms ?? {}).filter(([k, v]) => v !== 0 || k === "range" || k === "gunner");
  const boon = Number(p.boon ?? 0);
  return h("table.dm-table", { testid: "dm-breakdown", "aria-label": "Attack DM breakdown" },
    h("caption.visually-hidden", null, "Attack DM breakdown"),
    h("tbody", null,
      rows.map(([k, v]) => h("tr", null, h("td", null, DM_NAMES[k] ?? label(k), k === "range" && p.band ? ` (${label(p.band)})` : ""),
        h("td", { class: v > 0 ? "pos" : v < 0 ? "neg" : "" }, signed(v)))),
      boon ? h("tr", null, h("td", null, boon > 0 ? "Sensor lock" : "Damaged weapon"),
        h("td", { class: boon > 0 ? "pos" : "neg" }, boon > 0 ? "Boon" : "Bane")) : null,
      p.linked > 1 ? h("tr", null, h("td", null, "Linked weapons"), h("td", null, `×${p.linked}`)) : null,
      p.target_armour !== undefined ? h("tr", null, h("td", null, `${names.get(entry.command.target) ?? "Target"} armour`), h("td", null, String(p.target_armour))) : null,
      h("tr.total", null, h("td", null, "Total DM on 2D (8+ hits)"), h("td", { testid: "dm-total" }, signed(p.total_dm ?? 0)))));
}
