// The wrap-up panel: one contact per call (opened when the phone says the call is connected) or opened by hand,
// its draft saved as the agent types (debounced PUT, and a keepalive PUT when the page goes away), restored after a
// reload, and submitted with an optional escalation (mailed by the desk) and an optional complaint. The timer shows
// the after-call work since the call ended. A call's contact is submitted only after the call (the desk refuses
// it before with `call_active`), and the panel follows the live call: its contact is the one shown. Ticking the
// survey box during the call sends `call.survey`: the caller goes to the survey and the agent to after-call work.
import { api } from "./api.js";
import { addDays, formatDate as localeDate, formatTime, isoDate } from "./format.js";
import { errorText, setLive, setText, t } from "./i18n.js";

const SAVE_DEBOUNCE_MS = 500;
const COMPLAINT_DAYS = 45;
const $ = (id) => document.getElementById(id);

const ui = {
  form: $("wrapup-form"),
  contact: $("wrapup-contact"),
  newButton: $("wrapup-new"),
  timer: $("wrapup-timer"),
  notes: $("wrapup-notes"),
  scripts: $("wrapup-scripts"),
  outcome: $("wrapup-outcome"),
  survey: $("wrapup-survey"),
  escalate: $("wrapup-escalate"),
  escalation: $("wrapup-escalation"),
  point: $("wrapup-esc-point"),
  term: $("wrapup-esc-term"),
  to: $("wrapup-esc-to"),
  escName: $("wrapup-esc-name"),
  escPhone: $("wrapup-esc-phone"),
  escPhoneRepeat: $("wrapup-esc-phone-repeat"),
  escEmail: $("wrapup-esc-email"),
  escEmailRepeat: $("wrapup-esc-email-repeat"),
  escAddress: $("wrapup-esc-address"),
  escMessage: $("wrapup-esc-message"),
  escConfirmed: $("wrapup-esc-confirmed"),
  complaint: $("wrapup-complaint"),
  complaintFields: $("wrapup-complaint-fields"),
  kind: $("wrapup-complaint-kind"),
  cName: $("wrapup-complaint-name"),
  cPhone: $("wrapup-complaint-phone"),
  cEmail: $("wrapup-complaint-email"),
  cAddress: $("wrapup-complaint-address"),
  description: $("wrapup-complaint-description"),
  due: $("wrapup-complaint-due"),
  status: $("wrapup-status"),
  error: $("wrapup-error"),
  save: $("wrapup-save"),
  saveHint: saveHint(),
};

// Why the save button is disabled or what it will do; made here so the template stays as it is.
function saveHint() {
  const hint = document.createElement("p");
  hint.className = "hint";
  hint.id = "wrapup-save-hint";
  hint.dataset.testid = "wrapup-save-hint";
  hint.hidden = true;
  $("wrapup-save").before(hint);
  return hint;
}

function formatDate(iso) {
  return localeDate(iso, "weekday");
}

function formatClock(iso) {
  return formatTime(iso, { seconds: true });
}

export function initWrapupPanel(toast, socket) {
  let contact = null; // {id, call_id, number, since, ...}
  let scripts = [];
  let pendingScripts = []; // articles opened while no contact was open: they go to the next one opened by hand
  let opening = null;
  let dirty = false;
  let saveTimer = null;
  let saving = Promise.resolve();
  let points = null;
  let sinceAt = null;
  let liveCallId = null; // the agent's connected (or held) call, from the phone
  let submitting = false;
  const beforeSubmit = []; // other panels' parts of the wrap-up (a call order's outcome), recorded first
  const afterSubmit = [];
  let agentState = "offline";
  let resumeState = "available"; // where a submitted wrap-up returns the agent (`available` or `outbound`)

  // -- the form as JSON and back ------------------------------------------------------------------------------
  function collect() {
    return {
      notes: ui.notes.value,
      scripts,
      outcome: ui.outcome.value,
      survey: ui.survey.checked,
      escalation: {
        enabled: ui.escalate.checked,
        point_id: ui.point.value,
        point_title: ui.point.selectedOptions[0]?.value ? ui.point.selectedOptions[0].textContent : "",
        to: ui.to.value,
        citizen: {
          name: ui.escName.value,
          phone: ui.escPhone.value,
          phone_repeat: ui.escPhoneRepeat.value,
          email: ui.escEmail.value,
          email_repeat: ui.escEmailRepeat.value,
          address: ui.escAddress.value,
        },
        confirmed: ui.escConfirmed.checked,
        message: ui.escMessage.value,
      },
      complaint: {
        enabled: ui.complaint.checked,
        kind: ui.kind.value,
        citizen: { name: ui.cName.value, phone: ui.cPhone.value, email: ui.cEmail.value, address: ui.cAddress.value },
        description: ui.description.value,
      },
    };
  }

  async function fill(draft) {
    const e = draft.escalation || {};
    const ec = e.citizen || {};
    const c = draft.complaint || {};
    const cc = c.citizen || {};
    ui.notes.value = draft.notes || "";
    scripts = draft.scripts || [];
    renderScripts();
    ui.outcome.value = draft.outcome || "";
    ui.survey.checked = !!draft.survey;
    ui.escalate.checked = !!e.enabled;
    ui.escName.value = ec.name || "";
    ui.escPhone.value = ec.phone || "";
    ui.escPhoneRepeat.value = ec.phone_repeat || "";
    ui.escEmail.value = ec.email || "";
    ui.escEmailRepeat.value = ec.email_repeat || "";
    ui.escAddress.value = ec.address || "";
    ui.escMessage.value = e.message || "";
    ui.escConfirmed.checked = !!e.confirmed;
    ui.complaint.checked = !!c.enabled;
    ui.kind.value = c.kind || "";
    ui.cName.value = cc.name || "";
    ui.cPhone.value = cc.phone || "";
    ui.cEmail.value = cc.email || "";
    ui.cAddress.value = cc.address || "";
    ui.description.value = c.description || "";
    showSections();
    if (e.point_id) {
      await loadPoints();
      ui.point.value = e.point_id;
      await pointChosen(e.to);
    } else {
      ui.point.value = "";
      ui.to.replaceChildren();
      setText(ui.term, null);
    }
  }

  function clearForm() {
    ui.form.reset();
    scripts = [];
    renderScripts();
    ui.to.replaceChildren();
    setText(ui.term, null);
    showSections();
  }

  function showSections() {
    ui.escalation.hidden = !ui.escalate.checked;
    ui.complaintFields.hidden = !ui.complaint.checked;
    if (ui.escalate.checked) loadPoints();
    const iso = addDays(isoDate(new Date()), COMPLAINT_DAYS); // from the centre's today
    ui.due.dataset.due = iso;
    setText(ui.due, "complaint.due", { date: () => formatDate(iso), days: COMPLAINT_DAYS });
  }

  function renderScripts() {
    ui.scripts.replaceChildren(
      ...scripts.map((s, index) => {
        const li = document.createElement("li");
        li.className = "wrapup-script";
        li.dataset.testid = "wrapup-script";
        li.dataset.id = s.id;
        const title = document.createElement("span");
        title.textContent = s.title || s.id;
        title.translate = false;
        const remove = document.createElement("button");
        remove.type = "button";
        remove.className = "link";
        remove.dataset.i18nLabel = "wrapup.remove_script";
        remove.setAttribute("aria-label", t("wrapup.remove_script"));
        remove.textContent = "×";
        remove.addEventListener("click", () => {
          scripts.splice(index, 1);
          renderScripts();
          changed();
        });
        li.append(title, remove);
        return li;
      }),
    );
    if (!scripts.length) {
      const li = document.createElement("li");
      li.className = "hint";
      setText(li, "wrapup.no_scripts");
      ui.scripts.append(li);
    }
  }

  // -- escalation points from the KB ---------------------------------------------------------------------------
  async function loadPoints() {
    if (points) return points;
    points = api("GET", "/api/kb/search?tab=escalations&q=&limit=200")
      .then((page) => {
        for (const row of page.results) {
          const option = document.createElement("option");
          option.value = row.id;
          option.textContent = row.title;
          ui.point.append(option);
        }
        return page.results;
      })
      .catch((e) => {
        points = null;
        toast(errorText(e));
        return [];
      });
    return points;
  }

  async function pointChosen(wantedTo) {
    ui.to.replaceChildren();
    setText(ui.term, null);
    const id = ui.point.value;
    if (!id) return;
    let item;
    try {
      item = await api("GET", `/api/kb/items/${encodeURIComponent(id)}`);
    } catch (e) {
      toast(errorText(e));
      return;
    }
    const allowed = item.contacts.filter((c) => c.kind === "mail" && c.agent_may_escalate);
    for (const c of allowed) {
      const option = document.createElement("option");
      option.value = c.value;
      option.textContent = c.value;
      ui.to.append(option);
    }
    if (wantedTo && allowed.some((c) => c.value === wantedTo)) ui.to.value = wantedTo;
    if (!allowed.length) setText(ui.term, "escalation.not_allowed");
    else setText(ui.term, item.handling_days != null ? "kb.handling_term" : null, { days: item.handling_days });
  }

  // -- contacts -----------------------------------------------------------------------------------------------
  // The call of this contact is still going: after-call work has not started (no `since` yet).
  function callLive() {
    return Boolean(contact?.call_id) && !contact.since;
  }

  // The button says what it does: back to `available` only from after-call work (the desk's rule); mid-call it
  // waits for the hang-up. Its label carries data-i18n so a language switch keeps it right.
  function updateSave() {
    const live = callLive();
    ui.save.disabled = !contact || live || submitting;
    // In wrap_up the submit also returns the agent to the state chosen before the call (the desk's `resume`).
    const label =
      agentState !== "wrap_up" ? "wrapup.save_only" : resumeState === "outbound" ? "wrapup.save_outbound" : "wrapup.save";
    ui.save.dataset.i18n = label;
    ui.save.textContent = t(label);
    const hint = !contact
      ? ""
      : live
        ? "wrapup.after_call_hint"
        : contact.call_id && !["wrap_up", "on_call", "outbound"].includes(agentState)
          ? "wrapup.earlier_call_hint"
          : "";
    ui.saveHint.hidden = !hint;
    if (hint) {
      ui.saveHint.dataset.i18n = hint;
      ui.saveHint.textContent = t(hint);
    } else {
      delete ui.saveHint.dataset.i18n;
      ui.saveHint.textContent = "";
    }
  }

  function setContact(next) {
    contact = next;
    updateSave();
    if (!contact) {
      setText(ui.contact, "wrapup.no_contact");
      ui.contact.dataset.contactId = "";
    } else {
      ui.contact.dataset.contactId = String(contact.id);
      setText(ui.contact, contact.number ? "wrapup.contact_call" : "wrapup.contact_manual", { id: contact.id, number: contact.number });
    }
    sinceAt = contact?.since ? new Date(contact.since) : null;
    tick();
  }

  async function ensureContact() {
    if (contact) return contact;
    if (!opening) {
      opening = api("POST", "/api/contacts", {})
        .then((c) => {
          setContact(c);
          if (pendingScripts.length) {
            for (const s of pendingScripts) addScript(s, false);
            pendingScripts = [];
          }
          return c;
        })
        .finally(() => (opening = null));
    }
    return opening;
  }

  async function loadContact(id) {
    const wrapup = await api("GET", `/api/wrapups/${id}`);
    setContact(wrapup.contact);
    await fill(wrapup.draft);
    dirty = false;
    setText(ui.status, wrapup.updated ? "wrapup.draft_restored" : null, { time: () => formatClock(wrapup.updated) });
  }

  async function newContact() {
    await saveNow();
    const c = await api("POST", "/api/contacts", {});
    clearForm();
    setContact(c);
    for (const s of pendingScripts) addScript(s, false);
    pendingScripts = [];
    setText(ui.status, null);
    ui.notes.focus();
  }

  async function callConnected(callId) {
    liveCallId = callId;
    try {
      await saveNow();
      const c = await api("POST", "/api/contacts", { call_id: callId });
      if (contact?.id !== c.id) {
        clearForm();
        await loadContact(c.id);
      }
    } catch (e) {
      toast(errorText(e));
    }
  }

  // The call's own contact, shown (and saved first, whatever was shown before).
  async function showCallContact(callId) {
    await saveNow();
    const c = await api("POST", "/api/contacts", { call_id: callId });
    if (contact?.id !== c.id) {
      clearForm();
      await loadContact(c.id);
    } else {
      setContact(c);
    }
  }

  async function callEnded(callId, connected) {
    if (liveCallId === callId) liveCallId = null;
    if (contact?.call_id !== callId) {
      // The agent had another contact open (one taken by hand mid-call): the after-call work is this call's.
      if (connected) await showCallContact(callId).catch((e) => toast(errorText(e)));
      return;
    }
    contact.since = contact.since || new Date().toISOString();
    updateSave();
    sinceAt = new Date();
    try {
      const wrapup = await api("GET", `/api/wrapups/${contact.id}`);
      if (wrapup.contact.since) {
        contact.since = wrapup.contact.since;
        sinceAt = new Date(wrapup.contact.since);
      }
    } catch {
      // the local clock will do
    }
    tick();
  }

  function addScript(item, save = true) {
    if (scripts.some((s) => s.id === item.id)) return;
    scripts.push({ id: item.id, title: item.title });
    renderScripts();
    if (save) changed();
  }

  // -- saving ------------------------------------------------------------------------------------------------
  function changed() {
    dirty = true;
    ui.error.hidden = true;
    clearTimeout(saveTimer);
    ensureContact()
      .then(() => {
        clearTimeout(saveTimer);
        saveTimer = setTimeout(saveNow, SAVE_DEBOUNCE_MS);
      })
      .catch((e) => toast(errorText(e)));
  }

  async function saveNow() {
    clearTimeout(saveTimer);
    if (!contact || !dirty) return saving;
    dirty = false;
    const id = contact.id;
    const body = collect();
    saving = saving.then(async () => {
      try {
        const answer = await api("PUT", `/api/wrapups/${id}`, body);
        setText(ui.status, answer.masked ? "wrapup.nrn_masked" : "wrapup.draft_saved", { time: () => formatClock(answer.saved) });
        ui.status.dataset.saved = answer.saved;
      } catch (e) {
        dirty = true;
        setText(ui.status, "wrapup.draft_failed", { error: () => errorText(e) });
      }
    });
    return saving;
  }

  function saveOnLeave() {
    if (!contact || !dirty) return;
    dirty = false;
    // keepalive: the request outlives the page (reload, tab closed), as long as the body stays under 64 KB.
    fetch(`/api/wrapups/${contact.id}`, {
      method: "PUT",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(collect()),
      credentials: "same-origin",
      keepalive: true,
    }).catch(() => {});
  }

  async function submit(event) {
    event.preventDefault();
    // Blocked before the first await: a second click while the draft is still being saved would otherwise
    // start a second submit (the server refuses it, but the agent would see an error for a saved wrap-up).
    if (!contact || ui.save.disabled || submitting) return;
    submitting = true;
    updateSave();
    clearTimeout(saveTimer);
    await saving;
    for (const bad of ui.form.querySelectorAll(".invalid")) bad.classList.remove("invalid");
    ui.error.hidden = true;
    let answer;
    try {
      for (const part of beforeSubmit) await part();
      answer = await api("POST", `/api/wrapups/${contact.id}/submit`, collect());
    } catch (e) {
      submitting = false;
      updateSave();
      showSubmitError(e);
      return;
    }
    submitting = false;
    dirty = false;
    const summary = () => {
      const parts = [t("wrapup.submitted", { id: answer.contact_id })];
      if (answer.escalation) parts.push(t("wrapup.escalation_sent", { to: answer.escalation.to, date: answer.escalation.deadline ? formatDate(answer.escalation.deadline) : "-" }));
      if (answer.complaint) parts.push(t("wrapup.complaint_registered", { id: answer.complaint.id, date: formatDate(answer.complaint.due) }));
      return parts.join(" ");
    };
    clearForm();
    setContact(null);
    for (const part of afterSubmit) part(answer);
    setLive(ui.status, summary);
    ui.status.dataset.submitted = String(answer.contact_id);
    try {
      if (liveCallId) {
        // A contact taken by hand during a call: back to the call's own.
        await showCallContact(liveCallId);
      } else {
        const open = await api("GET", "/api/contacts");
        if (open.contacts.length) await loadContact(open.contacts[0].id);
      }
      setLive(ui.status, summary);
    } catch (e) {
      toast(errorText(e));
    }
  }

  function showSubmitError(e) {
    const field = e.details?.field;
    const key = field ? `wrapup.invalid.${field}` : null;
    setLive(ui.error, () => (key && t(key) !== key ? t(key) : errorText(e)));
    ui.error.dataset.code = e.code || "internal";
    ui.error.hidden = false;
    const target = field && ui.form.querySelector(`[data-field="${CSS.escape(field)}"]`);
    if (target) {
      target.classList.add("invalid");
      target.focus();
    }
  }

  // -- the timer ---------------------------------------------------------------------------------------------
  function tick() {
    if (!sinceAt) {
      ui.timer.textContent = "--:--";
      ui.timer.dataset.running = "0";
      return;
    }
    const seconds = Math.max(0, Math.floor((Date.now() - sinceAt.getTime()) / 1000));
    const h = Math.floor(seconds / 3600);
    const mm = String(Math.floor((seconds % 3600) / 60)).padStart(2, "0");
    const ss = String(seconds % 60).padStart(2, "0");
    ui.timer.textContent = h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
    ui.timer.dataset.running = "1";
    ui.timer.dataset.seconds = String(seconds);
  }
  setInterval(tick, 1000);

  // -- wiring ------------------------------------------------------------------------------------------------
  ui.form.addEventListener("input", (event) => {
    if (event.target === ui.escalate || event.target === ui.complaint) showSections();
    event.target.classList?.remove("invalid");
    changed();
  });
  ui.point.addEventListener("change", () => pointChosen().then(changed));
  // Ticking the survey box during the call hands the caller to the survey now (the desk ends the agent's part).
  ui.survey.addEventListener("change", () => {
    if (ui.survey.checked && liveCallId && socket && !socket.send({ type: "call.survey", call_id: liveCallId })) {
      toast(t("error.network"));
    }
  });
  ui.form.addEventListener("submit", submit);
  ui.newButton.addEventListener("click", () => newContact().catch((e) => toast(errorText(e))));
  window.addEventListener("beforeunload", saveOnLeave);
  window.addEventListener("pagehide", saveOnLeave);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "hidden") saveOnLeave();
  });
  document.addEventListener("phone:call-connected", (event) => callConnected(event.detail.call_id));
  document.addEventListener("phone:call-ended", (event) => callEnded(event.detail.call_id, event.detail.connected));
  document.addEventListener("desk:agent-state", (event) => {
    agentState = event.detail.state;
    if (event.detail.resume) resumeState = event.detail.resume;
    updateSave();
  });
  document.addEventListener("kb:article-opened", (event) => {
    const item = event.detail;
    if (item.type && item.type !== "article") return;
    if (contact) addScript(item);
    else if (!pendingScripts.some((s) => s.id === item.id)) pendingScripts.push({ id: item.id, title: item.title });
  });
  document.addEventListener("kb:escalate", async (event) => {
    ui.escalate.checked = true;
    showSections();
    await loadPoints();
    ui.point.value = event.detail.id;
    await pointChosen();
    changed();
    ui.escName.focus();
  });

  renderScripts();
  showSections();
  // A reload restores the newest open contact with its draft, unless the live call's contact came first.
  api("GET", "/api/contacts")
    .then((open) => {
      if (contact || liveCallId) return undefined;
      return open.contacts.length ? loadContact(open.contacts[0].id) : setContact(null);
    })
    .catch((e) => toast(errorText(e)))
    .finally(() => (document.body.dataset.wrapupReady = "1"));

  return {
    beforeSubmit: (fn) => beforeSubmit.push(fn),
    afterSubmit: (fn) => afterSubmit.push(fn),
    // For the logout question: the unsaved draft goes to the desk first, then the desk says what is open.
    async openContacts() {
      await saveNow();
      return (await api("GET", "/api/contacts")).contacts;
    },
  };
}
