// "Your move" at a glance: when one of your stations is awaited the tab's title and favicon
// change (seen from another tab), focus goes to your station panel when it was nowhere useful,
// and, if you switched them on, a short tone and a browser notification. Settings are kept in
// this browser only. Nothing here decides whose move it is: the server's `awaiting` does.
import { h } from "./dom.js";

const ICON = (fill) => `data:image/svg+xml,${encodeURIComponent(
  `<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'><circle cx='8' cy='8' r='6' fill='none' stroke='${fill}' stroke-width='2'/><circle cx='8' cy='8' r='3.5' fill='${fill}'/></svg>`)}`;
const CALM = ICON("#4fd1ff");
const CALL = ICON("#ffb547");
const KEY = "tvtt-alerts";

/** @returns {{sound: boolean, notify: boolean}} */
function loadPrefs() {
  try {
    return { sound: false, notify: false, ...JSON.parse(localStorage.getItem(KEY) ?? "{}") };
  } catch {
    return { sound: false, notify: false };
  }
}

function setIcon(href) {
  let link = /** @type {HTMLLinkElement | null} */ (document.querySelector("link[rel=icon]"));
  if (!link) {
    link = document.createElement("link");
    link.rel = "icon";
    document.head.append(link);
  }
  link.href = href;
}

/** A short two-note chime (Web Audio: no file to fetch). */
function chime() {
  const Ctx = window.AudioContext ?? /** @type {any} */ (window).webkitAudioContext;
  if (!Ctx) return;
  const ctx = new Ctx();
  [660, 880].forEach((freq, i) => {
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.frequency.value = freq;
    gain.gain.setValueAtTime(0.0001, ctx.currentTime + i * 0.16);
    gain.gain.exponentialRampToValueAtTime(0.15, ctx.currentTime + i * 0.16 + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, ctx.currentTime + i * 0.16 + 0.3);
    osc.connect(gain).connect(ctx.destination);
    osc.start(ctx.currentTime + i * 0.16);
    osc.stop(ctx.currentTime + i * 0.16 + 0.32);
  });
  setTimeout(() => ctx.close(), 1000);
}

/**
 * The alert state of one battle page.
 * @param {{baseTitle: () => string, focusTarget: () => HTMLElement | null}} opts
 */
export function yourMoveAlerts({ baseTitle, focusTarget }) {
  const prefs = loadPrefs();
  let calling = "";

  /** Called after every complete batch with what is awaited of us ("" when nothing). */
  const update = (what) => {
    const before = calling;
    calling = what;
    document.title = what ? `▶ Your move — ${baseTitle()}` : baseTitle();
    document.body.dataset.yourMove = String(!!what);
    setIcon(what ? CALL : CALM);
    if (!what || what === before) return;
    // Focus the station panel only when focus is nowhere in particular (never steal it
    // from a field the player is typing in).
    const active = document.activeElement;
    if (!active || active === document.body || active.id === "main") focusTarget()?.focus({ preventScroll: false });
    if (prefs.sound) chime();
    if (prefs.notify && document.hidden && "Notification" in window && Notification.permission === "granted") {
      new Notification("Your move", { body: what, tag: "tvtt-your-move" });
    }
  };

  /** Two switches for the station panel: a chime, a browser notification when the tab is hidden. */
  const controls = () => h("div.alert-prefs", { testid: "alert-prefs" },
    h("label.check", null, h("input", {
      type: "checkbox", testid: "alert-sound", checked: prefs.sound,
      onChange: (e) => {
        prefs.sound = e.target.checked;
        localStorage.setItem(KEY, JSON.stringify(prefs));
        if (prefs.sound) chime();
      },
    }), " Chime on my move"),
    "Notification" in window ? h("label.check", null, h("input", {
      type: "checkbox", testid: "alert-notify", checked: prefs.notify,
      onChange: async (e) => {
        const box = e.target;
        prefs.notify = box.checked && (await Notification.requestPermission()) === "granted";
        box.checked = prefs.notify;
        localStorage.setItem(KEY, JSON.stringify(prefs));
      },
    }), " Notify me when the tab is hidden") : null);

  return { update, controls, reset: () => { document.title = baseTitle(); setIcon(CALM); delete document.body.dataset.yourMove; } };
}
