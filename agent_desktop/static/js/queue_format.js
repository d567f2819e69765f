// The pure part of the phone panel's queue figures and callbacks: live wait counters between two `queue.stats`
// messages, merging those messages, and the checks of a callback booked by hand. No DOM here (tested alone).

// A `queue.stats` message's queues merged into what the page knows, by name (a message may carry only the queues
// that changed); each entry remembers when it was received, so its longest wait can count on.
export function mergeStats(known, queues, receivedAt) {
  const merged = new Map(known);
  for (const q of queues || []) {
    if (!q || typeof q.name !== "string") continue;
    merged.set(q.name, {
      name: q.name,
      waiting: Math.max(0, Number(q.waiting) || 0),
      longest_wait_s: Math.max(0, Number(q.longest_wait_s) || 0),
      callbacks_pending: Math.max(0, Number(q.callbacks_pending) || 0),
      receivedAt,
    });
  }
  return merged;
}

// The longest wait at `now`: the desk's figure plus the time since it was sent, while anybody waits (the oldest
// caller keeps waiting until the next message says otherwise); 0 when nobody waits.
export function liveLongestWait(stat, now) {
  if (!stat || stat.waiting <= 0) return 0;
  return stat.longest_wait_s + Math.max(0, (now - stat.receivedAt) / 1000);
}

// Totals over the agent's queues, for the panel's heading.
export function totals(stats, now) {
  let waiting = 0;
  let longest = 0;
  let callbacks = 0;
  for (const stat of stats.values()) {
    waiting += stat.waiting;
    callbacks += stat.callbacks_pending;
    longest = Math.max(longest, liveLongestWait(stat, now));
  }
  return { waiting, longest, callbacks };
}

// A number a callback can dial: digits with an optional leading +, the separators people type removed
// ("0470 12 34 56", "+32 2/555.00.00"); null when it is not one (too short, letters, "anonymous").
export function callbackNumber(text) {
  const number = String(text ?? "").replace(/[\s./()-]/g, "");
  return /^\+?\d{3,20}$/.test(number) ? number : null;
}

// A callback past its due moment (the end of its last working day) is shown as late.
export function isOverdue(due, now) {
  const at = new Date(due).getTime();
  return Number.isFinite(at) && at < now;
}
