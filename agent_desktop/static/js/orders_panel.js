// Call orders on the desk (DESIGN.md §11, preview dialing): the order the desk offers an agent in `outbound`
// (`order.offered` → `order.call` / `order.skip`), what its call did (`order.ended`: an automatic outcome, or
// none and the wrap-up gives it), and in the wrap-up the attempt's outcome (`POST /api/orders/{id}/outcome`,
// recorded just before the wrap-up's submit) and, for a reached index case of a tracing list, the contacts it
// named (`POST /api/orders/{id}/contacts`). phone.js keeps the call itself.
import { api } from "./api.js";
import { dateField } from "./date_field.js";
import { dialFailureText } from "./dial_failure.js";
import { formatDate, formatNumber } from "./format.js";
import { errorText, setLive, setPlain, setText, t } from "./i18n.js";

const $ = (id) => document.getElementById(id);

export function initOrdersPanel(socket, toast, wrapup) {
  const ui = {
    offer: $("order-offer"),
    name: $("order-name"),
    number: $("order-number"),
    meta: $("order-meta"),
    note: $("order-note"),
    fields: $("order-fields"),
    call: $("order-call"),
    skip: $("order-skip"),
    reason: $("order-skip-reason"),
    statusBox: $("order-status-box"),
    status: $("order-status"),
    next: $("order-next"),
    idle: $("order-idle"),
    box: $("wrapup-order"),
    boxName: $("wrapup-order-name"),
    outcome: $("wrapup-order-outcome"),
    whenLabel: $("wrapup-order-when-label"),
    when: dateField($("wrapup-order-when")), // dd/mm/yyyy hh:mm; .value ISO, the centre's clock
    contacts: $("wrapup-contacts"),
    contactList: $("wrapup-contacts-list"),
    contactName: $("wrapup-contact-name"),
    contactNumber: $("wrapup-contact-number"),
    contactDate: dateField($("wrapup-contact-date")),
    contactAdd: $("wrapup-contacts-add"),
  };
  let offer = null; // {order_id, list, kind, number, name, note, fields, attempt}
  let working = null; // the order of our call, until its wrap-up: {...offer, call_id, outcome, recorded}
  let agentState = "offline";
  let busy = false;
  let paused = false; // the trunk is down: the desk offers no order nor callback (`outbound.paused`)

  // No offer in front of an agent waiting for one: why — nothing due, or the line is down (then also while
  // `available`, whose callbacks wait too).
  function renderIdle() {
    const waiting = !offer && !working && (agentState === "outbound" || (paused && agentState === "available"));
    const key = !waiting ? null : paused ? "order.paused" : "order.none";
    ui.idle.hidden = !key;
    ui.idle.dataset.paused = paused ? "1" : "0";
    setText(ui.idle, key);
  }

  function renderOffer() {
    ui.offer.hidden = !offer;
    renderIdle();
    if (!offer) {
      delete ui.offer.dataset.orderId;
      return;
    }
    ui.offer.dataset.orderId = String(offer.order_id);
    ui.offer.dataset.list = offer.list;
    ui.offer.dataset.attempt = String(offer.attempt);
    if (offer.name) setPlain(ui.name, offer.name);
    else setText(ui.name, "order.no_name");
    setPlain(ui.number, offer.number);
    const { list, attempt } = offer;
    setLive(ui.meta, () => t("order.meta", { list, attempt: formatNumber(attempt) }));
    setPlain(ui.note, offer.note || "");
    ui.note.hidden = !offer.note;
    ui.fields.replaceChildren();
    for (const [key, value] of Object.entries(offer.fields || {})) {
      const dt = document.createElement("dt");
      dt.textContent = key === "last_contact" ? t("order.last_contact") : key;
      const dd = document.createElement("dd");
      dd.textContent = key === "last_contact" && value ? formatDate(value, "short") : value;
      ui.fields.append(dt, dd);
    }
    ui.call.disabled = busy;
    ui.skip.disabled = busy;
  }

  function showStatus(key, vars, withNext) {
    ui.statusBox.hidden = !key;
    setText(ui.status, key, vars);
    ui.next.hidden = !withNext;
  }

  // -- the wrap-up part --------------------------------------------------------------------------------------
  function renderWrapup() {
    ui.box.hidden = !working;
    renderIdle();
    if (!working) return;
    ui.box.dataset.orderId = String(working.order_id);
    setPlain(ui.boxName, `${working.name || ""} ${working.number}`.trim());
    ui.outcome.disabled = Boolean(working.recorded);
    if (working.recorded) ui.outcome.value = working.outcome;
    ui.box.dataset.recorded = working.recorded ? "1" : "0";
    ui.whenLabel.hidden = ui.outcome.value !== "call_back_at";
    ui.contacts.hidden = !(working.kind === "tracing" && ui.outcome.value === "reached");
  }

  async function recordOutcome() {
    if (!working || working.recorded) return;
    const outcome = ui.outcome.value;
    if (!outcome) {
      const error = new Error("order outcome");
      error.code = "bad_request";
      error.details = { field: "order.outcome" };
      throw error;
    }
    if (outcome === "call_back_at" && !ui.when.check()) {
      const error = new Error("order call_back_at");
      error.code = "bad_request";
      error.details = { field: "order.call_back_at" };
      throw error; // the field and the wrap-up say why; nothing is sent
    }
    const body = { outcome };
    if (outcome === "call_back_at") body.call_back_at = ui.when.value;
    await api("POST", `/api/orders/${working.order_id}/outcome`, body);
    working.recorded = true;
    working.outcome = outcome;
    renderWrapup();
  }

  async function addContact() {
    if (!working) return;
    try {
      if (!ui.contactDate.check()) return; // the field says why; nothing is sent
      if (!working.recorded) await recordOutcome();
      const body = { name: ui.contactName.value.trim(), number: ui.contactNumber.value.trim() };
      if (ui.contactDate.value) body.last_contact = ui.contactDate.value;
      const added = await api("POST", `/api/orders/${working.order_id}/contacts`, body);
      const item = document.createElement("li");
      item.dataset.orderId = String(added.id);
      item.textContent = `${body.name} ${body.number}`.trim();
      ui.contactList.append(item);
      ui.contactName.value = "";
      ui.contactNumber.value = "";
      ui.contactDate.value = "";
      ui.contactName.focus();
    } catch (e) {
      toast(errorText(e));
    }
  }

  // The wrap-up's submit records the attempt's outcome first (the desk refuses a second one: given once).
  wrapup.beforeSubmit(async () => {
    if (working && !working.recorded) await recordOutcome();
  });
  wrapup.afterSubmit(() => {
    working = null;
    ui.contactList.replaceChildren();
    ui.outcome.value = "";
    renderWrapup();
    showStatus(null);
  });

  // -- the desk's messages -----------------------------------------------------------------------------------
  document.addEventListener("desk:hello", (event) => {
    offer = null; // a held offer comes again after hello
    paused = Boolean(event.detail.outbound_paused);
    agentState = event.detail.state;
    renderOffer();
  });
  document.addEventListener("desk:outbound.paused", (event) => {
    paused = Boolean(event.detail.paused);
    renderIdle();
  });
  document.addEventListener("desk:order.offered", (event) => {
    offer = event.detail;
    busy = false;
    showStatus(null);
    renderOffer();
  });
  document.addEventListener("desk:order.withdrawn", (event) => {
    if (offer?.order_id === event.detail.order_id) {
      offer = null;
      renderOffer();
    }
  });
  document.addEventListener("desk:call.state", (event) => {
    const message = event.detail;
    if (message.order_id == null) return;
    if (message.state === "dialing" && offer?.order_id === message.order_id) {
      working = { ...offer, call_id: message.call_id, outcome: null, recorded: false };
      offer = null;
      renderOffer();
      renderWrapup();
    }
    if (message.state === "connected" && working?.call_id === message.call_id) working.connected = true;
  });
  document.addEventListener("desk:order.ended", (event) => {
    const { order_id: id, outcome, failure, sip_status: sipStatus } = event.detail;
    if (!working || working.order_id !== id) return;
    if (failure) {
      // The network's failure, not the citizen's: no attempt counted, the order comes back by itself.
      working.recorded = true;
      working.outcome = outcome;
      showStatus("order.failure", { reason: () => dialFailureText(failure, sipStatus) }, true);
    } else if (outcome) {
      working.recorded = true;
      working.outcome = outcome;
      showStatus("order.recorded", { outcome: () => t(`order.outcome_${outcome}`) }, true);
    } else if (!working.connected) {
      showStatus("order.choose_outcome", {}, true); // hung up before an answer: the agent says why
    }
    renderWrapup();
  });
  document.addEventListener("desk:error", () => {
    if (busy) {
      busy = false;
      renderOffer();
    }
  });
  document.addEventListener("desk:agent-state", (event) => {
    agentState = event.detail.state;
    renderIdle();
    if (!["outbound", "available", "on_call"].includes(agentState) && offer) {
      offer = null;
      renderOffer();
    }
    if (agentState === "outbound" && working?.recorded) {
      // Back to work without a wrap-up (an unanswered call whose outcome the call recorded).
      working = null;
      renderWrapup();
      showStatus(null);
    }
  });

  // -- the agent's actions -----------------------------------------------------------------------------------
  ui.call.addEventListener("click", () => {
    if (!offer || busy) return;
    busy = socket.send({ type: "order.call", order_id: offer.order_id });
    if (!busy) toast(t("error.network"));
    renderOffer();
  });
  ui.skip.addEventListener("click", () => {
    if (!offer || busy) return;
    if (!socket.send({ type: "order.skip", order_id: offer.order_id, reason: ui.reason.value.trim() })) {
      toast(t("error.network"));
      return;
    }
    ui.reason.value = "";
    offer = null;
    renderOffer();
  });
  // After a call that reached nobody (no wrap-up needed): its outcome (the call's own, or chosen here), then on.
  ui.next.addEventListener("click", async () => {
    try {
      await recordOutcome();
    } catch (e) {
      toast(e.details?.field ? t("wrapup.invalid.order.outcome") : errorText(e));
      return;
    }
    if (!socket.send({ type: "agent.state", state: "outbound", reason: "" })) toast(t("error.network"));
  });
  ui.outcome.addEventListener("change", renderWrapup);
  ui.contactAdd.addEventListener("click", addContact);
}
