// The desk's one WebSocket: reconnects with capped exponential back-off and answers the server's heartbeat.
export class DeskSocket extends EventTarget {
  constructor(url) {
    super();
    this.url = url;
    this.attempt = 0;
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
      this.emit("status", { status: "closed", code: event.code });
      // 4001: replaced by another tab; 4002: logged out. Reconnecting would only fight over the desk.
      // 1012 (the desk restarts) and network drops reconnect.
      if (this.stopped || event.code === 4001 || event.code === 4002) return;
      const delay = Math.min(30000, 500 * 2 ** this.attempt) * (0.75 + Math.random() * 0.5);
      this.attempt += 1;
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
