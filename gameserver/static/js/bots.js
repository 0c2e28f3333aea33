// The server's bot per ship (docs/protocol.md, "The bot per ship"): the tactic levels the GM and
// a solo player choose from, and who runs a ship now. Pure: it reads the public view only.

/** The tactic levels, mildest first: the engine's names (protocol.BOT_TACTICS; a test compares). */
export const BOT_TACTICS = ["cautious", "standard", "aggressive"];

/** What each level does, in the table's words (docs/play.md, "The bot"). */
export const TACTIC_HELP = {
  cautious: "keeps Thrust to evade, launches at Long or nearer, plots a jump at once, runs at 60% Hull, strikes at 25%",
  standard: "closes to its weapons' reach, fires everything, runs at 20% Hull, strikes at 10%",
  aggressive: "spends all Thrust closing to Short, evades only when badly hurt, never runs or strikes",
};

/**
 * The tactic the server's bot runs a ship with, or null when people run it: the GM's choice for
 * the ship (`bot`: a tactic, or "off"), else "standard" when its side is a bot side.
 * @param {any} ship  a ship of the public view
 * @param {string[]} botSides
 * @returns {string | null}
 */
export function botTactic(ship, botSides) {
  if (ship?.bot) return BOT_TACTICS.includes(ship.bot) ? ship.bot : null;
  return (botSides ?? []).includes(ship?.side) ? "standard" : null;
}
