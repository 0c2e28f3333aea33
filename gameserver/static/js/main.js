// Entry point: routes between the lobby and a battle by the URL.
//   /                   lobby (create, join by code, resume from file)
//   /?join=CODE         lobby with the join code filled in (the share link)
//   /?battle=ID         the battle, rejoining with the seat this browser stored for it (without
//                       one: the lobby's seat picker for that battle)
import { $, h, replace } from "./dom.js";
import { enterBattle } from "./battle.js";
import { renderLobby } from "./lobby.js";
import { loadSeat } from "./storage.js";

const view = $("#view");
const toastBox = $("#toast");
const conn = $("#conn");
const topbar = $("#topbar-battle");
/** @type {{close: () => void} | null} */
let current = null;
/** @type {ReturnType<typeof setTimeout> | null} */
let toastTimer = null;

/** Show a short message (errors stay longer). */
function toast(message, kind = "info") {
  replace(toastBox, h("p", { class: `notice ${kind === "info" ? "" : kind}`, testid: "toast" }, message));
  if (toastTimer) clearTimeout(toastTimer);
  toastTimer = setTimeout(() => replace(toastBox), kind === "error" ? 8000 : 4000);
}

function setConnection(state, text) {
  conn.dataset.state = state;
  conn.textContent = text;
}

function setTopbar(node) {
  replace(topbar, node ? [...node.childNodes] : []);
}

function route() {
  current?.close();
  current = null;
  setTopbar(null);
  const params = new URLSearchParams(location.search);
  const battleId = params.get("battle");
  // A battle link opens the battle only for a browser that already holds a seat in it (a
  // reload); anyone else first picks a role and station in the lobby.
  if (battleId && loadSeat(battleId).role) {
    document.title = "Battle — Traveller VTT";
    current = enterBattle(view, battleId, { toast, setTopbar, setConnection, leave: () => go("/") });
  } else {
    document.title = "Traveller VTT — starship combat";
    setConnection("closed", "lobby");
    renderLobby(view, {
      code: params.get("join") ?? undefined,
      battleId: battleId ?? undefined,
      toast,
      onEnter: (id) => go(`/?battle=${encodeURIComponent(id)}`),
    });
  }
}

function go(url) {
  history.pushState(null, "", url);
  route();
  $("#main").focus();
}

window.addEventListener("popstate", route);
route();
