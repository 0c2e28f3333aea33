// The station panel's actions: rendered only from the legal commands the server sent for this
// station (so the page never offers an illegal action), with pickers for the choices.
import { h, label } from "./dom.js";

/**
 * @param {{shipId: string, station: string, state: any, commands: any[], isAwaited: boolean,
 *   send: (command: any) => Promise<any>}} ctx
 */
export function renderActions(ctx) {
  return h("div.actions", { testid: `actions-${ctx.station}` },
    ctx.commands.length
      ? ctx.commands.map((c) => h("button.btn", { type: "button", onClick: () => ctx.send(c) }, label(c.type)))
      : h("p.muted", { testid: "no-actions" }, ctx.isAwaited ? "Loading your options…" : "Nothing to do until your step comes round."));
}
