// Crew notation: skills as a MgT2e sheet writes them ("Gunner (turret) 3"), the warnings for
// skills no station uses, and a pasted character block (UPP and skills). Pure: the lobby's crew
// editor calls these; nothing here touches the page.
import { label } from "./dom.js";

export const CHARS = ["STR", "DEX", "END", "INT", "EDU", "SOC"];

/** Turn "Pilot 2, Tactics (naval) 1" into {pilot: 2, "tactics (naval)": 1}: the MgT2e notation
 * kept as written (the server folds the speciality that applies aboard into the skill). Pure. */
export function parseSkills(text) {
  /** @type {Record<string, number>} */
  const skills = {};
  for (const part of String(text).split(/[,;\n]+/)) {
    const m = part.trim().match(/^(.*?)[\s=:-]*(\d+)$/);
    if (!m || !m[1].trim()) continue;
    const spec = m[1].trim().toLowerCase().match(/^([a-z][a-z' -]*?)\s*(?:\((.*)\))?$/);
    if (!spec) continue;
    const base = spec[1].replace(/[^a-z]+/g, "_").replace(/^_|_$/g, "");
    skills[spec[2] ? `${base} (${spec[2].trim()})` : base] = Number(m[2]);
  }
  return skills;
}

// MgT2e skills a station uses (RULES §1.4) and their specialities; true: applies aboard.
const SHIP_SKILLS = {
  pilot: { spacecraft: true, "small craft": true, "capital ships": false },
  gunner: { turret: true, ortillery: false, screen: false, capital: false },
  engineer: { "m-drive": true, "j-drive": true, power: true, "life support": true },
  electronics: { sensors: true, comms: false, computers: false, "remote ops": false },
  tactics: { naval: true, military: false },
  leadership: {},
  astrogation: {},
  // Cepheus Engine names (RULES §1.4), used by CE battles.
  piloting: {},
  turret_weapons: {},
  mechanics: {},
  engineering: {},
  comms: {},
  navigation: {},
};

/** What the crew editor warns about in typed skills: unknown names, specialities that count
 * as level 0 aboard, levels outside 0-6. Empty when every skill counts as typed. Pure. */
export function skillWarnings(text) {
  const out = [];
  const typed = String(text).split(/[,;\n]+/).map((p) => p.trim()).filter(Boolean);
  for (const part of typed) {
    const m = part.match(/^(.*?)[\s=:-]*(\d+)$/);
    if (!m || !m[1].trim()) {
      out.push(`“${part}” has no level (write it as “Pilot 2”).`);
      continue;
    }
    const spec = m[1].trim().toLowerCase().match(/^([a-z][a-z' -]*?)\s*(?:\((.*)\))?$/);
    const base = spec?.[1].replace(/[^a-z]+/g, "_").replace(/^_|_$/g, "") ?? "";
    const specs = SHIP_SKILLS[base];
    const name = m[1].trim();
    if (!specs) {
      out.push(`${name}: no station uses this skill (aboard: Pilot, Gunner (turret), Engineer, Electronics (sensors), Tactics (naval), Leadership).`);
    } else if (spec?.[2] && !(spec[2].trim() in specs)) {
      out.push(`${name}: unknown speciality of ${label(base)} (${Object.keys(specs).join(", ")}).`);
    } else if (spec?.[2] && !specs[spec[2].trim()]) {
      const applies = Object.keys(specs).filter((k) => specs[k]).join(" or ");
      out.push(`${name} counts as ${label(base)} 0 aboard: the station needs ${label(base)} (${applies}).`);
    }
    if (Number(m[2]) > 6) out.push(`${name} ${m[2]}: skill levels run 0–6.`);
  }
  return out;
}

/** Traveller pseudo-hex digit (0-9, then A=10 … skipping I and O) to its value. */
const EHEX = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ";

/**
 * Read a character as MgT2e sheets and generators write it: a name, the UPP (six pseudo-hex
 * digits: STR DEX END INT EDU SOC, e.g. "Mara Voss 7A8B96 Age 34") and skills ("Pilot
 * (spacecraft) 2, Gunner-1, Electronics (sensors) 1, Admin 1"). Only the skills a station
 * uses aboard are kept (the others change nothing in ship combat). Pure.
 * @returns {{name: string, characteristics: Record<string, number>, skills: Record<string, number>} | null}
 *   null when no UPP is found
 */
export function parseCharacter(text) {
  const src = String(text ?? "");
  const upp = src.match(/(?:^|[\s:])([0-9A-HJ-NP-Z]{6})(?=$|[\s,.;])/im);
  if (!upp || (upp[1].match(/\d/g) ?? []).length < 2) return null;
  const values = [...upp[1].toUpperCase()].map((c) => EHEX.indexOf(c));
  const characteristics = Object.fromEntries(CHARS.map((c, i) => [c, Math.min(15, values[i])]));
  const line = src.split(/\n/).find((l) => l.includes(upp[1])) ?? "";
  const name = line.slice(0, line.indexOf(upp[1])).replace(/\b(UPP|Name)\b\s*:?/gi, "").replace(/[\s:|,-]+$/, "").trim();
  const rest = src.replace(line, " ").replace(/\bskills?\s*:/gi, ",");
  const all = parseSkills(rest.replace(/\n/g, ","));
  const skills = Object.fromEntries(Object.entries(all).filter(([k]) => k.replace(/ \(.*$/, "") in SHIP_SKILLS));
  return { name: name.slice(0, 40), characteristics, skills };
}

/** Inverse of parseSkills for display. Pure. */
export function formatSkills(skills) {
  return Object.entries(skills || {})
    .map(([k, v]) => `${label(k).replace(/ \((.*)\)$/, " ($1)")} ${v}`)
    .join(", ");
}
