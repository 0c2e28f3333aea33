// The tactical board: the SVG plot (plot.js), then one column per side with a card per ship
// (hull bar, armour, thrust, criticals, crew and who holds each station), and a band ladder
// per ship pair showing the range in words.
import { botTactic, TACTIC_HELP } from "./bots.js";
import { h, label, replace, stationLabel } from "./dom.js";
import { BANDS, sideColour } from "./lobby.js";
import { critsOf, hullLevel, rangesOf, shipsOf, sidesOf } from "./model.js";
import { tacticalPlot } from "./plot.js";

/**
 * @param {HTMLElement} root
 * @param {any} state  the engine's public view
 * @param {any[]} awaiting  (ship_id, station) pairs that may act now
 * @param {any} joined  our joined message (to mark our own ship)
 * @param {string[]} [botSides]  sides the server's bot plays (their cards say so)
 */
/** Hull per ship last drawn, per board: a drop since then is a hit to show (a short flash). */
const lastHull = new WeakMap();

export function renderBoard(root, state, awaiting, joined, botSides = []) {
  const before = lastHull.get(root) ?? new Map();
  const hit = new Set(shipsOf(state).filter((s) => before.has(s.id) && s.hull < before.get(s.id)).map((s) => s.id));
  lastHull.set(root, new Map(shipsOf(state).map((s) => [s.id, s.hull])));
  const ships = shipsOf(state);
  const sides = sidesOf(state);
  const byId = new Map(ships.map((s) => [s.id, s]));
  const acting = new Set((awaiting ?? []).map(([shipId]) => shipId));
  root.dataset.seq = String(state?.seq ?? ""); // the seq of the state drawn
  replace(
    root,
    h("header", null, h("h2", { id: "board-h" }, "Tactical"),
      h("span.muted", null, `${ships.length} ships · ${sides.length} sides`)),
    h("figure.plot-box", null, tacticalPlot(state, awaiting, joined?.role === "player" ? joined.ship_id : null, root.clientWidth - 32, hit)),
    h("div.sides", null, sides.map((side, i) => h("div.side", { style: { "--side-colour": sideColour(i) }, testid: `side-${side.id}` },
      h("h3", null, side.name ?? side.id),
      ships.filter((s) => s.side === side.id).map((s) => shipCard(s, i, acting.has(s.id), joined?.ship_id === s.id, byId, hit.has(s.id), botTactic(s, botSides)))))),
    h("div.ladders", { testid: "range-ladders" },
      h("h2", null, "Range"),
      rangesOf(state).map((r) => ladder(r, byId))),
  );
}

/** A row of boxes, filled while the point is left (CE Hull and Structure, RULES §10.A.2). */
function boxes(name, left, max, testid) {
  const n = Math.max(0, Number(max ?? 0));
  return h("div.hull", null,
    h("div.hull-label", null, h("span", null, name), h("span.mono", { testid }, `${left} / ${n}`)),
    h("ol.boxes", { "aria-label": `${name} ${left} of ${n}` },
      Array.from({ length: n }, (_, i) => h("li", { dataset: { lost: String(i >= left) } }))));
}

/** Hits per location (RULES §10.A.5): 1st, 2nd, 3rd (destroyed) hit. */
function hitList(ship) {
  const entries = Object.entries(ship.systems ?? {}).filter(([, n]) => Number(n) > 0);
  if (!entries.length) return h("p.muted.small", { testid: `hits-${ship.id}` }, "No hits on systems");
  return h("ul.crits", { "aria-label": "Hits by location", testid: `hits-${ship.id}` },
    entries.map(([loc, n]) => h("li", { title: Number(n) >= 3 ? "destroyed" : Number(n) === 2 ? "disabled" : "damaged" },
      `${label(loc.replace(":", " ")).replace(/Turret (\d+)/, (_, d) => `Turret ${Number(d) + 1}`)} ${"●".repeat(Number(n))}${"○".repeat(Math.max(0, 3 - Number(n)))}`)));
}

/** "Bot · Standard" on the card of a ship the server's bot runs (its tactic in the tooltip). */
function botTag(ship, tactic) {
  if (!tactic) return null;
  return h("span.bot-tag", { testid: `bot-${ship.id}`, title: `The bot runs ${ship.name ?? ship.id}: ${TACTIC_HELP[tactic] ?? tactic}` },
    `Bot · ${label(tactic)}`);
}

function ceCard(ship, sideIndex, isActing, isMine, byId, wasHit, tactic) {
  const status = String(ship.status ?? "active");
  const thrust = ship.thrust ?? 0;
  const thrustMax = ship.thrust_rating;
  const crew = ship.crew ?? [];
  const turrets = ship.turrets ?? [];
  const dms = [
    ship.evasive_dm ? `evading ${ship.evasive_dm}` : null,
    ship.line_up_dm ? `lined up +${ship.line_up_dm}` : null,
    ...Object.entries(ship.targeting ?? {}).filter(([, v]) => v).map(([t, v]) => `targeting ${byId.get(t)?.name ?? t} +${v}`),
    ship.coordinate ? `crew pool ${ship.coordinate}` : null,
  ].filter(Boolean);
  return h("article.ship-card", {
    testid: `ship-${ship.id}`,
    dataset: { acting: String(isActing), status, mine: String(isMine), hit: String(wasHit), ruleset: "CE" },
    style: { "--side-colour": sideColour(sideIndex) },
    "aria-label": `${ship.name}, hull ${ship.hull} of ${ship.hull_max}, structure ${ship.structure} of ${ship.structure_max}${status !== "active" ? `, ${status}` : ""}`,
  },
  h("div.ship-head", null,
    h("span.ship-name", null, ship.name ?? ship.id, isMine ? h("span.muted", null, " (your ship)") : null),
    h("span.ship-class", null, [ship.design ?? label(ship.preset ?? ""), ship.tons ? `${ship.tons} t` : null].filter(Boolean).join(" · ")),
    botTag(ship, tactic),
    status !== "active" ? h("span.status-tag", { testid: `status-${ship.id}` }, label(status)) : null),
  boxes("Hull", ship.hull, ship.hull_max, `hull-${ship.id}`),
  boxes("Structure", ship.structure, ship.structure_max, `structure-${ship.id}`),
  h("dl.stats", null,
    stat("Armour", ship.armour ?? 0, `armour-${ship.id}`),
    stat("Thrust", thrustMax !== undefined && thrustMax !== thrust ? `${thrust}/${thrustMax}` : thrust, `thrust-${ship.id}`),
    stat("Reactions", ship.reactions ?? 0, `reactions-${ship.id}`),
    stat("Init", ship.initiative ?? "—", `init-${ship.id}`),
    stat("Column", label(ship.column ?? ""), `column-${ship.id}`)),
  hitList(ship),
  dms.length ? h("p.small", { testid: `dms-${ship.id}` }, dms.join(" · ")) : null,
  turrets.length
    ? h("ul.turrets", { "aria-label": "Turrets" }, turrets.map((t, i) => h("li", null,
      h("span.turret-id", null, `T${i + 1}`), h("span.muted", null, label(t.mount ?? "")), " ",
      (t.weapons ?? []).map((w) => h("span.weapon", { dataset: { status: w.status ?? "ok", fired: String(!!w.fired) }, title: weaponTitle(w) },
        label(w.kind ?? w), w.ammo !== undefined && w.ammo !== null && /missile|sand/.test(w.kind ?? "") ? ` (${w.ammo})` : "")))))
    : null,
  crew.length
    ? h("div.crew-line", { "aria-label": "Crew" }, crew.map((c) => h("span", { class: c.able === false ? "down" : "" },
      h("span.muted", null, `${stationLabel(c.station ?? c.id)} `), c.name ?? "—")))
    : null);
}

function shipCard(ship, sideIndex, isActing, isMine, byId, wasHit, tactic) {
  if (ship.structure_max !== undefined) return ceCard(ship, sideIndex, isActing, isMine, byId, wasHit, tactic);
  const hull = Number(ship.hull ?? 0);
  const max = Number(ship.hull_max);
  const pct = max > 0 ? Math.max(0, Math.min(100, (hull / max) * 100)) : 0;
  const thrust = ship.thrust ?? 0;
  const thrustMax = ship.thrust_rating;
  const crits = critsOf(ship);
  const status = String(ship.status ?? "active");
  const crewList = ship.crew ?? [];
  const turrets = ship.turrets ?? [];
  return h("article.ship-card", {
    testid: `ship-${ship.id}`,
    dataset: { acting: String(isActing), status, mine: String(isMine), hit: String(wasHit) },
    style: { "--side-colour": sideColour(sideIndex) },
    "aria-label": `${ship.name}, hull ${hull} of ${max}${status !== "active" ? `, ${status}` : ""}`,
  },
  h("div.ship-head", null,
    h("span.ship-name", null, ship.name ?? ship.id, isMine ? h("span.muted", null, " (your ship)") : null),
    h("span.ship-class", null, [ship.design, ship.tons ? `${ship.tons} t` : null].filter(Boolean).join(" · ")),
    botTag(ship, tactic),
    status !== "active" ? h("span.status-tag", { testid: `status-${ship.id}` }, label(status)) : null),
  h("div.hull", null,
    h("div.hull-label", null, h("span", null, "Hull"), h("span.mono", { testid: `hull-${ship.id}` }, `${hull} / ${max}`)),
    h("div.bar", { role: "meter", "aria-label": `${ship.name} hull`, "aria-valuemin": 0, "aria-valuemax": max, "aria-valuenow": hull, dataset: { level: hullLevel(hull, max) } },
      h("span", { style: { "--pct": `${pct}%` } }))),
  h("dl.stats", null,
    stat("Armour", ship.armour ?? 0, `armour-${ship.id}`),
    stat("Thrust", thrustMax !== undefined && thrustMax !== thrust ? `${thrust}/${thrustMax}` : thrust, `thrust-${ship.id}`),
    stat("Pool", ship.thrust_pool ?? "—", `pool-${ship.id}`),
    stat("Init", ship.initiative ?? "—", `init-${ship.id}`)),
  crits.length
    ? h("ul.crits", { "aria-label": "Critical hits", testid: `crits-${ship.id}` }, crits.map(([loc, sev]) => h("li", null, `${label(loc)} ${sev}`)))
    : h("p.muted.small", null, "No critical hits"),
  ship.sensor_lock
    ? h("p.small", { testid: `lock-${ship.id}` }, h("span.muted", null, "Sensor lock on "), byId.get(ship.sensor_lock)?.name ?? ship.sensor_lock)
    : null,
  ship.docked
    ? h("p.small", { testid: `docked-${ship.id}` }, h("span.muted", null, "Docked with "), byId.get(ship.docked)?.name ?? ship.docked)
    : null,
  ship.boarded_by
    ? h("p.small.notice.warn", { testid: `boarded-${ship.id}` }, "Boarders from ", byId.get(ship.boarded_by)?.name ?? ship.boarded_by, " are taking control")
    : null,
  ship.power ? powerLine(ship) : null,
  ship.fuel ? fuelLine(ship) : null,
  turrets.length
    ? h("ul.turrets", { "aria-label": "Turrets" }, turrets.map((t, i) => h("li", null,
      h("span.turret-id", null, `T${i + 1}`), h("span.muted", null, label(t.mount)), " ",
      powerTag(ship, i), " ",
      t.weapons.map((w) => h("span.weapon", { dataset: { status: w.status ?? "ok", fired: String(!!w.fired) }, title: weaponTitle(w) },
        label(w.kind), /missile|sand/.test(w.kind) ? ` (${w.ammo})` : "")))))
    : null,
  crewList.length
    ? h("div.crew-line", { "aria-label": "Crew" }, crewList.map((c) => h("span", { class: c.able === false ? "down" : "" },
      h("span.muted", null, `${stationLabel(c.station)} `), c.name || "—")))
    : null);
}

/** The power budget, shown by the server only while it matters (a system without power, one
 * taken offline, an overload): "Power 30/35 · sensors dark · overload: drive". */
function powerLine(ship) {
  const p = ship.power;
  const bits = [`Power ${p.available}/${p.need}`];
  if (p.sensors_dark) bits.push("sensors dark");
  if ((p.offline ?? []).includes("m_drive")) bits.push("M-Drive offline");
  if ((p.overload ?? []).length) bits.push(`overload: ${p.overload.map(label).join(", ")}`);
  return h("p.small", { testid: `power-${ship.id}`, dataset: { short: String(p.available < p.need) } }, bits.join(" · "));
}

/** Fuel once a leak has begun (tenths of a ton from the server): "Fuel 17.0 t · leaking 6.0 t a round". */
function fuelLine(ship) {
  const t = (n) => (Number(n) / 10).toFixed(1);
  const leak = Number(ship.fuel.leak_tenths) || 0;
  return h("p.small", { testid: `fuel-${ship.id}` },
    `Fuel ${t(ship.fuel.left_tenths)} t${leak ? ` · leaking ${t(leak)} t a round` : ""}`);
}

/** A turret without power (short, or taken offline by the engineer). */
function powerTag(ship, i) {
  const id = `turret:${i}`;
  if ((ship.power?.offline ?? []).includes(id)) return h("span.status-tag", { testid: `offline-${ship.id}-${i}` }, "offline");
  if ((ship.power?.unpowered ?? []).includes(id)) return h("span.status-tag", { testid: `unpowered-${ship.id}-${i}` }, "no power");
  return null;
}

function weaponTitle(w) {
  const bits = [label(w.kind ?? ""), w.status && w.status !== "ok" ? label(w.status) : null, w.fired ? "fired this round" : null];
  return bits.filter(Boolean).join(", ");
}

function stat(name, value, testid) {
  return h("div", null, h("dt", null, name), h("dd", { testid }, String(value)));
}

function ladder(range, byId) {
  const a = byId.get(range.a);
  const b = byId.get(range.b);
  const band = range.band;
  return h("div.ladder", { testid: `range-${range.a}-${range.b}` },
    h("div.ladder-title", null,
      h("span", null, `${a?.name ?? range.a} ↔ ${b?.name ?? range.b}`),
      h("strong.mono", { testid: `range-band-${range.a}-${range.b}` }, label(band),
        range.progress ? h("span.muted", null, ` +${range.progress}`) : null)),
    h("ol", { "aria-label": `Range between ${a?.name ?? range.a} and ${b?.name ?? range.b}: ${label(band)}` },
      BANDS.map((x) => h("li", { "aria-current": x === band ? "true" : false, title: label(x) }, shortBand(x)))));
}

function shortBand(band) {
  return { adjacent: "Adj", close: "Close", short: "Short", medium: "Med", long: "Long", very_long: "V.Long", distant: "Dist" }[band] ?? band;
}
