// The desk's one WebSocket: reconnects with capped exponential back-off and answers the server's heartbeat.

// 1008: the desk closed this page for sending far too many messages (a bug in a loop, a script). Reconnecting at
// the usual 0.5 s would only repeat it, and each new socket costs the desk a hello: wait 15 s, doubled at each such
// close in a row up to 5 min; a socket that then stays open a minute ends the row.
const ABUSE_FIRST_MS = 15000;
const ABUSE_MAX_MS = 300000;
const CALM_MS = 60000;

export class DeskSocket extends EventTarget {
  constructor(url) {
    super();
    this.url = url;
    this.attempt = 0;
    this.abuse = 0;
    this.openedAt = 0;
    this.stopped = false;
    this.ws = null;
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    if (this.ws) this.ws.close(1000);
  }

  connect() {
    const ws = new WebSocket(this.url);
    this.ws = ws;
    this.emit("status", { status: "connecting" });
    ws.onopen = () => {
      this.attempt = 0;
      this.openedAt = Date.now();
      this.emit("status", { status: "open" });
    };
    ws.onmessage = (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      if (message.type === "ping") {
        this.send({ type: "pong" });
        return;
      }
      this.emit("message", message);
    };
    ws.onclose = (event) => {
      const abusive = event.code === 1008;
      if (abusive) this.abuse += 1;
      else if (this.openedAt && Date.now() - this.openedAt >= CALM_MS) this.abuse = 0;
      this.openedAt = 0;
      // 4001: replaced by another tab; 4002: logged out. Reconnecting would only fight over the desk.
      // 1012 (the desk restarts) and network drops reconnect.
      if (this.stopped || event.code === 4001 || event.code === 4002) {
        this.emit("status", { status: "closed", code: event.code });
        return;
      }
      const base = abusive
        ? Math.min(ABUSE_MAX_MS, ABUSE_FIRST_MS * 2 ** (this.abuse - 1))
        : Math.min(30000, 500 * 2 ** this.attempt);
      const delay = base * (0.75 + Math.random() * 0.5);
      this.attempt += 1;
      this.emit("status", { status: "closed", code: event.code, retryMs: delay });
      setTimeout(() => this.connect(), delay);
    };
  }

  send(message) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify(message));
      return true;
    }
    return false;
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
