// Table chat and whispers: lines the server keeps beside the battle (never in its log). Every
// line is shown as text (never as HTML): what a player types is what everyone reads.

import { h, replace } from "./dom.js";

export const CHAT_MAX_CHARS = 500; // gameserver.protocol.CHAT_MAX_CHARS

/**
 * The chat panel: a scrollable list and a form. `send(to, text)` resolves when the server
 * acknowledged the line; a refusal rejects with the server's words (shown under the form).
 * @param {{send: (to: string, text: string) => Promise<any>}} ctx
 */
export function chatPanel(ctx) {
  const list = h("ol.chat-lines", { testid: "chat-lines", "aria-live": "polite", "aria-label": "Chat lines", tabindex: "0" });
  const to = /** @type {HTMLSelectElement} */ (h("select", { id: "chat-to", testid: "chat-to" }));
  const text = /** @type {HTMLInputElement} */ (h("input", {
    id: "chat-text", testid: "chat-text", type: "text", maxlength: String(CHAT_MAX_CHARS), autocomplete: "off",
  }));
  const problem = h("p.small.chat-problem", { testid: "chat-problem", role: "status" });
  const form = h("form.chat-form", {
    testid: "chat-form",
    onSubmit: (e) => {
      e.preventDefault();
      const line = text.value;
      problem.textContent = "";
      ctx.send(to.value, line).then(() => {
        if (text.value === line) text.value = "";
        text.focus();
      }).catch((err) => { problem.textContent = err.message || String(err); });
    },
  },
  h("label.visually-hidden", { for: "chat-to" }, "Say to"), to,
  h("label.visually-hidden", { for: "chat-text" }, "Chat line"), text,
  h("button.btn", { type: "submit", testid: "chat-send" }, "Send"));
  const root = h("section.chat", { testid: "chat-panel", "aria-labelledby": "chat-h" },
    h("h3", { id: "chat-h" }, "Table chat"), list, form, problem);
  /** @type {Map<number, any>} */
  const lines = new Map();
  return {
    root,
    /** Add lines from a `chat` frame (a line already shown is not repeated). */
    add(/** @type {any[]} */ incoming) {
      const atEnd = list.scrollTop + list.clientHeight >= list.scrollHeight - 4;
      for (const line of incoming) {
        if (lines.has(line.id)) continue;
        lines.set(line.id, line);
        list.append(lineItem(line));
      }
      if (atEnd) list.scrollTop = list.scrollHeight;
    },
    /** Who the line may go to: the table, the GM (players) or one person (the GM). */
    setRecipients(/** @type {{value: string, label: string}[]} */ options) {
      const key = JSON.stringify(options);
      if (to.dataset.key === key) return;
      to.dataset.key = key;
      const keep = to.value;
      replace(to, options.map((o) => h("option", { value: o.value }, o.label)));
      if (options.some((o) => o.value === keep)) to.value = keep;
    },
  };
}

function lineItem(line) {
  const whisper = line.to !== "table";
  const who = line.sender_role === "gm" && line.sender !== "GM" ? `${line.sender} (GM)` : line.sender;
  const whom = line.to === "gm" ? " → GM" : line.to === "person" ? ` → ${line.to_name}` : "";
  return h("li", { dataset: { id: String(line.id), to: line.to }, class: whisper ? "whisper" : "" },
    h("span.chat-who", null, `${who}${whom}${whisper ? " (whisper)" : ""}:`),
    " ",
    h("span.chat-text", null, line.text));
}
