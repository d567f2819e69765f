// The phone panel's queue side (DESIGN.md §9): per queue the agent serves, how many callers wait and the longest
// wait (`queue.stats`, counting on between messages); a callback offered by the desk, shown like a call
// (`callback.offered` → `callback.accept` / `callback.reject`); and a callback booked during a call
// (`POST /api/callbacks`). phone.js keeps the call itself; this module only reads its call messages.
import { api } from "./api.js";
import { formatDateTime, formatDuration, formatNumber } from "./format.js";
import { errorText, setLive, setPlain, setText, t } from "./i18n.js";
import { queueName } from "./queue_name.js";
import { callbackNumber, isOverdue, liveLongestWait, mergeStats, totals } from "./queue_format.js";

const $ = (id) => document.getElementById(id);
const LIVE = ["connected", "held"];

export function initQueuePanel(socket, toast, phone) {
  const ui = {
    stats: $("queue-stats"),
    rows: $("queue-stat-rows"),
    offer: $("callback-offer"),
    offerNumber: $("callback-number"),
    offerQueue: $("callback-queue"),
    offerTimes: $("callback-times"),
    accept: $("callback-accept"),
    reject: $("callback-reject"),
    book: $("callback-book"),
    form: $("callback-book-form"),
    formNumber: $("callback-book-number"),
    formQueue: $("callback-book-queue"),
    formNote: $("callback-book-note"),
    formSubmit: $("callback-book-submit"),
    formError: $("callback-book-error"),
    bookStatus: $("callback-book-status"),
  };
  let stats = new Map(); // queue name → {name, waiting, longest_wait_s, callbacks_pending, receivedAt}
  let offer = null; // the callback offered to us: {callback_id, number, queue, requested_at, due}
  const calls = new Map(); // call_id → {number, queue, state}: to prefill a booking with the call's own
  let accepting = false;
  const dialledCallbacks = new Map(); // callback_id → the queue it was offered for

  // -- queue figures ----------------------------------------------------------------------------------------

  function rowFor(name) {
    let row = ui.rows.querySelector(`tr[data-queue="${CSS.escape(name)}"]`);
    if (!row) {
      row = document.createElement("tr");
      row.dataset.testid = "queue-stat";
      row.dataset.queue = name;
      for (const cls of ["name", "waiting num", "longest num", "callbacks num"]) {
        const cell = document.createElement(cls === "name" ? "th" : "td");
        cell.className = cls;
        if (cls === "name") cell.scope = "row";
        row.append(cell);
      }
      ui.rows.append(row);
    }
    return row;
  }

  function renderStats() {
    ui.stats.hidden = stats.size === 0;
    const now = Date.now();
    for (const stat of [...stats.values()].sort((a, b) => a.name.localeCompare(b.name))) {
      const row = rowFor(stat.name);
      ui.rows.append(row); // in name order, stable: rows never jump while the agent reads them
      const longest = liveLongestWait(stat, now);
      row.dataset.waiting = String(stat.waiting);
      row.dataset.longestWait = String(Math.floor(longest));
      row.dataset.callbacks = String(stat.callbacks_pending);
      row.dataset.busy = stat.waiting > 0 ? "1" : "0";
      const [name, waiting, longestCell, callbacks] = row.children;
      setLive(name, () => queueName(stat.name));
      setLive(waiting, () => formatNumber(stat.waiting));
      setLive(longestCell, () => (stat.waiting ? formatDuration(liveLongestWait(stat, Date.now())) : "–"));
      setLive(callbacks, () => formatNumber(stat.callbacks_pending));
    }
    const sum = totals(stats, now);
    ui.stats.dataset.waiting = String(sum.waiting);
    ui.stats.dataset.callbacks = String(sum.callbacks);
  }

  function onStats(message) {
    stats = mergeStats(stats, message.queues, Date.now());
    renderStats();
    fillQueues();
  }

  // -- the callback offer -----------------------------------------------------------------------------------

  function chime() {
    // One soft two-note chime, not the ring: a callback is offered at a calm moment and waits for the agent.
    const ctx = phone?.ringer?.ctx;
    if (!ctx || ctx.state !== "running") return;
    const now = ctx.currentTime;
    for (const [freq, at] of [[660, 0], [880, 0.18]]) {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.frequency.value = freq;
      gain.gain.value = 0.12;
      osc.connect(gain).connect(ctx.destination);
      osc.start(now + at);
      osc.stop(now + at + 0.16);
    }
  }

  function currentCall() {
    for (const [id, call] of calls) if (call.state !== "ended") return { call_id: id, ...call };
    return null;
  }

  function renderOffer() {
    ui.offer.hidden = !offer;
    if (!offer) return;
    const o = offer;
    ui.offer.dataset.callbackId = String(o.callback_id);
    ui.offer.dataset.queue = o.queue || "";
    ui.offer.dataset.overdue = isOverdue(o.due, Date.now()) ? "1" : "0";
    if (o.number) setPlain(ui.offerNumber, o.number);
    else setText(ui.offerNumber, "phone.anonymous");
    setLive(ui.offerQueue, () => t("callback.offer_queue", { queue: queueName(o.queue) }));
    setLive(ui.offerTimes, () =>
      t("callback.offer_times", { requested: formatDateTime(o.requested_at), due: formatDateTime(o.due) }),
    );
    // The desk dials on accept: not while this agent has a call, nor before the audio path is up.
    ui.accept.disabled = accepting || Boolean(currentCall()) || !phone?.rtc?.live;
  }

  function clearOffer(id) {
    if (offer && (id === undefined || String(offer.callback_id) === String(id))) {
      offer = null;
      accepting = false;
      renderOffer();
    }
  }

  ui.accept.addEventListener("click", async () => {
    if (!offer || accepting) return;
    accepting = true;
    renderOffer();
    await phone?.rtc?.setInCall(true); // the microphone is ready when the citizen picks up
    if (!socket.send({ type: "callback.accept", callback_id: offer.callback_id })) {
      accepting = false;
      await phone?.rtc?.setInCall(false);
      toast(t("error.network"));
      renderOffer();
    }
    // The offer goes when `call.state dialing` with this callback_id arrives (or an error says why not).
  });
  ui.reject.addEventListener("click", () => {
    if (!offer) return;
    if (socket.send({ type: "callback.reject", callback_id: offer.callback_id })) clearOffer();
    else toast(t("error.network"));
  });

  // -- booking a callback during a call ---------------------------------------------------------------------

  function fillQueues(preferred) {
    const chosen = preferred ?? ui.formQueue.value;
    const names = new Set(stats.keys());
    if (chosen) names.add(chosen);
    const options = [...names].sort((a, b) => a.localeCompare(b)).map((name) => {
      const option = new Option("", name);
      setLive(option, () => queueName(name));
      option.selected = name === chosen;
      return option;
    });
    ui.formQueue.replaceChildren(...options);
  }

  function renderBook() {
    const call = currentCall();
    ui.book.hidden = !(call && LIVE.includes(call.state)) || !ui.form.hidden;
  }

  function showFormError(key, vars) {
    ui.formError.hidden = !key;
    if (key) setLive(ui.formError, () => (typeof key === "function" ? key() : t(key, vars)));
    else setLive(ui.formError, null);
  }

  ui.book.addEventListener("click", () => {
    const call = currentCall();
    ui.formNumber.value = callbackNumber(call?.number) ?? "";
    ui.formNote.value = "";
    fillQueues(call?.queue || [...stats.keys()][0] || "");
    showFormError(null);
    ui.form.hidden = false; // stays open after the call ends: what the agent typed is never lost
    renderBook();
    (ui.formNumber.value ? ui.formNote : ui.formNumber).focus();
  });
  $("callback-book-cancel").addEventListener("click", () => {
    ui.form.hidden = true;
    renderBook();
  });
  ui.form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const number = callbackNumber(ui.formNumber.value);
    if (!number) {
      ui.formNumber.setAttribute("aria-invalid", "true");
      showFormError("callback.number_invalid");
      ui.formNumber.focus();
      return;
    }
    ui.formNumber.removeAttribute("aria-invalid");
    const queue = ui.formQueue.value;
    const note = ui.formNote.value.trim();
    ui.formSubmit.disabled = true;
    try {
      const body = { number, queue, ...(note ? { note } : {}) };
      const created = await api("POST", "/api/callbacks", body);
      ui.form.hidden = true;
      showFormError(null);
      ui.bookStatus.dataset.callbackId = String(created?.id ?? "");
      const vars = { id: created?.id ?? "", number, queue: () => queueName(queue) };
      setText(ui.bookStatus, "callback.booked", vars);
      toast(t("callback.booked", vars));
    } catch (e) {
      showFormError(() => errorText(e)); // the form keeps what was typed: correct it and book again
    } finally {
      ui.formSubmit.disabled = false;
      renderBook();
    }
  });

  // -- messages -----------------------------------------------------------------------------------------------

  function onCallState(message) {
    const id = message.call_id;
    if (message.callback_id != null) clearOffer(message.callback_id);
    if (message.state === "ended") calls.delete(id);
    else {
      const known = calls.get(id) || {};
      calls.set(id, {
        number: message.number ?? known.number,
        queue: message.queue || known.queue || offerQueueOf(message) || "",
        state: message.state,
      });
    }
    renderOffer();
    renderBook();
  }

  // A dialled callback belongs to the queue it was requested in.
  function offerQueueOf(message) {
    return message.callback_id != null ? dialledCallbacks.get(String(message.callback_id)) : undefined;
  }

  document.addEventListener("desk:hello", (event) => {
    const hello = event.detail;
    calls.clear();
    stats = new Map();
    ui.rows.replaceChildren();
    offer = null;
    accepting = false;
    for (const call of hello.calls || []) onCallState(call);
    if (hello.callback_offer) onOffer(hello.callback_offer);
    renderStats();
    renderOffer();
    renderBook();
  });
  document.addEventListener("desk:queue.stats", (event) => onStats(event.detail));
  function onOffer(detail) {
    offer = { ...detail };
    accepting = false;
    dialledCallbacks.set(String(detail.callback_id), detail.queue || "");
    renderOffer();
  }
  document.addEventListener("desk:callback.offered", (event) => {
    onOffer(event.detail);
    chime();
  });
  document.addEventListener("desk:callback.withdrawn", (event) => clearOffer(event.detail.callback_id));
  document.addEventListener("desk:call.offered", (event) => {
    const { call_id: id, from, queue } = event.detail;
    calls.set(id, { number: from, queue: queue || "", state: "ringing" });
  });
  document.addEventListener("desk:call.state", (event) => onCallState(event.detail));
  document.addEventListener("desk:error", async () => {
    if (accepting) {
      // The desk refused the callback (taken by someone else, the agent's state changed…): offer gone.
      clearOffer();
      if (!currentCall()) await phone?.rtc?.setInCall(false);
    }
  });
  document.addEventListener("desk:agent-state", (event) => {
    // An offer is for an available agent; going on break puts it back for the others (the desk does the same).
    if (offer && !accepting && !["available", "on_call", "outbound"].includes(event.detail.state)) clearOffer();
  });
  phone?.rtc?.addEventListener("state", renderOffer);

  setInterval(() => {
    if ([...stats.values()].some((s) => s.waiting > 0)) renderStats();
  }, 1000);
  renderStats();
  renderOffer();
  renderBook();
}
