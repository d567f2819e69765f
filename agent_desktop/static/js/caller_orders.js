// Why a citizen rings back (DESIGN.md §11, issue 13): `call.offered` carries the caller's open or recent call
// orders; they show in the incoming call and stay on the answered call, each with its name, list, why the desk
// called (the list's kind, a tracing contact), when it last called and with what outcome, and its note — so a
// contact-tracing agent knows at once what the citizen is calling about. Its own module: phone.js owns the call,
// this one only follows the same socket events.
import { formatDateTime } from "./format.js";
import { setLive, setPlain, setText, t } from "./i18n.js";

const $ = (id) => document.getElementById(id);
const KINDS = ["reserve", "priority", "tracing"];
const STATES = ["pending", "offered", "done", "failed"];
// Every outcome an attempt records, the call's own `declined` (603) included; `network_error` is not one: that dial
// never reached the phone, and `last_called` leaves it out.
const OUTCOMES = ["reached", "no_answer", "busy", "voicemail", "wrong_number", "refused", "do_not_call", "call_back_at", "declined"];

function part(tag, className, testid) {
  const el = document.createElement(tag);
  el.className = className;
  el.dataset.testid = testid;
  return el;
}

function whyKey(order) {
  const kind = KINDS.includes(order.kind) ? order.kind : "priority";
  return kind === "tracing" && order.contact ? "callorders.kind.tracing_contact" : `callorders.kind.${kind}`;
}

function lastCall(order) {
  const state = () => t(`callorders.state.${STATES.includes(order.state) ? order.state : "pending"}`);
  let called;
  if (!order.last_called) called = () => t("callorders.not_called");
  else if (OUTCOMES.includes(order.outcome)) {
    called = () =>
      t("callorders.called", { at: () => formatDateTime(order.last_called), outcome: () => t(`order.outcome_${order.outcome}`) });
  } else called = () => t("callorders.called_no_outcome", { at: () => formatDateTime(order.last_called) });
  return () => t("callorders.line", { called, state });
}

function orderItem(order) {
  const item = part("li", "call-order", "call-order");
  item.dataset.orderId = String(order.order_id);
  item.dataset.list = order.list || "";
  item.dataset.kind = order.kind || "";
  item.dataset.state = order.state || "";
  const name = part("strong", "call-order-name", "call-order-name");
  name.translate = false;
  if (order.name) setPlain(name, order.name);
  else setText(name, "order.no_name");
  const why = part("span", "call-order-why", "call-order-why");
  setText(why, whyKey(order), { list: order.list || "" });
  const last = part("span", "call-order-last", "call-order-last");
  setLive(last, lastCall(order));
  item.append(name, why, last);
  if (order.note) {
    const note = part("span", "call-order-note", "call-order-note");
    note.translate = false;
    note.textContent = order.note;
    item.append(note);
  }
  return item;
}

export function initCallerOrders() {
  const box = $("call-orders");
  const list = $("call-orders-list");
  const incoming = $("call-incoming");
  const callStatus = $("call-status");
  let callId = null; // the call whose orders are shown

  function clear() {
    callId = null;
    box.hidden = true;
    list.replaceChildren();
    incoming.querySelector(".row").before(box); // back in the incoming call for the next one
  }

  function show(id, orders) {
    if (!Array.isArray(orders) || !orders.length) {
      if (callId !== null) clear();
      return false;
    }
    clear();
    callId = id;
    list.replaceChildren(...orders.map(orderItem));
    box.hidden = false;
    return true;
  }

  document.addEventListener("desk:call.offered", (event) => show(event.detail.call_id, event.detail.orders));
  document.addEventListener("desk:call.state", (event) => {
    const { call_id: id, state } = event.detail;
    if (callId === null || id !== callId) return;
    if (state === "ended") clear();
    else if (state === "connected" || state === "held") {
      // Answered: the incoming box goes, the orders stay with the call, above its status.
      if (box.parentElement === incoming) callStatus.before(box);
    }
  });
  // A reloaded page: `hello.calls` carries each inbound call's orders, ringing or answered.
  document.addEventListener("desk:hello", (event) => {
    clear();
    for (const call of event.detail.calls || []) {
      if (call.state === "ended" || !show(call.call_id, call.orders)) continue;
      if (call.state === "connected" || call.state === "held") callStatus.before(box);
      break;
    }
  });
}
