// The lobby's ship designer: a form for the custom `design` a scenario's ship may carry
// (the engine's ShipDesign). The form holds the rules' bounds so a number past them is named
// at once under its field; everything else — whether a mount holds those weapons, the Hull,
// Structure and Power the battle will give the ship — the server answers
// (`POST /api/designs/check`, the engine's own models and arithmetic, never repeated here).
import { call } from "./api.js";
import { h, label, replace, stationLabel } from "./dom.js";

/** ShipDesign's numeric bounds (gameserver/rules/ships.py; a browser test holds them equal). */
export const DESIGN_LIMITS = {
  tons: { min: 1, max: 1_000_000, text: "Tonnage" },
  tl: { min: 0, max: 25, text: "Tech level" },
  armour: { min: 0, max: 50, text: "Armour" },
  thrust: { min: 0, max: 15, text: "Thrust" },
  jump: { min: 0, max: 9, text: "Jump" },
  computer: { min: 0, max: 50, text: "Computer" },
  fire_control: { min: 0, max: 5, text: "Fire control" },
  missile_reserve: { min: 0, max: 10_000, text: "Missiles in stores" },
  sand_reserve: { min: 0, max: 10_000, text: "Sand in stores" },
  power: { min: 0, max: 1_000_000, text: "Power plant output" },
  fuel: { min: 0, max: 1_000_000, text: "Fuel (tons)" },
  cargo: { min: 0, max: 1_000_000, text: "Cargo (tons)" },
};
export const NAME_MAX = 80;
export const MAX_TURRETS = 8;
export const MOUNTS = ["fixed", "single", "double", "triple", "barbette", "small_bay", "medium_bay", "large_bay"];
export const WEAPON_KINDS = ["pulse_laser", "beam_laser", "particle_beam", "railgun", "plasma_gun",
  "fusion_gun", "laser_drill", "missile_rack", "sandcaster"];
export const SENSOR_GRADES = ["basic", "civilian", "military", "improved", "advanced"];
export const CREW_STATIONS = ["captain", "pilot", "engineer", "sensors", "navigator"];
export const MISSILES = ["standard", "smart", "nuclear"];
export const SCREENS = ["meson_screen", "nuclear_damper"];
/** Weapons a turret row offers (the server checks the mount's capacity and says so). */
const SLOTS = 3;

/** The fields the form edits, from a preset's or a stored design (unknown keys dropped). */
export function designFrom(source) {
  const d = source ?? {};
  const design = { name: String(d.name ?? "Custom design").slice(0, NAME_MAX) };
  for (const [key, lim] of Object.entries(DESIGN_LIMITS)) {
    const v = Number(d[key]);
    design[key] = Number.isFinite(v) ? v : lim.min;
  }
  design.sensors = SENSOR_GRADES.includes(d.sensors) ? d.sensors : "civilian";
  design.stations = Array.isArray(d.stations) ? d.stations.filter((s) => CREW_STATIONS.includes(s)) : ["captain", "pilot", "engineer", "sensors"];
  design.turrets = (Array.isArray(d.turrets) ? d.turrets : []).slice(0, MAX_TURRETS).map((t) => ({
    mount: MOUNTS.includes(t?.mount) ? t.mount : "single",
    weapons: (Array.isArray(t?.weapons) ? t.weapons : []).filter((w) => WEAPON_KINDS.includes(w)).slice(0, SLOTS),
  }));
  // Kept as the preset has them, not edited here: the CE stealth coating, the racks' missile,
  // the CE screens, and who holds a station besides their own (a Fighter's pilot fires its gun).
  if (d.stealth === true) design.stealth = true;
  if (MISSILES.includes(d.missile)) design.missile = d.missile;
  if (Array.isArray(d.screens)) design.screens = d.screens.filter((x) => SCREENS.includes(x)).slice(0, 8);
  if (d.held_by && typeof d.held_by === "object" && !Array.isArray(d.held_by)) {
    design.held_by = Object.fromEntries(Object.entries(d.held_by).filter(([k, v]) => typeof k === "string" && typeof v === "string"));
  }
  return design;
}

/** The stations a design's crew sits at (as ShipDesign.station_ids lists them). */
export function designStations(design) {
  return [...design.stations, ...design.turrets.map((_, i) => `gunner:${i}`)];
}

/** Drop the `held_by` entries whose station or holder the design no longer has. */
function pruneHeldBy(design) {
  if (!design.held_by) return;
  const ids = new Set(designStations(design));
  design.held_by = Object.fromEntries(Object.entries(design.held_by).filter(([st, by]) => ids.has(st) && ids.has(by)));
}

/** A number field's own problem ("" when none): a whole number within the rules' bounds. */
export function fieldProblem(key, value) {
  const lim = DESIGN_LIMITS[key];
  if (!Number.isInteger(value)) return `${lim.text}: a whole number from ${lim.min} to ${lim.max.toLocaleString("en")}.`;
  if (value < lim.min) return `${lim.text}: at least ${lim.min.toLocaleString("en")}.`;
  if (value > lim.max) return `${lim.text}: at most ${lim.max.toLocaleString("en")} (the rules' limit).`;
  return "";
}

/** The engine's answer for a design: its figures, or 422 with a message per field. */
export const checkDesign = (ruleset, design) => call("POST", "/api/designs/check", { ruleset, design });

/**
 * The designer form for one ship of the lobby. `ship.design` is edited in place; `onChange`
 * runs after the server's answer (the crew editor follows the stations).
 */
export function designerForm(ship, i, ruleset, onChange) {
  const design = ship.design;
  const pfx = `design-${i}`;
  const msgs = new Map();
  const msg = (key) => {
    if (!msgs.has(key)) msgs.set(key, h("p.small.field-problem", { id: `${pfx}-${key.replace(/\./g, "-")}-msg`, testid: `${pfx}-msg-${key}`, role: "status" }));
    return msgs.get(key);
  };
  const figures = h("p.design-figures", { testid: `${pfx}-figures`, "aria-live": "polite" }, "Checking the design…");
  const overall = h("p.small.field-problem", { testid: `${pfx}-problem`, role: "alert" });
  let timer = 0;
  let asked = 0;

  const localProblems = () => {
    let bad = false;
    for (const key of Object.keys(DESIGN_LIMITS)) {
      const text = fieldProblem(key, design[key]);
      msg(key).textContent = text;
      bad ||= Boolean(text);
    }
    const name = design.name.trim() ? "" : "Name: give the design a name.";
    msg("name").textContent = name;
    design.turrets.forEach((t, k) => {
      if (!t.weapons.length) {
        msg(`turrets.${k}`).textContent = `Turret ${k + 1}: pick at least one weapon.`;
        bad = true;
      }
    });
    return bad || Boolean(name);
  };

  const ask = () => {
    clearTimeout(timer);
    timer = window.setTimeout(async () => {
      for (const [key, el] of msgs) if (key.startsWith("turrets") || key === "stations") el.textContent = "";
      overall.textContent = "";
      if (localProblems()) {
        figures.textContent = "Fix the fields marked below to see the ship's figures.";
        ship.designOk = false;
        return;
      }
      pruneHeldBy(design);
      const mine = ++asked;
      try {
        const got = await checkDesign(ruleset, design);
        if (mine !== asked) return;
        ship.designOk = true;
        ship.figures = got;
        const parts = [`Hull ${got.hull}`];
        if (got.structure !== null && got.structure !== undefined) parts.push(`Structure ${got.structure}`);
        parts.push(`Armour ${got.armour}`, `Thrust ${got.thrust}`);
        if (got.power !== null && got.power !== undefined) parts.push(`Power ${got.power} (systems draw ${got.power_need})`);
        parts.push(`crew ${got.crew}: ${got.stations.map(stationLabel).join(", ")}`);
        figures.textContent = `As the engine builds it: ${parts.join(" · ")}.`;
        onChange();
      } catch (err) {
        if (mine !== asked) return;
        ship.designOk = false;
        figures.textContent = "The rules refuse this design (see the marked fields).";
        const fields = err.detail?.fields ?? {};
        let placed = false;
        for (const [path, text] of Object.entries(fields)) {
          const key = path.replace(/\.weapons\.\d+$/, "").replace(/\.weapons$/, "");
          const target = msgs.get(key) ?? msgs.get(key.split(".")[0]);
          const where = key.startsWith("turrets.") ? `Turret ${Number(key.split(".")[1]) + 1}` : label(key);
          const line = `${where}: ${String(text).replace(/^Value error, /, "")}.`.replace(/\.\.$/, ".");
          if (target) {
            target.textContent = line;
            placed = true;
          } else {
            overall.textContent = line;
          }
        }
        if (!placed && !overall.textContent) overall.textContent = err.message;
      }
    }, 200);
  };

  const num = (key) => {
    const lim = DESIGN_LIMITS[key];
    const id = `${pfx}-${key}`;
    return h("div.field", null,
      h("label", { for: id }, lim.text),
      h("input", {
        id, type: "number", min: lim.min, max: lim.max, step: 1, value: design[key], testid: `${pfx}-${key}`,
        inputmode: "numeric", "aria-describedby": `${pfx}-${key}-msg`,
        onInput: (e) => {
          const raw = e.target.value.trim();
          design[key] = raw === "" ? Number.NaN : Number(raw);
          ask();
        },
      }),
      msg(key));
  };

  const turretsBox = h("div.design-turrets", { testid: `${pfx}-turrets` });
  const drawTurrets = () => {
    replace(turretsBox, design.turrets.map((t, k) => {
      const key = `turrets.${k}`;
      return h("fieldset.design-turret", { testid: `${pfx}-turret-${k}` },
        h("legend", null, `Turret ${k + 1}`),
        h("div.row", null,
          h("div.field", null,
            h("label", { for: `${pfx}-t${k}-mount` }, "Mount"),
            h("select", {
              id: `${pfx}-t${k}-mount`, testid: `${pfx}-t${k}-mount`, "aria-describedby": `${pfx}-turrets-${k}-msg`,
              onChange: (e) => {
                t.mount = e.target.value;
                ask();
              },
            }, MOUNTS.map((m) => h("option", { value: m, selected: m === t.mount }, label(m))))),
          Array.from({ length: SLOTS }, (_, j) => h("div.field", null,
            h("label", { for: `${pfx}-t${k}-w${j}` }, `Weapon ${j + 1}`),
            h("select", {
              id: `${pfx}-t${k}-w${j}`, testid: `${pfx}-t${k}-w${j}`, "aria-describedby": `${pfx}-turrets-${k}-msg`,
              onChange: (e) => {
                const picked = Array.from({ length: SLOTS }, (_, n) => (n === j ? e.target.value : t.weapons[n] ?? ""));
                t.weapons = picked.filter(Boolean);
                drawTurrets();
                ask();
              },
            }, h("option", { value: "" }, j === 0 ? "— pick a weapon —" : "— none —"),
            WEAPON_KINDS.map((w) => h("option", { value: w, selected: t.weapons[j] === w }, label(w))))))),
        msg(key),
        h("button.btn.btn-small.btn-ghost", {
          type: "button", testid: `${pfx}-t${k}-remove`,
          onClick: () => {
            design.turrets.splice(k, 1);
            msgs.delete(`turrets.${design.turrets.length}`);
            drawTurrets();
            ask();
          },
        }, `Remove turret ${k + 1}`));
    }),
    design.turrets.length < MAX_TURRETS
      ? h("button.btn.btn-small", {
        type: "button", testid: `${pfx}-add-turret`,
        onClick: () => {
          design.turrets.push({ mount: "single", weapons: ["beam_laser"] });
          drawTurrets();
          ask();
          turretsBox.querySelector(`[data-testid="${pfx}-t${design.turrets.length - 1}-mount"]`)?.focus();
        },
      }, "+ Add turret")
      : h("p.small.muted", null, `At most ${MAX_TURRETS} turrets, barbettes and bays.`));
  };
  drawTurrets();

  const box = h("fieldset.designer", { testid: `designer-${i}` },
    h("legend", null, "Custom design"),
    h("div.field", null,
      h("label", { for: `${pfx}-name` }, "Design name"),
      h("input", {
        id: `${pfx}-name`, testid: `${pfx}-name`, value: design.name, maxlength: NAME_MAX,
        "aria-describedby": `${pfx}-name-msg`,
        onInput: (e) => {
          design.name = e.target.value;
          ask();
        },
      }),
      msg("name")),
    h("div.design-grid", null, Object.keys(DESIGN_LIMITS).map(num),
      h("div.field", null,
        h("label", { for: `${pfx}-sensors` }, "Sensors"),
        h("select", {
          id: `${pfx}-sensors`, testid: `${pfx}-sensors`,
          onChange: (e) => {
            design.sensors = e.target.value;
            ask();
          },
        }, SENSOR_GRADES.map((g) => h("option", { value: g, selected: g === design.sensors }, label(g)))))),
    h("fieldset", { testid: `${pfx}-stations` },
      h("legend", null, "Crew stations (plus a gunner per turret)"),
      h("div.design-stations", null, CREW_STATIONS.map((st) => h("label", null,
        h("input", {
          type: "checkbox", checked: design.stations.includes(st), testid: `${pfx}-station-${st}`,
          onChange: (e) => {
            design.stations = CREW_STATIONS.filter((s) => (s === st ? e.target.checked : design.stations.includes(s)));
            ask();
          },
        }), " ", stationLabel(st)))),
      msg("stations")),
    turretsBox,
    figures,
    overall);
  ask();
  return box;
}
