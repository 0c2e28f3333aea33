// The lobby: create a battle (preset ships, sides, starting range, crews, solo bot), join one by
// link or code (GM, player with ship + station, spectator), or resume a saved battle from its
// events JSON. It only builds requests; the server validates them and explains refusals.
import { createBattle, findBattle, getBattle, getPresets, importBattle } from "./api.js";
import { BOT_TACTICS, TACTIC_HELP, botTactic } from "./bots.js";
import { h, humanMessage, label, replace, stationLabel } from "./dom.js";
import { CHARS, formatSkills, parseCharacter, parseSkills, skillWarnings } from "./crew.js";
import { designFrom, designStations, designerForm } from "./designer.js";
import { FLEET_NAME_MAX, checkFleet, fleetOf } from "./fleets.js";
import { rulesBody, rulesControls } from "./rulesform.js";
import { FLEETS_MAX, loadName, loadSeat, readFleets, saveName, saveSeat, writeFleets } from "./storage.js";

export const BANDS = ["adjacent", "close", "short", "medium", "long", "very_long", "distant"];
const QUALITIES = ["green", "regular", "veteran", "elite"];
const SIDE_COLOURS = ["var(--side-a)", "var(--side-b)", "var(--side-c)", "var(--side-d)"];

/** Colour of a side by its index in the scenario, shared with the battle view. */
export const sideColour = (index) => SIDE_COLOURS[index % SIDE_COLOURS.length];

/**
 * Render the lobby into `root`.
 * @param {HTMLElement} root
 * @param {{code?: string, battleId?: string, onEnter: (battleId: string) => void,
 *   toast: (msg: string, kind?: string) => void}} ctx
 */
export async function renderLobby(root, ctx) {
  const createPanel = h("section.panel", { "aria-labelledby": "create-h", testid: "create-panel" });
  const joinPanel = h("section.panel", { "aria-labelledby": "join-h", testid: "join-panel" });
  const importPanel = h("section.panel", { "aria-labelledby": "import-h", testid: "import-panel" });
  const joining = !!(ctx.code || ctx.battleId);
  // An invite link lands on the seat picker: the create form folds away until asked for.
  createPanel.hidden = joining;
  const other = joining
    ? h("section.panel.new-instead", { testid: "new-instead" },
      h("button.btn", {
        type: "button", testid: "show-create",
        onClick: () => {
          createPanel.hidden = false;
          other.hidden = true;
          createPanel.querySelector("input")?.focus();
        },
      }, "Start a new battle instead"))
    : null;
  // Joining: the seat picker comes first in the document too, so Tab follows what you see.
  const stack = h("div.stack", null, joinPanel, other, importPanel);
  replace(root, h("div.lobby", { class: joining ? "joining" : "" }, joining ? [stack, createPanel] : [createPanel, stack]));
  renderJoin(joinPanel, ctx);
  renderImport(importPanel, ctx);
  let presets = [];
  try {
    presets = await getPresets();
  } catch (e) {
    replace(createPanel, h("p.notice.error", null, `Cannot load the ship presets: ${e.message}`));
    return;
  }
  renderCreate(createPanel, presets, ctx);
}

// ---- create ------------------------------------------------------------------------------

/** The preset family of a ruleset: both MgT2e editions share theirs. */
export function presetFamily(ruleset) {
  return ruleset === "CE" ? "CE" : "MGT2E";
}

/** The presets a ruleset may use (the catalogue tags each with its family). */
export function presetsFor(presets, ruleset) {
  return presets.filter((p) => (p.ruleset ?? "MGT2E") === presetFamily(ruleset));
}

function defaultShips(all, ruleset = "MGT2E_2016") {
  const presets = presetsFor(all, ruleset);
  const ce = presetFamily(ruleset) === "CE";
  const pick = (want, fallback) => presets.find((p) => p.id === want)?.id ?? presets[fallback % presets.length]?.id;
  return [
    { name: "Beowulf", side: "a", preset: pick(ce ? "merchant_trader" : "free_trader", 0), quality: "regular", crew: null },
    { name: "Vengeance", side: "b", preset: pick(ce ? "raider" : "corsair", 1), quality: "regular", crew: null },
  ];
}

function renderCreate(panel, presets, ctx) {
  const model = {
    name: "Skirmish at Regina",
    sides: [
      { id: "a", name: "Free Traders" },
      { id: "b", name: "Corsairs" },
    ],
    ships: defaultShips(presets),
    range: "medium",
    roundLimit: 30,
    ruleset: "MGT2E_2016",
    botSide: "",
    soloShip: 0,
    soloTactic: "standard",
  };
  const presetById = new Map(presets.map((p) => [p.id, p]));
  const status = h("div.notice", { testid: "create-status", "aria-live": "polite" });
  const shipsBox = h("div.ship-rows", { testid: "ship-rows" });
  /** @type {HTMLSelectElement | null} */
  let rulesetSelect = null;
  const fleetsBox = h("fieldset.fleets", { style: { "margin-top": "12px" }, testid: "fleets" });
  const rules = rulesControls(model); // detection, jump limit, house rules (model.detection…)

  const drawShips = () => {
    drawSolo();
    replace(
      shipsBox,
      model.ships.map((ship, i) => shipRow(ship, i)),
    );
  };

  const shipRow = (ship, i) => {
    const sideIdx = Math.max(0, model.sides.findIndex((s) => s.id === ship.side));
    const preset = presetById.get(ship.preset);
    const crewBox = h("div.crew-editor", { hidden: !ship.crew, testid: `crew-editor-${i}` });
    const drawCrew = () => {
      if (!ship.crew) {
        crewBox.hidden = true;
        return;
      }
      crewBox.hidden = false;
      replace(crewBox, crewEditor(ship, i, preset));
    };
    const designer = ship.design ? designerForm(ship, i, model.ruleset, () => drawCrew()) : null;
    const row = h(
      "fieldset.ship-row",
      { style: { "--side-colour": sideColour(sideIdx) }, testid: `ship-row-${i}` },
      h("legend", null, `Ship ${i + 1}`),
      h(
        "div.row",
        null,
        field(`ship-${i}-name`, "Name", h("input", {
          id: `ship-${i}-name`, value: ship.name, maxlength: 40, testid: `ship-name-${i}`,
          onInput: (e) => (ship.name = e.target.value),
        })),
        field(`ship-${i}-preset`, ship.design ? "Start from" : "Design", h("select", {
          id: `ship-${i}-preset`, testid: `ship-preset-${i}`,
          onChange: (e) => {
            ship.preset = e.target.value;
            ship.crew = ship.crew ? {} : null;
            if (ship.design) ship.design = designFrom(presetById.get(ship.preset)?.design);
            drawShips();
          },
        }, presetsFor(presets, model.ruleset).map((p) => h("option", { value: p.id, selected: p.id === ship.preset }, presetLabel(p))))),
        field(`ship-${i}-side`, "Side", h("select", {
          id: `ship-${i}-side`, testid: `ship-side-${i}`,
          onChange: (e) => {
            ship.side = e.target.value;
            drawShips();
          },
        }, model.sides.map((s) => h("option", { value: s.id, selected: s.id === ship.side }, s.name)))),
        field(`ship-${i}-quality`, "Crew quality", h("select", {
          id: `ship-${i}-quality`, testid: `ship-quality-${i}`,
          onChange: (e) => (ship.quality = e.target.value),
        }, QUALITIES.map((q) => h("option", { value: q, selected: q === ship.quality }, label(q))))),
      ),
      preset && !ship.design ? h("p.muted", { style: { margin: "8px 0 0", "font-size": "0.85rem" } }, presetDetail(preset)) : null,
      designer,
      h("div.btns", { style: { "margin-top": "8px" } },
        h("button.btn.btn-small.btn-ghost", {
          type: "button", testid: `custom-design-${i}`, "aria-expanded": String(!!ship.design),
          onClick: () => {
            ship.design = ship.design ? null : designFrom(preset?.design);
            ship.crew = ship.crew ? {} : null;
            drawShips();
            document.querySelector(`[data-testid="${ship.design ? `design-${i}-name` : `custom-design-${i}`}"]`)?.focus();
          },
        }, ship.design ? "Use the preset" : "Custom design…"),
        h("button.btn.btn-small.btn-ghost", {
          type: "button", testid: `edit-crew-${i}`, "aria-expanded": String(!!ship.crew),
          "aria-controls": `crew-editor-${i}`,
          onClick: () => {
            ship.crew = ship.crew ? null : {};
            drawShips();
            document.querySelector(`[data-testid="edit-crew-${i}"]`)?.focus();
          },
        }, ship.crew ? "Use default crew" : "Edit crew…"),
        model.ships.length > 2
          ? h("button.btn.btn-small.btn-ghost", {
            type: "button", testid: `remove-ship-${i}`,
            onClick: () => {
              model.ships.splice(i, 1);
              drawShips();
            },
          }, "Remove")
          : null,
      ),
      crewBox,
    );
    crewBox.id = `crew-editor-${i}`;
    drawCrew();
    return row;
  };

  /** "Paste a character": a sheet's name, UPP and skills fill this station in one go. */
  const pasteCharacter = (pfx, apply) => {
    const area = h("textarea", {
      id: `${pfx}-paste`, rows: 3, testid: `${pfx}-paste`,
      placeholder: "Mara Voss 7A8B96 Age 34\nPilot (spacecraft) 2, Gunner (turret) 1, Admin 1",
    });
    const note = h("p.small", { role: "status", testid: `${pfx}-paste-note` });
    return h("details.paste-character", null,
      h("summary", null, "Paste a character…"),
      field(`${pfx}-paste`, "Character as written on the sheet (name, UPP, list)", area),
      h("div.btns", null, h("button.btn.btn-small", {
        type: "button", testid: `${pfx}-import`,
        onClick: () => {
          const who = parseCharacter(area.value);
          if (!who) {
            note.className = "small notice warn";
            note.textContent = "No UPP found: write the six characteristics as one code, e.g. 7A8B96 (STR DEX END INT EDU SOC).";
            return;
          }
          apply(who);
        },
      }, "Import")),
      note);
  };

  const crewEditor = (ship, i, preset) => {
    const redraw = () => replace(/** @type {HTMLElement} */ (document.getElementById(`crew-editor-${i}`)), crewEditor(ship, i, preset));
    const stations = ship.design ? designStations(ship.design) : preset?.stations ?? ["captain", "pilot", "engineer", "sensors", "gunner:0"];
    const base = 7 + QUALITIES.indexOf(ship.quality);
    const skill = Math.max(0, QUALITIES.indexOf(ship.quality));
    return stations.map((st) => {
      const id = typeof st === "string" ? st : st.id ?? st.station;
      const entry = (ship.crew[id] ??= {
        name: "",
        characteristics: Object.fromEntries(CHARS.map((c) => [c, base])),
        skills: defaultSkills(id, skill, model.ruleset),
      });
      const pfx = `crew-${i}-${id.replace(/[^a-z0-9]/gi, "-")}`;
      const warn = h("ul.skill-warnings", { id: `${pfx}-skills-warn`, testid: `skills-warning-${i}-${id}`, "aria-live": "polite" });
      showWarnings(warn, formatSkills(entry.skills));
      return h("div.crew-station", { testid: `crew-${i}-${id}` },
        h("div.row", null,
          h("div.field", null, h("span.field-label", null, "Station"), h("strong.station-id", null, stationLabel(id))),
          field(`${pfx}-name`, "Crew name", h("input", {
            id: `${pfx}-name`, value: entry.name, maxlength: 40, placeholder: "e.g. Mara Voss",
            onInput: (e) => (entry.name = e.target.value),
          })),
        ),
        h("div", { role: "group", "aria-label": `${stationLabel(id)} characteristics` },
          h("span.field-label", null, "Characteristics"),
          h("div.chars", null, CHARS.map((c) => h("label", { style: { margin: 0 } },
            h("span.visually-hidden", null, c), h("span", { "aria-hidden": "true" }, c),
            h("input", {
              type: "number", min: 0, max: 15, value: entry.characteristics[c],
              onInput: (e) => (entry.characteristics[c] = Number(e.target.value)),
            }))))),
        field(`${pfx}-skills`, "Skills (e.g. Pilot 2, Gunner (turret) 1)", h("input", {
          id: `${pfx}-skills`, value: formatSkills(entry.skills), "aria-describedby": `${pfx}-skills-warn`,
          onChange: (e) => (entry.skills = parseSkills(e.target.value)),
          onInput: (e) => showWarnings(warn, e.target.value),
        })),
        warn,
        pasteCharacter(pfx, (who) => {
          Object.assign(entry, who);
          redraw();
        }),
      );
    });
  };

  // Solo as a player: you command one ship, the server's bot runs every other one (allies too)
  // at the tactic picked here; the GM token stays stored (Download battle, or the GM seat later).
  const soloButton = h("button.btn", { type: "submit", testid: "create-solo" });
  const soloShip = /** @type {HTMLSelectElement} */ (h("select", {
    id: "sc-solo-ship", testid: "solo-ship",
    onChange: (e) => {
      model.soloShip = Number(e.target.value);
      drawSolo();
    },
  }));
  const soloTactic = h("select", {
    id: "sc-solo-tactic", testid: "solo-tactic",
    onChange: (e) => (model.soloTactic = e.target.value),
  }, BOT_TACTICS.map((t) => h("option", { value: t, selected: t === model.soloTactic, title: TACTIC_HELP[t] }, label(t))));
  const drawSolo = () => {
    model.soloShip = Math.min(model.soloShip, Math.max(0, model.ships.length - 1));
    replace(soloShip, model.ships.map((x, i) => h("option", { value: String(i), selected: i === model.soloShip }, x.name || `Ship ${i + 1}`)));
    const ship = model.ships[model.soloShip];
    soloButton.hidden = !ship || model.ships.length < 2;
    soloButton.textContent = ship ? `Play solo: command ${ship.name}` : "";
  };

  const form = h(
    "form",
    {
      testid: "create-form",
      // The page names a bad number under its field (the designer) or the server's refusal
      // in the form's words (scenarioError), rather than the browser's bubble on one field.
      novalidate: true,
      onSubmit: async (e) => {
        e.preventDefault();
        const unfit = model.ships.find((x) => x.design && x.designOk === false);
        if (unfit) {
          status.className = "notice error";
          status.textContent = `The custom design of ${unfit.name || "a ship"} breaks the rules: fix the fields marked in red first.`;
          return;
        }
        status.className = "notice";
        status.textContent = "Creating the battle…";
        try {
          const solo = /** @type {any} */ (e).submitter?.dataset.testid === "create-solo";
          const body = scenarioBody(model, solo ? { ship: model.soloShip, tactic: model.soloTactic } : null);
          const created = await createBattle(body);
          const battleId = created.battle_id;
          const code = created.join_code ?? created.code;
          saveSeat(battleId, { gm_token: created.gm_token, role: "gm", code });
          if (solo) {
            // Solo as a player: every station of your ship is yours; the bot runs the others.
            const battle = await getBattle(battleId);
            const ship = (battle.state?.ships ?? []).find((x) => x.id === `s${model.soloShip + 1}`);
            if (ship) {
              const stations = ship.crew.map((c) => c.station);
              saveSeat(battleId, { role: "player", ship_id: ship.id, stations, name: loadName() || "Captain" });
            }
          }
          ctx.onEnter(battleId);
        } catch (err) {
          status.className = "notice error";
          status.textContent = `The server refused the scenario. ${scenarioError(err.message, model)}`;
        }
      },
    },
    h("div.row", null,
      field("sc-name", "Battle name", h("input", {
        id: "sc-name", value: model.name, maxlength: 60, testid: "battle-name",
        onInput: (e) => (model.name = e.target.value),
      })),
      field("sc-range", "Starting range", h("select", {
        id: "sc-range", testid: "starting-range", onChange: (e) => (model.range = e.target.value),
      }, BANDS.map((b) => h("option", { value: b, selected: b === model.range }, label(b))))),
      field("sc-rounds", "Round limit", h("input", {
        id: "sc-rounds", type: "number", min: 1, max: 200, value: model.roundLimit,
        onInput: (e) => (model.roundLimit = Number(e.target.value)),
      })),
      field("sc-ruleset", "Ruleset", rulesetSelect = h("select", {
        id: "sc-ruleset", testid: "ruleset",
        onChange: (e) => {
          const before = presetFamily(model.ruleset);
          model.ruleset = e.target.value;
          rules.ruleset();
          if (presetFamily(model.ruleset) !== before) {
            // each ruleset has its own ships (RULES §14): start from its pair of presets
            model.ships = defaultShips(presets, model.ruleset);
            drawShips();
          }
        },
      }, h("option", { value: "MGT2E_2016", selected: true }, "MgT2e (2016)"),
        h("option", { value: "MGT2E_2022" }, "MgT2e (2022)"),
        h("option", { value: "CE" }, "Cepheus Engine"))),
    ),
    rules.detection,
    h("fieldset", { style: { "margin-top": "12px" } },
      h("legend", null, "Sides"),
      h("div.row", null, model.sides.map((s, idx) => field(`side-${s.id}`, `Side ${idx + 1}`, h("input", {
        id: `side-${s.id}`, value: s.name, maxlength: 40, style: { "border-left": `4px solid ${sideColour(idx)}` },
        onInput: (e) => {
          s.name = e.target.value;
        },
        onChange: () => drawShips(),
      })))),
    ),
    h("div", { style: { "margin-top": "12px" } }, shipsBox),
    h("div.btns", { style: { "margin-top": "10px" } },
      h("button.btn.btn-small", {
        type: "button", testid: "add-ship",
        onClick: () => {
          const side = model.ships.length % 2 ? "b" : "a";
          model.ships.push({ name: `Ship ${model.ships.length + 1}`, side, preset: presetsFor(presets, model.ruleset)[0]?.id, quality: "regular", crew: null });
          drawShips();
        },
      }, "+ Add ship"),
    ),
    fleetsBox,
    rules.advanced,
    h("fieldset", { style: { "margin-top": "12px" } },
      h("legend", null, "Solo mode"),
      h("div.row", null,
        field("sc-solo-ship", "Play solo: your ship (the bot runs the rest)", soloShip),
        field("sc-solo-tactic", "The bot's tactic", soloTactic)),
      field("sc-bot", "Or, as GM: the engine's bot commands", h("select", {
        id: "sc-bot", testid: "bot-side",
        onChange: (e) => {
          model.botSide = e.target.value;
          // solo then commands a ship of another side (the bot's side is the bot's)
          if (model.botSide) model.soloShip = Math.max(0, model.ships.findIndex((x) => x.side !== model.botSide));
          drawSolo();
        },
      }, h("option", { value: "" }, "Nobody (all human crews)"),
        model.sides.map((s) => h("option", { value: s.id }, `Side: ${s.name}`)))),
    ),
    h("div.btns", { style: { "margin-top": "14px" } },
      h("button.btn.btn-primary", { type: "submit", testid: "create-battle" }, "Create battle"),
      soloButton,
    ),
    h("div", { style: { "margin-top": "10px" } }, status),
  );
  drawShips();

  // Saved fleets: these ships (designs and crews) under a name, in this browser's storage.
  const fleetNotice = h("p.small", { role: "status", testid: "fleet-notice" });
  const tell = (message, kind = "") => {
    fleetNotice.className = `small notice${kind ? ` ${kind}` : ""}`;
    fleetNotice.textContent = message;
  };
  const drawFleets = (message = "", kind = "") => {
    const { fleets, problem } = readFleets();
    const names = Object.keys(fleets).sort();
    const nameInput = h("input", { id: "fleet-name", testid: "fleet-name", maxlength: FLEET_NAME_MAX, placeholder: "e.g. Regina patrol" });
    const pick = /** @type {HTMLSelectElement} */ (h("select", { id: "fleet-pick", testid: "fleet-pick", disabled: !names.length },
      names.length ? names.map((n) => h("option", { value: n }, n)) : h("option", { value: "" }, "No saved fleet yet")));
    replace(fleetsBox,
      h("legend", null, "Saved fleets (this browser)"),
      h("div.row", null,
        field("fleet-name", "Save these ships as", nameInput),
        h("div.btns", null, h("button.btn.btn-small", {
          type: "button", testid: "fleet-save",
          onClick: () => {
            const name = nameInput.value.trim();
            if (!name) return tell("Name the fleet first.", "error");
            const current = readFleets().fleets;
            if (!(name in current) && Object.keys(current).length >= FLEETS_MAX) {
              return tell(`At most ${FLEETS_MAX} fleets are kept: delete one first.`, "error");
            }
            current[name] = fleetOf(model);
            if (!writeFleets(current)) return tell("This browser refused to store the fleet (storage full or disabled).", "error");
            drawFleets(`Saved “${name}”: ${model.ships.length} ships.`);
          },
        }, "Save fleet"))),
      h("div.row", null,
        field("fleet-pick", "Saved fleet", pick),
        h("div.btns", null,
          h("button.btn.btn-small", {
            type: "button", testid: "fleet-load", disabled: !names.length,
            onClick: () => {
              const name = pick.value;
              const raw = readFleets().fleets[name];
              try {
                const fleet = checkFleet(raw, (r) => presetsFor(presets, r).map((p) => p.id), model.sides.map((s) => s.id));
                model.ruleset = fleet.ruleset;
                rules.ruleset();
                if (rulesetSelect) rulesetSelect.value = fleet.ruleset;
                for (const side of fleet.sides) {
                  const mine = model.sides.find((s) => s.id === side.id);
                  if (mine) mine.name = side.name;
                  const input = /** @type {HTMLInputElement | null} */ (document.getElementById(`side-${side.id}`));
                  if (input) input.value = side.name;
                }
                model.ships = fleet.ships;
                drawShips();
                tell(`Loaded “${name}”: ${fleet.ships.length} ships.`);
              } catch (err) {
                tell(`The saved fleet “${name}” cannot be used (${err.message}); the ships were left as they were.`, "warn");
              }
            },
          }, "Load"),
          h("button.btn.btn-small.btn-ghost", {
            type: "button", testid: "fleet-delete", disabled: !names.length,
            onClick: () => {
              const name = pick.value;
              const current = readFleets().fleets;
              delete current[name];
              if (!writeFleets(current)) return tell("This browser refused to change its storage.", "error");
              drawFleets(`Deleted “${name}”.`);
            },
          }, "Delete"))),
      fleetNotice);
    if (problem) tell(problem, "warn");
    else if (message) tell(message, kind);
  };
  drawFleets();
  replace(panel, h("header", null, h("h2", { id: "create-h" }, "New battle"),
    h("span.muted", null, "You will be the GM")), form);
}

function showWarnings(list, text) {
  replace(list, skillWarnings(text).map((w) => h("li", null, w)));
  list.hidden = !list.childElementCount;
}

function defaultSkills(station, level, ruleset = "MGT2E_2016") {
  const base = station.split(":")[0];
  // The skill each station uses (the engine's STATION_SKILLS and CE_STATION_SKILLS).
  const map = presetFamily(ruleset) === "CE"
    ? {
      captain: { leadership: level, tactics: level },
      pilot: { piloting: level },
      gunner: { turret_weapons: level },
      engineer: { mechanics: level, engineering: level },
      sensors: { comms: level },
      navigator: { navigation: level },
    }
    : {
      captain: { leadership: level, tactics: level },
      pilot: { pilot: level },
      gunner: { gunner: level },
      engineer: { engineer: level },
      sensors: { electronics: level },
      navigator: { astrogation: level },
    };
  return { ...(map[base] ?? {}) };
}

/**
 * The server's refusal of a scenario in the form's words: "ships.0.crew.pilot.skills: Value
 * error, skill pilot must be 0-6" becomes "Beowulf, Pilot: skill pilot must be 0-6." Pure.
 */
export function scenarioError(message, model) {
  const names = new Map(model.ships.map((s, i) => [`s${i + 1}`, s.name.trim() || `Ship ${i + 1}`]));
  return String(message ?? "").split(/;\s+/).map((part) => {
    const m = part.match(/^([\w.:-]+):\s+(.*)$/);
    const where = m ? m[1].split(".") : [];
    const text = (m ? m[2] : part).replace(/^(Value|Assertion) error,\s*/i, "");
    const place = [];
    for (let k = 0; k < where.length; k += 1) {
      const [key, next] = [where[k], where[k + 1]];
      if (key === "ships" && /^\d+$/.test(next)) {
        place.push(names.get(`s${Number(next) + 1}`) ?? `Ship ${Number(next) + 1}`);
        k += 1;
      } else if (key === "sides" && /^\d+$/.test(next)) {
        place.push(model.sides[Number(next)]?.name || `Side ${Number(next) + 1}`);
        k += 1;
      } else if (key === "crew" && next) {
        place.push(stationLabel(next));
        k += 1;
      } else if (!["scenario", "skills", "characteristics"].includes(key)) {
        place.push(label(key));
      }
    }
    const said = humanMessage(text, names);
    const sentence = `${said[0]?.toUpperCase() ?? ""}${said.slice(1)}${/[.!?]$/.test(said) ? "" : "."}`;
    return place.length ? `${place.join(", ")}: ${sentence}` : sentence;
  }).join(" ");
}

/**
 * Build the POST /api/battles body from the form model. Pure.
 * @param {any} model
 * @param {{ship: number, tactic: string} | null} [solo]  solo as a player: the bot runs every
 *   ship but this one (its index) at this tactic (`bot_ships`), no bot side
 */
export function scenarioBody(model, solo = null) {
  const ships = model.ships.map((s, i) => {
    const ship = { id: `s${i + 1}`, name: s.name.trim() || `Ship ${i + 1}`, side: s.side };
    if (s.design) ship.design = { ...s.design, name: s.design.name.trim() || ship.name };
    else ship.preset = s.preset;
    // a custom design's crew sits only at the stations it still has
    const seats = s.design ? new Set(designStations(s.design)) : null;
    const crew = Object.entries(s.crew ?? {}).filter(([st]) => !seats || seats.has(st));
    if (crew.length) {
      ship.crew = Object.fromEntries(crew.map(([st, c]) => [st, { ...c, name: c.name.trim() || stationLabel(st) }]));
    } else {
      ship.crew_quality = s.quality;
    }
    return ship;
  });
  const body = {
    name: model.name.trim() || "Untitled battle",
    ruleset: model.ruleset,
    sides: model.sides.map((s) => ({ id: s.id, name: s.name.trim() || s.id })),
    ships,
    starting_range: model.range,
    round_limit: model.roundLimit,
    ...rulesBody(model),
  };
  if (solo) {
    const others = ships.filter((_, i) => i !== solo.ship).map((s) => [s.id, solo.tactic]);
    return { scenario: body, name: body.name, bot_sides: [], bot_ships: Object.fromEntries(others) };
  }
  return { scenario: body, name: body.name, bot_sides: model.botSide ? [model.botSide] : [] };
}

function presetLabel(p) {
  return `${p.name}${p.tons ? ` (${p.tons} t)` : ""}`;
}

function presetDetail(p) {
  const parts = [];
  if (p.hull !== undefined) parts.push(`Hull ${p.hull}`);
  if (p.structure !== undefined && p.structure !== null) parts.push(`Structure ${p.structure}`);
  if (p.armour !== undefined) parts.push(`Armour ${p.armour}`);
  if (p.thrust !== undefined) parts.push(`Thrust ${p.thrust}`);
  const weapons = (p.turrets ?? []).map((t) => turretLabel(t)).filter(Boolean);
  if (weapons.length) parts.push(weapons.join(" · "));
  return parts.join(" — ");
}

export function turretLabel(t) {
  if (typeof t === "string") return label(t);
  const weapons = (t.weapons ?? []).map((w) => label(typeof w === "string" ? w : w.weapon ?? w.id)).join("+");
  return `${label(t.mount ?? t.size ?? "turret")} ${weapons}`.trim();
}

function field(id, text, control) {
  return h("div.field", null, h("label", { for: id }, text), control);
}

// ---- join --------------------------------------------------------------------------------

function renderJoin(panel, ctx) {
  const status = h("div.notice", { testid: "join-status", "aria-live": "polite" });
  const details = h("div", { testid: "join-details" });
  const codeInput = h("input", {
    id: "join-code", testid: "join-code", value: ctx.code ?? "", autocomplete: "off",
    autocapitalize: "characters", spellcheck: "false", maxlength: 16, placeholder: "e.g. K7P2QX",
  });
  const nameInput = h("input", {
    id: "join-name", testid: "join-name", value: loadName(), maxlength: 40, placeholder: "Your name",
  });

  const lookup = async (battleId = "") => {
    const code = codeInput.value.trim().toUpperCase();
    if (!code && !battleId) return;
    status.className = "notice";
    status.textContent = "Looking up the battle…";
    try {
      const id = battleId || (await findBattle(code)).battle_id;
      const battle = await getBattle(id);
      codeInput.value = battle.join_code ?? code;
      status.className = "notice";
      status.textContent = "";
      renderSeatPicker(details, battle, battle.join_code ?? code, nameInput, ctx, status);
    } catch (e) {
      status.className = "notice error";
      status.textContent = e.code === "battle_not_found" || e.code === "http_404"
        ? `No battle with code ${code || battleId}. Check the code with your GM.`
        : `Cannot look up the battle: ${e.message}`;
      replace(details);
    }
  };

  replace(
    panel,
    h("header", null, h("h2", { id: "join-h" }, "Join a battle")),
    h("form", {
      testid: "join-form",
      onSubmit: (e) => {
        e.preventDefault();
        lookup();
      },
    },
    h("div.row", null,
      h("div.field", null, h("label", { for: "join-code" }, "Join code"), codeInput),
      h("div.field", null, h("label", { for: "join-name" }, "Your name"), nameInput),
    ),
    h("div.btns", { style: { "margin-top": "10px" } },
      h("button.btn.btn-primary", { type: "submit", testid: "find-battle" }, "Find battle")),
    ),
    h("div", { style: { "margin-top": "10px" } }, status),
    details,
  );
  if (ctx.battleId) lookup(ctx.battleId);
  else if (ctx.code) lookup();
}

/** Role + ship + station picker once the battle is known. */
function renderSeatPicker(box, battle, code, nameInput, ctx, status) {
  const battleId = battle.battle_id ?? battle.id;
  const seat = loadSeat(battleId);
  const ships = battle.ships ?? battle.state?.ships ?? [];
  const claims = new Set((battle.claims ?? []).map((c) => `${c.ship_id}/${c.station}`));
  const mine = new Set(seat.ship_id ? (seat.stations ?? []).map((st) => `${seat.ship_id}/${st}`) : []);
  let role = seat.gm_token ? "gm" : "player";

  const seatBox = h("div");
  const gmTokenInput = h("input", {
    id: "join-gm-token", testid: "join-gm-token", value: seat.gm_token ?? "", autocomplete: "off",
    type: "password",
  });

  const drawSeat = () => {
    if (role === "player") {
      replace(seatBox, h("fieldset", { testid: "station-picker" },
        h("legend", null, "Ship and station"),
        ships.length === 0 ? h("p.muted", null, "This battle has no ships yet.") : null,
        ships.map((ship) => h("div", { style: { "margin-bottom": "8px" } },
          h("div.field-label", null, ship.name ?? ship.id),
          h("div.segmented", { role: "radiogroup", "aria-label": `Stations aboard ${ship.name ?? ship.id}` },
            stationsOf(ship).map((st) => {
              const key = `${ship.id}/${st}`;
              const taken = claims.has(key) && !mine.has(key);
              const bot = botTactic(ship, battle.bot_sides) !== null;
              return h("label", null,
                h("input", {
                  type: "radio", name: "seat", value: key, disabled: taken || bot,
                  testid: `seat-${ship.id}-${st}`, checked: mine.has(key),
                  "aria-label": `${stationLabel(st)} aboard ${ship.name ?? ship.id}${taken ? " (taken)" : ""}${bot ? " (bot)" : ""}`,
                }),
                h("span", null, stationLabel(st), taken ? " · taken" : "", bot ? " · bot" : ""));
            })))),
      ));
    } else if (role === "gm") {
      replace(seatBox, h("div.field", null, h("label", { for: "join-gm-token" }, "GM token"), gmTokenInput));
    } else {
      replace(seatBox, h("p.muted", null, "Spectators watch the public battle state and log."));
    }
  };

  const roleRadio = (value, text) => h("label", null,
    h("input", {
      type: "radio", name: "role", value, checked: role === value, testid: `role-${value}`,
      onChange: () => {
        role = value;
        drawSeat();
      },
    }),
    h("span", null, text));

  replace(box, h("form", {
    testid: "seat-form",
    onSubmit: (e) => {
      e.preventDefault();
      const name = nameInput.value.trim();
      saveName(name);
      if (role === "player") {
        const picked = /** @type {HTMLInputElement | null} */ (box.querySelector('input[name="seat"]:checked'));
        if (!picked) {
          status.className = "notice error";
          status.textContent = "Pick a station first.";
          return;
        }
        const [shipId, station] = picked.value.split("/");
        saveSeat(battleId, { role: "player", ship_id: shipId, stations: [station], name, code });
      } else if (role === "gm") {
        const token = gmTokenInput.value.trim();
        if (!token) {
          status.className = "notice error";
          status.textContent = "The GM role needs the GM token you got when you created the battle.";
          return;
        }
        saveSeat(battleId, { role: "gm", gm_token: token, name, code });
      } else {
        saveSeat(battleId, { role: "spectator", name, code });
      }
      ctx.onEnter(battleId);
    },
  },
  h("p", null, h("strong", null, battle.name || battle.state?.scenario || "Battle"), " ",
    h("span.muted", null, `· ${ships.length} ships`)),
  h("fieldset", null, h("legend", null, "Join as"),
    h("div.segmented", { role: "radiogroup", "aria-label": "Role" },
      roleRadio("player", "Player"), roleRadio("gm", "GM"), roleRadio("spectator", "Spectator"))),
  h("div", { style: { "margin-top": "10px" } }, seatBox),
  h("div.btns", { style: { "margin-top": "12px" } },
    h("button.btn.btn-primary", { type: "submit", testid: "join-battle" }, "Join battle")),
  ));
  drawSeat();
}

/** Station ids of a ship as the server lists them. */
export function stationsOf(ship) {
  const crew = ship.crew ?? {};
  const raw = ship.stations ?? (Array.isArray(crew) ? crew : Object.keys(crew));
  return raw.map((s) => (typeof s === "string" ? s : s.id ?? s.station));
}

// ---- import ------------------------------------------------------------------------------

function renderImport(panel, ctx) {
  const status = h("div.notice", { testid: "import-status", "aria-live": "polite" });
  const fileInput = h("input", { type: "file", id: "import-file", accept: "application/json,.json", testid: "import-file" });
  replace(
    panel,
    h("header", null, h("h2", { id: "import-h" }, "Resume a saved battle")),
    h("form", {
      onSubmit: async (e) => {
        e.preventDefault();
        const file = fileInput.files?.[0];
        if (!file) {
          status.className = "notice error";
          status.textContent = "Choose the events JSON file the GM downloaded.";
          return;
        }
        status.className = "notice";
        status.textContent = "Re-executing the saved commands…";
        try {
          const created = await importBattle(await file.text());
          saveSeat(created.battle_id, { gm_token: created.gm_token, role: "gm", code: created.join_code ?? created.code });
          ctx.onEnter(created.battle_id);
        } catch (err) {
          status.className = "notice error";
          status.textContent = `Cannot resume this file: ${err.message}`;
        }
      },
    },
    h("div.field", null, h("label", { for: "import-file" }, "Events JSON (from “Download battle”)"), fileInput),
    h("div.btns", { style: { "margin-top": "10px" } },
      h("button.btn", { type: "submit", testid: "import-battle" }, "Resume as GM")),
    h("div", { style: { "margin-top": "10px" } }, status)),
  );
}

