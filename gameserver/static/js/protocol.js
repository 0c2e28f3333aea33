// WebSocket protocol client (docs/protocol.md). It owns one connection to `/ws`, joins a battle,
// tracks the last event seq it has applied, reconnects by itself with backoff and — because the
// server replays exactly the events after `last_seq` (or sends a snapshot when we are too far
// behind) — catches up without the page having to do anything.
//
// It knows the wire shapes; it knows nothing about the rules or the DOM. The page listens to it:
//   "status"   {detail: {state: "connecting"|"open"|"joined"|"reconnecting"|"closed", reason}}
//   "joined"   {detail: joined message (role, peer_id, ship_id, stations, resume_token, seq)}
//   "snapshot" {detail: snapshot message (seq, state, awaiting, is_over)}
//   "event"    {detail: event message (seq, event, awaiting?)} — only seq > lastSeq, in order
//   "presence" {detail: presence message (peers, claims)}
//   "legal"    {detail: legal message (ship_id, station, commands)}
//   "problem"  {detail: error message not tied to a pending request}
//   "shutdown" {detail: server_shutdown message}
//   "joinfailed" {detail: ServerError} — the join was refused; no further retries
//   "ended"    {detail: ServerError} — kicked by the GM or the battle expired; no retries

/** Random URL-safe id. crypto.randomUUID exists only in secure contexts, getRandomValues always. */
export function randomId(bytes = 16) {
  const buf = new Uint8Array(bytes);
  crypto.getRandomValues(buf);
  return btoa(String.fromCharCode(...buf)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** An error answered by the server (stable `code`, readable `message`). */
export class ServerError extends Error {
  /** @param {string} code @param {string} message @param {any} [detail] */
  constructor(code, message, detail) {
    super(message || code);
    this.code = code;
    this.detail = detail;
  }
}

/**
 * A refusal that means "not taken, send it again soon": the connection's rate limit, or a
 * request made while (re)connecting. Anything else is the server's answer to the request.
 * @param {any} err
 */
export const retryLater = (err) => err?.code === "rate_limited" || err?.code === "not_connected";

/** WebSocket URL of the server that served this page. */
export function defaultSocketUrl(loc = window.location) {
  return `${loc.protocol === "https:" ? "wss:" : "ws:"}//${loc.host}/ws`;
}

/** Join errors worth retrying later (the server is busy or stopping), unlike a refused claim. */
const RETRYABLE_JOIN_ERRORS = new Set([
  "shutting_down",
  "store_unavailable",
  "too_many_connections",
  "rate_limited",
  "internal_error",
]);

const BACKOFF_MS = [250, 500, 1000, 2000, 4000, 8000];

export class BattleClient extends EventTarget {
  /**
   * @param {object} opts
   * @param {Record<string, any>} opts.join  join fields (battle_id or join_code, role, ship_id,
   *   stations, resume_token, gm_token, name); last_seq is added on every reconnect
   * @param {string} [opts.url]
   */
  constructor({ join, url = defaultSocketUrl() }) {
    super();
    this.url = url;
    this.joinFields = { ...join };
    this.lastSeq = 0;
    this.state = "closed";
    /** @type {WebSocket | null} */
    this.ws = null;
    /** @type {Map<string, {resolve: (v: any) => void, reject: (e: any) => void}>} */
    this.pending = new Map();
    this.attempt = 0;
    this.stopped = false;
    /** @type {ReturnType<typeof setTimeout> | null} */
    this.retryTimer = null;
    this.welcome = null;
  }

  /** Open the socket (and keep it open until close()). */
  connect() {
    this.stopped = false;
    this.openSocket();
    return this;
  }

  /** Stop for good: no reconnect. */
  close() {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.ws?.close(1000, "bye");
    this.setState("closed");
  }

  /**
   * Send a game command (an intent); resolves with the ack, rejects with a ServerError.
   * @param {Record<string, any>} command  the engine command body (its own `type`)
   */
  command(command) {
    return this.request({ type: "command", command });
  }

  /**
   * Send a message carrying a fresh `client_id` and wait for the ack/error/reply echoing it.
   * @param {Record<string, any>} message
   */
  request(message) {
    const clientId = randomId(9);
    return new Promise((resolve, reject) => {
      if (!this.ws || this.ws.readyState !== WebSocket.OPEN || this.state !== "joined") {
        reject(new ServerError("not_connected", "Not connected to the battle yet; retrying."));
        return;
      }
      this.pending.set(clientId, { resolve, reject });
      this.ws.send(JSON.stringify({ ...message, client_id: clientId }));
    });
  }

  /** Update join fields (e.g. a claimed station) used on the next (re)join. */
  setJoin(fields) {
    Object.assign(this.joinFields, fields);
  }

  // -- internals ---------------------------------------------------------------------------

  setState(state, reason = "") {
    this.state = state;
    this.dispatchEvent(new CustomEvent("status", { detail: { state, reason } }));
  }

  openSocket() {
    this.setState(this.attempt ? "reconnecting" : "connecting");
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.addEventListener("open", () => {
      this.setState("open");
      const join = { type: "join", ...this.joinFields };
      // Without last_seq the server sends a snapshot; with it, exactly the events we missed.
      if (this.lastSeq > 0) join.last_seq = this.lastSeq;
      ws.send(JSON.stringify(join));
    });
    ws.addEventListener("message", (ev) => this.onMessage(ev.data));
    ws.addEventListener("close", (ev) => this.onClose(ev));
  }

  onClose(ev) {
    for (const { reject } of this.pending.values()) {
      reject(new ServerError("disconnected", "Connection lost before the server answered."));
    }
    this.pending.clear();
    if (this.stopped) return;
    const delay = this.nextDelay ?? BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)];
    this.nextDelay = null;
    this.attempt += 1;
    this.setState("reconnecting", ev.reason || `closed (${ev.code})`);
    this.retryTimer = setTimeout(() => this.openSocket(), delay + Math.random() * 200);
  }

  emit(name, detail) {
    this.dispatchEvent(new CustomEvent(name, { detail }));
  }

  onMessage(raw) {
    let msg;
    try {
      msg = JSON.parse(raw);
    } catch {
      this.emit("problem", { code: "bad_message", message: "The server sent unreadable data." });
      return;
    }
    const waiter = msg.client_id ? this.pending.get(msg.client_id) : undefined;
    switch (msg.type) {
      case "joined":
        this.attempt = 0;
        this.welcome = msg;
        // Rejoin by id (not by code) and keep the resume token the server bound our claim to.
        this.joinFields.battle_id = msg.battle_id;
        delete this.joinFields.join_code;
        if (msg.resume_token) this.joinFields.resume_token = msg.resume_token;
        this.setState("joined");
        this.emit("joined", msg);
        break;
      case "snapshot":
        this.lastSeq = Number(msg.seq ?? msg.state?.seq ?? 0);
        this.emit("snapshot", msg);
        break;
      case "event": {
        const seq = Number(msg.seq ?? msg.event?.seq);
        if (seq <= this.lastSeq) break; // duplicate after a reconnect race
        this.lastSeq = seq;
        this.emit("event", msg);
        break;
      }
      case "presence":
        this.emit("presence", msg);
        break;
      case "table":
        this.emit("table", msg);
        break;
      case "chat":
        this.emit("chat", msg);
        break;
      case "timer":
        this.emit("timer", msg);
        break;
      case "legal":
        if (waiter) {
          this.pending.delete(msg.client_id);
          waiter.resolve(msg);
        }
        this.emit("legal", msg);
        break;
      case "server_shutdown":
        // The server drains and asks us to come back later; honour its hint, then retry.
        this.nextDelay = Number(msg.reconnect_after_ms ?? 1000);
        this.emit("shutdown", msg);
        break;
      case "ack":
        if (waiter) {
          this.pending.delete(msg.client_id);
          waiter.resolve(msg);
        }
        break;
      case "error": {
        const err = new ServerError(msg.code, msg.message, msg);
        if (waiter) {
          this.pending.delete(msg.client_id);
          waiter.reject(err);
        } else if (this.state === "open" && !RETRYABLE_JOIN_ERRORS.has(msg.code)) {
          // The join itself was refused (station taken, bad GM token, no such battle):
          // retrying the same join cannot help, so stop and let the page ask the user.
          this.stopped = true;
          this.ws?.close(1000, "join refused");
          this.setState("closed", msg.message);
          this.emit("joinfailed", err);
        } else if (msg.code === "kicked" || msg.code === "not_found") {
          // Removed by the GM or the battle expired: coming back on our own would be wrong.
          this.stopped = true;
          this.setState("closed", msg.message);
          this.emit("ended", err);
        } else {
          this.emit("problem", msg);
        }
        break;
      }
      default:
        if (waiter) {
          this.pending.delete(msg.client_id);
          waiter.resolve(msg);
        }
    }
  }
}
