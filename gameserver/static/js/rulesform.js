// The battle's own rules in the lobby's create form: how the ships know of each other at the
// start (the scenario's `detection`), and, folded under "Advanced rules", whether the fight is
// inside a world's jump limit (`jump_limit`) and the RulesConfig switches a GM sets per battle.
// The form sends only what the GM changed from the engine's default; the server checks every
// value (Scenario, RulesConfig.from_dict) and explains a refusal.
import { h } from "./dom.js";

/** The scenario's `detection` choices (gameserver/rules/scenario.py), in the form's words. */
export const DETECTION = [
  ["known", "Known: every ship has found the others"],
  ["sensors", "Sensors: each ship rolls to detect each enemy"],
];
const DETECTION_HELP = "With Sensors, before round 1 each ship's sensor operator rolls Electronics (sensors) 8+ "
  + "for each enemy (MgT2e §3.B). An enemy missed cannot be sent missiles at Distant range until a Sensor Lock "
  + "finds it. Cepheus Engine battles always start known.";

/** The scenario's `jump_limit` choices. */
export const JUMP_LIMIT = [
  ["outside", "Outside the 100-diameter limit: ships may jump out"],
  ["inside", "Inside a world's jump limit: nobody jumps"],
];

/**
 * The RulesConfig options offered per battle, with the engine's defaults (a browser test holds
 * them equal to `RulesConfig()`), for the ruleset family they change ("MGT2E" or "CE").
 * A switch may have `help` (said after it); a choice lists [value, words].
 */
export const RULE_OPTIONS = [
  { key: "natural_auto_results", family: "MGT2E", default: false, text: "A natural 2 always fails, a natural 12 always succeeds", help: "RULES §1.2 #29: off, a roll is its total and nothing more" },
  { key: "severity_formula", family: "MGT2E", default: "by_ruleset", text: "Critical hit Severity", choices: [["by_ruleset", "As the edition says (2016: damage ÷ 10; 2022: Effect − 5)"], ["damage", "From the damage (damage ÷ 10, rounded up)"], ["effect", "From the Effect (Effect − 5)"]] },
  { key: "crit_mode", family: "MGT2E", default: "row_only", text: "A critical's effects", choices: [["row_only", "Only the row of its Severity"], ["all_intermediate_rows", "Every row up to its Severity (cumulative)"]] },
  { key: "big_ship_ignores_turret_crits", family: "MGT2E", default: false, text: "Ships of 2,000 tons or more ignore critical hits from turrets and barbettes", help: "High Guard option" },
  { key: "power_budget", family: "MGT2E", default: true, text: "Power budget: systems without power stop working", help: "Off: only a plant at Power 0 idles the energy weapons" },
  { key: "fuel_tracking", family: "MGT2E", default: true, text: "Fuel leaks drain the tanks, and a jump needs its fuel", help: "Off: fuel hits are only noted" },
  { key: "life_support_countdown", family: "MGT2E", default: true, text: "Damaged life support counts down to failure", help: "Off: the countdown is only noted" },
  { key: "extra_task_penalty", family: "MGT2E", default: true, text: "One person at two stations: DM −2 for each extra task in a step", help: "RULES §1.5; off: no penalty" },
  { key: "sand_once_per_turret_per_round", family: "MGT2E", default: true, text: "Each sandcaster turret reacts at most once a round" },
  { key: "radiation_rads", family: "MGT2E", default: true, text: "Radiation weapons record the rads the crew takes" },
  { key: "boarding", family: "MGT2E", default: true, text: "Docking and boarding", help: "RULES §6.B, §13.4: a pilot docks alongside, the captain leads boarders; off: neither is offered" },
  { key: "dock_helpless_willing", family: "MGT2E", default: true, text: "A ship that cannot manoeuvre cannot refuse a dock", help: "No Thrust or nobody able at the helm: docking is Average Piloting, not opposed" },
  { key: "boarding_surrendered_unopposed", family: "MGT2E", default: true, text: "A ship that surrendered is boarded without a roll" },
  { key: "ce_add_effect_to_damage", family: "CE", default: false, text: "The attack's Effect adds to ship damage", help: "CE #1: the personal-combat rule, off in the SRD's ship combat" },
  { key: "ce_pulse_penalty_stacks", family: "CE", default: true, text: "The pulse laser's −2 stacks with the range DM", help: "CE #2" },
  { key: "ce_fuel_effects", family: "CE", default: true, text: "Fuel hits leak and lose fuel", help: "CE §10.A.5; off: fuel hits are only counted" },
  { key: "ce_extra_task_penalty", family: "CE", default: true, text: "One person at two stations: DM −2 for each extra task in a turn", help: "RULES §1.5; off: no penalty" },
];

const familyOf = (ruleset) => (ruleset === "CE" ? "CE" : "MGT2E");

/**
 * The body fields for POST /api/battles that the GM changed from the engine's defaults. Pure.
 * @param {{ruleset: string, detection?: string, jumpLimit?: string, rules?: Record<string, any>}} model
 */
export function rulesBody(model) {
  const out = {};
  if (model.detection === "sensors" && familyOf(model.ruleset) !== "CE") out.detection = "sensors";
  if (model.jumpLimit === "inside") out.jump_limit = "inside";
  const config = {};
  for (const o of RULE_OPTIONS) {
    const v = model.rules?.[o.key];
    if (o.family === familyOf(model.ruleset) && v !== undefined && v !== o.default) config[o.key] = v;
  }
  if (Object.keys(config).length) out.config = config;
  return out;
}

function field(id, text, control, help) {
  return h("div.field", null, h("label", { for: id }, text), control, help ?? null);
}

/**
 * The form's rules controls, bound to `model` (detection, jumpLimit, rules). `detection` goes in
 * the form's first row; `advanced` is the disclosure. Call `ruleset()` after the ruleset changed:
 * Cepheus Engine battles start known, and each family has its own switches.
 */
export function rulesControls(model) {
  model.detection ??= "known";
  model.jumpLimit ??= "outside";
  model.rules ??= {};
  const help = h("p.small.muted.field-help", { id: "sc-detection-help", testid: "detection-help" }, DETECTION_HELP);
  const detectionSelect = /** @type {HTMLSelectElement} */ (h("select", {
    id: "sc-detection", testid: "detection", "aria-describedby": "sc-detection-help",
    onChange: (e) => (model.detection = e.target.value),
  }, DETECTION.map(([v, words]) => h("option", { value: v, selected: v === model.detection }, words))));
  const detection = field("sc-detection", "Detection at the start", detectionSelect, help);
  const body = h("div.advanced-body");
  const advanced = h("details.advanced-rules", { testid: "advanced-rules" },
    h("summary", null, "Advanced rules (house rules for this battle)"), body);

  const draw = () => {
    const family = familyOf(model.ruleset);
    const options = RULE_OPTIONS.filter((o) => o.family === family);
    body.replaceChildren(
      field("sc-jump-limit", "Where the fight is", h("select", {
        id: "sc-jump-limit", testid: "jump-limit",
        onChange: (e) => (model.jumpLimit = e.target.value),
      }, JUMP_LIMIT.map(([v, words]) => h("option", { value: v, selected: v === model.jumpLimit }, words)))),
      h("fieldset.rule-switches", { testid: "rule-switches" },
        h("legend", null, family === "CE" ? "Cepheus Engine options" : "MgT2e options"),
        options.map((o) => {
          const id = `rule-${o.key.replace(/_/g, "-")}`;
          const value = model.rules[o.key] ?? o.default;
          if (o.choices) {
            return field(id, o.text, h("select", {
              id, testid: id, onChange: (e) => (model.rules[o.key] = e.target.value),
            }, o.choices.map(([v, words]) => h("option", { value: v, selected: v === value }, words))));
          }
          return h("label.check.rule-switch", null,
            h("input", {
              type: "checkbox", id, testid: id, checked: value,
              onChange: (e) => (model.rules[o.key] = e.target.checked),
            }), h("span", null, o.text, o.help ? h("span.small.muted", null, ` (${o.help})`) : null));
        })),
      h("p.small.muted", null, "Left as they are, the rules are RULES.md's defaults; the battle's first event records the whole set."));
  };
  const ruleset = () => {
    const ce = familyOf(model.ruleset) === "CE";
    if (ce) model.detection = "known";
    detectionSelect.value = model.detection;
    detectionSelect.disabled = ce;
    draw();
  };
  ruleset();
  return { detection, advanced, ruleset };
}
