// The supervisor wall's model: `wall.snapshot` replaces it, `wall.update` deltas merge into it (DESIGN.md §10).
// Durations come as "seconds so far" when they (re)start; each is anchored to this page's clock on arrival
// (`…At`, ms) and counted up from there, so the desk's and the page's clocks never need to agree.
export function emptyWall() {
  return { queues: new Map(), agents: new Map(), alerts: [] };
}

function mergeQueue(known, delta, now) {
  const queue = { ...(known || {}), ...delta };
  queue.agents = { ...(known?.agents || {}), ...(delta.agents || {}) };
  if ("longest_wait_s" in delta) queue.waitAt = now - delta.longest_wait_s * 1000;
  return queue;
}

function mergeAgent(known, delta, now) {
  const agent = { ...(known || {}), ...delta };
  // With a new state, a missing reason is "" and a missing state_s 0 (the desk leaves them out to save bytes).
  if ("state" in delta) {
    agent.reason = delta.reason || "";
    agent.stateAt = now - (delta.state_s || 0) * 1000;
  }
  if ("call" in delta) agent.callAt = delta.call ? now - delta.call.s * 1000 : null;
  return agent;
}

// Applies one wall message; returns the wall (a new one for a snapshot) or null for other messages.
export function applyWall(wall, message, now = Date.now()) {
  if (message.type === "wall.snapshot") {
    const fresh = emptyWall();
    for (const q of message.queues || []) fresh.queues.set(q.name, mergeQueue(null, q, now));
    for (const a of message.agents || []) fresh.agents.set(a.id, mergeAgent(null, a, now));
    fresh.alerts = message.alerts || [];
    return fresh;
  }
  if (message.type !== "wall.update") return null;
  for (const q of message.queues || []) wall.queues.set(q.name, mergeQueue(wall.queues.get(q.name), q, now));
  for (const a of message.agents || []) wall.agents.set(a.id, mergeAgent(wall.agents.get(a.id), a, now));
  for (const id of message.gone || []) wall.agents.delete(id);
  if (message.alerts) wall.alerts = message.alerts;
  return wall;
}

export function seconds(anchor, now = Date.now()) {
  return anchor == null ? null : Math.max(0, Math.floor((now - anchor) / 1000));
}

export function longestWait(queue, now = Date.now()) {
  return queue.waiting > 0 ? seconds(queue.waitAt, now) : 0;
}
