// Saved fleets: what the lobby stores of its ships (designs and crews) and how it checks a
// stored fleet before using it. A stored value is untrusted: whatever does not fit the shape
// below is refused whole (with a reason the lobby shows), never half-loaded. The server still
// checks the battle it is asked to create; this only keeps the lobby's own model sane.
import { CHARS } from "./crew.js";
import { CREW_STATIONS, designFrom } from "./designer.js";

export const FLEET_NAME_MAX = 40;
export const FLEET_SHIPS_MAX = 24;
const QUALITIES = ["green", "regular", "veteran", "elite"];
const RULESETS = ["MGT2E_2016", "MGT2E_2022", "CE"];
const STATION = new RegExp(`^(${CREW_STATIONS.join("|")}|gunner:[0-7])$`);

const isObject = (v) => Boolean(v) && typeof v === "object" && !Array.isArray(v);
const text = (v, max) => typeof v === "string" && v.length <= max;

/** What a fleet stores of the lobby's model: its ruleset, side names and ships. Pure. */
export function fleetOf(model) {
  return {
    ruleset: model.ruleset,
    sides: model.sides.map((s) => ({ id: s.id, name: s.name })),
    ships: model.ships.map((s) => ({
      name: s.name, side: s.side, preset: s.preset, quality: s.quality,
      design: s.design ? { ...s.design } : null,
      crew: s.crew ? structuredClone(s.crew) : null,
    })),
  };
}

/**
 * A stored fleet checked against what this lobby can use (`presetIds`: the presets of its
 * ruleset; `sideIds`), as a fresh model fragment {ruleset, sides, ships}; or throws an Error
 * whose message says what is wrong. Pure.
 */
export function checkFleet(raw, presetIds, sideIds) {
  if (!isObject(raw)) throw new Error("it is not a fleet");
  if (!RULESETS.includes(raw.ruleset)) throw new Error("its ruleset is unknown");
  if (!Array.isArray(raw.ships) || raw.ships.length < 2 || raw.ships.length > FLEET_SHIPS_MAX) {
    throw new Error(`a fleet has 2 to ${FLEET_SHIPS_MAX} ships`);
  }
  const sides = (Array.isArray(raw.sides) ? raw.sides : []).filter((s) => isObject(s) && sideIds.includes(s.id) && text(s.name, 40))
    .map((s) => ({ id: s.id, name: s.name }));
  const ships = raw.ships.map((s, i) => {
    const where = `ship ${i + 1}`;
    if (!isObject(s)) throw new Error(`${where} is not a ship`);
    if (!text(s.name, 60)) throw new Error(`${where} has no readable name`);
    if (!sideIds.includes(s.side)) throw new Error(`${where} is on an unknown side`);
    if (!QUALITIES.includes(s.quality)) throw new Error(`${where} has an unknown crew quality`);
    if (s.design !== null && s.design !== undefined && !isObject(s.design)) throw new Error(`${where}'s design is unreadable`);
    if (!s.design && !presetIds(raw.ruleset).includes(s.preset)) throw new Error(`${where}'s design "${String(s.preset).slice(0, 30)}" is not one of this ruleset's presets`);
    return {
      name: s.name,
      side: s.side,
      preset: presetIds(raw.ruleset).includes(s.preset) ? s.preset : presetIds(raw.ruleset)[0],
      quality: s.quality,
      design: s.design ? designFrom(s.design) : null,
      crew: s.crew === null || s.crew === undefined ? null : checkCrew(s.crew, where),
    };
  });
  return { ruleset: raw.ruleset, sides, ships };
}

function checkCrew(crew, where) {
  if (!isObject(crew)) throw new Error(`${where}'s crew is unreadable`);
  const out = {};
  for (const [station, member] of Object.entries(crew)) {
    if (!STATION.test(station)) throw new Error(`${where}'s crew names an unknown station`);
    if (!isObject(member) || !text(member.name ?? "", 40)) throw new Error(`${where}'s ${station} is unreadable`);
    const chars = {};
    for (const c of CHARS) {
      const v = member.characteristics?.[c];
      if (!Number.isInteger(v) || v < 0 || v > 15) throw new Error(`${where}'s ${station} has a characteristic out of 0-15`);
      chars[c] = v;
    }
    const skills = {};
    const entries = isObject(member.skills) ? Object.entries(member.skills) : null;
    if (!entries || entries.length > 30) throw new Error(`${where}'s ${station} has unreadable skills`);
    for (const [skill, level] of entries) {
      if (!text(skill, 40) || skill === "__proto__" || !Number.isInteger(level) || level < 0 || level > 6) {
        throw new Error(`${where}'s ${station} has a skill out of 0-6`);
      }
      skills[skill] = level;
    }
    out[station] = { name: member.name ?? "", characteristics: chars, skills };
  }
  return out;
}
