// The supervisor's call lists (DESIGN.md §11): each list's progress, a CSV upload (a new list's settings on the
// form; a file with bad rows imports nothing and shows every bad line), the export (no national numbers: the desk
// masks them), a list's orders by state, and the do-not-call register, whose entries a supervisor removes after
// a confirmation (audit-logged by the desk).
import { api } from "./api.js";
import { storedDialFailureText } from "./dial_failure.js";
import { formatDateTime, formatNumber, formatPercent } from "./format.js";
import { errorText, setLive, setPlain, setText, t } from "./i18n.js";
import { wireLangSwitch, wireLogout } from "./topbar.js";

const body = document.body;
await wireLangSwitch(body.dataset.lang);
wireLogout();

const $ = (id) => document.getElementById(id);
const UPLOAD_TIMEOUT_MS = 180_000; // 100 000 rows are validated and written before the answer
const FIGURES = ["orders", "done", "remaining", "reached", "failed", "do_not_call", "attempts"];

let lists = [];
let shownList = null;

function cell(text, { num = false, plain = false } = {}) {
  const td = document.createElement("td");
  if (num) td.className = "num";
  if (plain) td.translate = false;
  td.textContent = text ?? "";
  return td;
}

// A cell whose text is rendered again after a language switch (numbers, dates, translated words).
function liveCell(render, { num = false } = {}) {
  const td = cell("", { num });
  setLive(td, render);
  return td;
}

function progress(list) {
  const wrap = document.createElement("div");
  wrap.className = "progress";
  wrap.setAttribute("role", "progressbar");
  wrap.setAttribute("aria-valuemin", "0");
  wrap.setAttribute("aria-valuemax", String(list.orders));
  wrap.setAttribute("aria-valuenow", String(list.done + list.failed));
  wrap.dataset.testid = "orders-progress";
  const total = Math.max(list.orders, 1);
  for (const [part, value] of [
    ["reached", list.reached],
    ["done", list.done - list.reached],
    ["failed", list.failed],
  ]) {
    const bar = document.createElement("span");
    bar.className = `bar-${part}`;
    bar.style.width = `${(100 * Math.max(value, 0)) / total}%`;
    wrap.append(bar);
  }
  const label = document.createElement("span");
  label.className = "progress-label";
  setLive(label, () =>
    t("lists.progress", {
      done: formatNumber(list.done + list.failed),
      orders: formatNumber(list.orders),
      pct: formatPercent((100 * (list.done + list.failed)) / total, 0),
    }),
  );
  const box = document.createElement("div");
  box.className = "progress-box";
  box.append(wrap, label);
  return box;
}

function listRow(list) {
  const tr = document.createElement("tr");
  tr.dataset.testid = "orders-list";
  tr.dataset.list = list.name;
  for (const key of FIGURES) tr.dataset[key] = String(list[key] ?? 0);
  const name = document.createElement("button");
  name.type = "button";
  name.className = "link";
  name.dataset.testid = "orders-list-open";
  name.translate = false;
  name.textContent = list.name;
  name.addEventListener("click", () => showOrders(list.name));
  const nameCell = document.createElement("td");
  nameCell.append(name);
  const progressCell = document.createElement("td");
  progressCell.append(progress(list));
  const exportCell = document.createElement("td");
  const actions = document.createElement("div");
  actions.className = "list-actions";
  const link = document.createElement("a");
  link.className = "button";
  link.dataset.testid = "orders-export";
  link.href = `/api/call-lists/${encodeURIComponent(list.name)}/orders?format=csv`;
  link.download = `${list.name}.csv`;
  setText(link, "lists.export");
  actions.append(link);
  if (list.failed > 0) {
    const reopen = document.createElement("button");
    reopen.type = "button";
    reopen.dataset.testid = "orders-reopen";
    setText(reopen, "lists.reopen");
    reopen.addEventListener("click", () => reopenFailed(list.name));
    actions.append(reopen);
  }
  exportCell.append(actions);
  tr.append(
    nameCell,
    Object.assign(liveCell(() => t(`lists.kind_${list.kind}`)), { className: "wrap" }),
    progressCell,
    ...FIGURES.map((key) => liveCell(() => formatNumber(list[key] ?? 0), { num: true })),
    exportCell,
  );
  return tr;
}

async function loadLists() {
  lists = await api("GET", "/api/call-lists");
  $("lists-rows").replaceChildren(...lists.map(listRow));
  $("lists-empty").hidden = lists.length > 0;
  $("upload-names").replaceChildren(
    ...lists.map((l) => Object.assign(document.createElement("option"), { value: l.name })),
  );
  markExisting();
}

// -- a list's orders --------------------------------------------------------------------------------------------

async function showOrders(name) {
  shownList = name;
  $("orders-panel").hidden = false;
  setText($("orders-title"), "lists.orders_of", { list: name });
  const state = $("orders-state").value;
  const query = new URLSearchParams(state ? { state } : {});
  const orders = await api("GET", `/api/call-lists/${encodeURIComponent(name)}/orders?${query}`);
  $("orders-rows").replaceChildren(
    ...orders.map((order) => {
      const tr = document.createElement("tr");
      tr.dataset.testid = "orders-order";
      tr.dataset.state = order.state;
      tr.append(
        liveCell(() => formatNumber(order.id), { num: true }),
        cell(order.number, { plain: true }),
        cell(order.name, { plain: true }),
        liveCell(() => t(`lists.state_${order.state}`)),
        liveCell(() => {
          if (!order.outcome) return "";
          const outcome = t(`order.outcome_${order.outcome}`);
          // The last dial never reached the phone: why (the trunk refused, a name that does not resolve, …).
          return order.dial_failure ? `${outcome}: ${storedDialFailureText(order.dial_failure)}` : outcome;
        }),
        liveCell(() => formatNumber(order.attempts), { num: true }),
        liveCell(() => (order.state === "pending" && order.next_try ? formatDateTime(order.next_try) : "")),
      );
      return tr;
    }),
  );
}

$("orders-state").addEventListener("change", () => shownList && showOrders(shownList));

// -- reopen: another round for a list's failed orders (after a trunk outage: its network errors) ---------------

const reopenDialog = $("reopen-confirm");
const reopenStatus = $("reopen-status");
const reopenChoices = [...reopenDialog.querySelectorAll("input[name=reopen-outcome]")];

// How many the chosen reopen gives another round, from the list's figures read when the dialog opened.
function reopenCount(list) {
  const outcome = reopenChoices.find((input) => input.checked)?.value;
  return outcome === "network_error" ? list.failed_network_error ?? 0 : list.failed;
}

function confirmReopen(list) {
  setText($("reopen-title"), "lists.reopen_title", { list: list.name });
  setText($("reopen-network-label"), "lists.reopen_network", { n: () => formatNumber(list.failed_network_error ?? 0) });
  setText($("reopen-all-label"), "lists.reopen_all", { n: () => formatNumber(list.failed) });
  // After an outage the network's failures are the ones to call again; the others failed on the citizen's side.
  const [network, all] = reopenChoices;
  network.disabled = !list.failed_network_error;
  (network.disabled ? all : network).checked = true;
  const count = () => {
    const n = reopenCount(list);
    $("reopen-confirm-text").dataset.n = String(n);
    setText($("reopen-confirm-text"), "lists.reopen_confirm", { n: () => formatNumber(n) });
    $("reopen-yes").disabled = n === 0;
  };
  for (const input of reopenChoices) input.onchange = count;
  count();
  reopenDialog.returnValue = "";
  reopenDialog.showModal();
  return new Promise((resolve) => {
    reopenDialog.addEventListener(
      "close",
      () => resolve(reopenDialog.returnValue === "reopen" ? reopenChoices.find((i) => i.checked).value : null),
      { once: true },
    );
  });
}

async function reopenFailed(name) {
  reopenStatus.classList.remove("error");
  try {
    await loadLists(); // the figures of now: the confirmation says how many will be called again
    const list = lists.find((l) => l.name === name);
    if (!list || !list.failed) return;
    const outcome = await confirmReopen(list);
    if (outcome === null) return;
    const query = outcome ? `?${new URLSearchParams({ outcome })}` : "";
    const answer = await api("POST", `/api/call-lists/${encodeURIComponent(name)}/reopen${query}`);
    reopenStatus.dataset.reopened = String(answer.reopened);
    setText(reopenStatus, "lists.reopened", { list: name, n: () => formatNumber(answer.reopened) });
    await loadLists();
    if (shownList === name) await showOrders(name);
  } catch (e) {
    reopenStatus.classList.add("error");
    setLive(reopenStatus, () => errorText(e));
  }
}

// -- upload ---------------------------------------------------------------------------------------------------

const form = $("upload-form");
const nameInput = $("upload-name");
const errorBox = $("upload-error");
const status = $("upload-status");

// An existing list keeps the settings of its first import: the form says so and sends none.
function markExisting() {
  const existing = lists.some((l) => l.name === nameInput.value.trim());
  $("upload-settings").disabled = existing;
  $("upload-existing").hidden = !existing;
}
nameInput.addEventListener("input", markExisting);

function uploadQuery() {
  if ($("upload-settings").disabled) return new URLSearchParams();
  const query = new URLSearchParams({
    kind: $("upload-kind").value,
    skills: $("upload-skills").value,
    max_attempts: $("upload-attempts").value,
    retry_after_min: $("upload-retry").value,
  });
  for (const range of $("upload-open").value.split("\n")) if (range.trim()) query.append("open", range.trim());
  return query;
}

function problemText(problem) {
  const key = `lists.problem.${problem.code}`;
  const params = Object.entries(problem.params || {}).map(([k, v]) => [k, typeof v === "number" ? formatNumber(v) : v]);
  const text = t(key, Object.fromEntries(params));
  return text === key ? null : text;
}

function problemsText(error) {
  const texts = (error.problems || []).map(problemText);
  return texts.length && texts.every((text) => text !== null) ? texts.join(t("lists.problems_joiner")) : error.reason;
}

function showUploadError(error) {
  errorBox.hidden = false;
  const lines = error.details?.errors || [];
  const bad = error.details?.bad_rows;
  if (lines.length) {
    setText($("upload-error-text"), "lists.bad_rows", { n: () => formatNumber(bad ?? lines.length) });
  } else {
    setLive($("upload-error-text"), () => (error.code === "bad_request" ? error.message : errorText(error)));
  }
  // Each reason in the page's language from its code and parameters; the desk's English text when the page
  // does not know the code (a newer desk).
  $("upload-error-lines").replaceChildren(
    ...lines.map((e) => {
      const li = document.createElement("li");
      li.dataset.line = String(e.line);
      li.dataset.codes = (e.problems || []).map((p) => p.code).join(" ");
      setLive(li, () => t("lists.bad_line", { line: formatNumber(e.line), reason: problemsText(e) }));
      return li;
    }),
  );
  if (bad > lines.length) {
    const li = document.createElement("li");
    setText(li, "lists.more_bad", { n: () => formatNumber(bad - lines.length) });
    $("upload-error-lines").append(li);
  }
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const file = $("upload-file").files[0];
  const name = nameInput.value.trim();
  if (!file || !name) return;
  errorBox.hidden = true;
  setText(status, "lists.uploading");
  $("upload-submit").disabled = true;
  try {
    // The file goes as it is: the desk reads its encoding and separator.
    const answer = await api("POST", `/api/call-lists/${encodeURIComponent(name)}/import?${uploadQuery()}`, file, {
      contentType: "text/csv",
      timeoutMs: UPLOAD_TIMEOUT_MS,
    });
    setText(status, "lists.uploaded", {
      list: name,
      imported: () => formatNumber(answer.imported),
      updated: () => formatNumber(answer.updated),
    });
    form.reset();
    await loadLists();
    if (shownList === name) await showOrders(name);
  } catch (e) {
    setText(status, null);
    showUploadError(e);
  } finally {
    $("upload-submit").disabled = false;
  }
});

// -- do-not-call register ---------------------------------------------------------------------------------------

const dialog = $("dnc-confirm");
const dncError = $("dnc-error");

function confirmRemoval(number) {
  setText($("dnc-confirm-text"), "dnc.confirm", { number });
  $("dnc-reason").value = "";
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "remove"), { once: true });
  });
}

async function remove(number) {
  if (!(await confirmRemoval(number))) return;
  dncError.hidden = true;
  try {
    const reason = $("dnc-reason").value.trim();
    const query = reason ? `?${new URLSearchParams({ reason })}` : "";
    await api("DELETE", `/api/do-not-call/${encodeURIComponent(number)}${query}`);
  } catch (e) {
    dncError.hidden = false;
    setLive(dncError, () => errorText(e));
  }
  await loadDoNotCall();
}

async function loadDoNotCall() {
  const entries = await api("GET", "/api/do-not-call");
  $("dnc-rows").replaceChildren(
    ...entries.map((entry) => {
      const tr = document.createElement("tr");
      tr.dataset.testid = "dnc-entry";
      tr.dataset.number = entry.number;
      const button = document.createElement("button");
      button.type = "button";
      button.dataset.testid = "dnc-remove";
      setText(button, "dnc.remove");
      button.addEventListener("click", () => remove(entry.number));
      const action = document.createElement("td");
      action.append(button);
      tr.append(
        cell(entry.number, { plain: true }),
        liveCell(() => formatDateTime(entry.added)),
        cell(entry.list || "", { plain: true }),
        action,
      );
      return tr;
    }),
  );
}

if (body.dataset.allowed === "1") {
  try {
    await Promise.all([loadLists(), loadDoNotCall()]);
  } catch (e) {
    setPlain(status, errorText(e));
  }
}
body.dataset.ready = "1";
