// The scripts panel: search the knowledge base as the agent types (debounced, stale requests aborted), tabs with
// counts, "most used for this skill" when the box is empty, and the article view (instructions highlighted, FAQ,
// escalation points with their allowed actions and handling term, copy buttons, feedback to the editors).
// Opening an item records its use and tells the wrap-up panel (event `kb:article-opened`).
import { api } from "./api.js";
import { errorText, t } from "./i18n.js";

const TABS = ["articles", "faq", "escalations", "organisations"];
const DEBOUNCE_MS = 150;
const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "text") node.textContent = value;
    else if (key === "i18n") {
      node.dataset.i18n = value;
      node.textContent = t(value);
    } else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) if (child) node.append(child);
  return node;
}

// A small, safe Markdown subset (headings, lists, paragraphs, **bold**): built with DOM nodes, never innerHTML.
function inline(text) {
  const parts = text.split(/(\*\*[^*]+\*\*)/g);
  return parts.map((part) => (part.startsWith("**") && part.endsWith("**") ? el("strong", { text: part.slice(2, -2) }) : document.createTextNode(part)));
}

function renderMarkdown(source) {
  const out = [];
  let list = null;
  let para = [];
  const flush = () => {
    if (para.length) out.push(el("p", {}, inline(para.join(" "))));
    para = [];
  };
  for (const raw of (source || "").split("\n")) {
    const line = raw.trim();
    const heading = /^(#{1,4})\s+(.*)$/.exec(line);
    const item = /^[-*]\s+(.*)$/.exec(line) || /^\d+[.)]\s+(.*)$/.exec(line);
    if (!line) {
      flush();
      list = null;
    } else if (heading) {
      flush();
      list = null;
      out.push(el(`h${Math.min(6, heading[1].length + 2)}`, {}, inline(heading[2])));
    } else if (item) {
      flush();
      if (!list) {
        list = el("ul");
        out.push(list);
      }
      list.append(el("li", {}, inline(item[1])));
    } else {
      list = null;
      para.push(line);
    }
  }
  flush();
  return out;
}

async function copyText(text, button) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // Without clipboard permission (plain http on another host): select-and-copy through a hidden textarea.
    const area = el("textarea", { class: "kb-copy-buffer" });
    area.value = text;
    document.body.append(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }
  button.dataset.copied = "1";
  button.textContent = t("kb.copied");
  setTimeout(() => {
    delete button.dataset.copied;
    button.textContent = t("kb.copy");
  }, 1500);
}

function copyButton(text) {
  const button = el("button", { type: "button", class: "kb-copy", "data-testid": "kb-copy", i18n: "kb.copy" });
  button.addEventListener("click", () => copyText(text, button));
  return button;
}

export function initKbPanel(toast) {
  const search = $("kb-search");
  const results = $("kb-results");
  const article = $("kb-article");
  const heading = $("kb-heading");
  const tabButtons = Object.fromEntries(TABS.map((tab) => [tab, document.querySelector(`[data-testid="kb-tab-${tab}"]`)]));
  let tab = "articles";
  let skill = "";
  let rows = [];
  let active = -1;
  let timer = null;
  let controller = null;
  let openItem = null;

  api("GET", "/api/kb/context")
    .then((context) => {
      skill = context.skill || "";
      run();
    })
    .catch(() => run());

  async function run() {
    clearTimeout(timer);
    controller?.abort();
    controller = new AbortController();
    const signal = controller.signal;
    const q = search.value.trim();
    const params = new URLSearchParams({ q, tab, limit: "50" });
    if (skill) params.set("skill", skill);
    let page;
    try {
      const response = await fetch(`/api/kb/search?${params}`, { signal, credentials: "same-origin" });
      page = await response.json();
      if (!response.ok) throw page?.error || { code: "internal" };
    } catch (e) {
      if (e?.name === "AbortError") return; // a newer query replaced this one
      results.replaceChildren(el("li", { class: "hint", text: errorText(e) }));
      return;
    }
    if (signal.aborted) return;
    for (const name of TABS) {
      const count = tabButtons[name].querySelector(".kb-count");
      count.textContent = String(page.counts[name] ?? 0);
      tabButtons[name].dataset.count = String(page.counts[name] ?? 0);
    }
    heading.textContent = q ? "" : skill ? t("kb.most_used_skill", { skill }) : t("kb.most_used");
    heading.hidden = !!q;
    rows = page.results;
    active = rows.length ? 0 : -1;
    renderResults();
    results.dataset.query = q;
    results.dataset.tab = tab;
  }

  function renderResults() {
    if (!rows.length) {
      results.replaceChildren(el("li", { class: "hint kb-empty", "data-testid": "kb-empty", i18n: "kb.no_results" }));
      return;
    }
    results.replaceChildren(
      ...rows.map((row, index) =>
        el(
          "li",
          {
            class: "kb-result",
            role: "option",
            "data-testid": "kb-result",
            "data-id": row.id,
            "data-q-index": row.q_index ?? null,
            "aria-selected": index === active ? "true" : "false",
            onclick: () => openResult(index),
          },
          el("span", { class: "kb-result-title", text: row.title }),
          el("span", { class: "kb-result-snippet", text: row.snippet }),
        ),
      ),
    );
  }

  function highlight(index) {
    active = Math.max(0, Math.min(rows.length - 1, index));
    results.querySelectorAll(".kb-result").forEach((li, i) => {
      li.setAttribute("aria-selected", i === active ? "true" : "false");
      if (i === active) li.scrollIntoView({ block: "nearest" });
    });
  }

  function openResult(index) {
    const row = rows[index];
    if (row) openArticle(row.id, row.q_index);
  }

  async function openArticle(id, qIndex) {
    let item;
    try {
      item = await api("GET", `/api/kb/items/${encodeURIComponent(id)}`);
    } catch (e) {
      toast(errorText(e));
      return;
    }
    openItem = item;
    await renderArticle(item, qIndex);
    results.hidden = true;
    heading.hidden = true;
    article.hidden = false;
    article.focus();
    api("POST", `/api/kb/items/${encodeURIComponent(id)}/used`, skill ? { skill } : {}).catch(() => {});
    document.dispatchEvent(new CustomEvent("kb:article-opened", { detail: { id: item.id, title: item.title, type: item.type } }));
  }

  function backToResults() {
    article.hidden = true;
    results.hidden = false;
    heading.hidden = !!search.value.trim();
    openItem = null;
    search.focus();
  }

  async function linked(ids) {
    const items = await Promise.all(ids.map((id) => api("GET", `/api/kb/items/${encodeURIComponent(id)}`).catch(() => ({ id, missing: true }))));
    return items;
  }

  function contactList(point) {
    return el(
      "ul",
      { class: "kb-contacts" },
      point.contacts.map((c) =>
        el(
          "li",
          { class: "kb-contact", "data-testid": "kb-contact", "data-kind": c.kind },
          el("span", { class: "kb-contact-value", text: `${t(`kb.kind_${c.kind}`)}: ${c.value}` }),
          el("span", { class: `badge ${c.agent_may_escalate ? "yes" : "no"}`, "data-testid": "kb-may-escalate", i18n: c.agent_may_escalate ? "kb.may_escalate" : "kb.may_not_escalate" }),
          el("span", { class: `badge ${c.give_to_citizen ? "yes" : "no"}`, "data-testid": "kb-give-citizen", i18n: c.give_to_citizen ? "kb.give_to_citizen" : "kb.not_for_citizen" }),
        ),
      ),
    );
  }

  function pointBlock(point) {
    if (point.missing) return el("div", { class: "kb-point missing", text: t("kb.missing_link", { id: point.id }) });
    const mayEscalate = point.contacts.some((c) => c.kind === "mail" && c.agent_may_escalate);
    return el(
      "div",
      { class: "kb-point", "data-testid": "kb-escalation-point", "data-id": point.id },
      el("h4", { text: point.title }),
      point.handling_days != null ? el("p", { class: "kb-term", "data-testid": "kb-handling-term", text: t("kb.handling_term", { days: point.handling_days }) }) : null,
      point.instructions ? el("p", { class: "kb-instructions small", text: point.instructions }) : null,
      contactList(point),
      mayEscalate
        ? el("button", {
            type: "button",
            class: "kb-escalate",
            "data-testid": "kb-escalate",
            i18n: "kb.escalate",
            onclick: () => document.dispatchEvent(new CustomEvent("kb:escalate", { detail: { id: point.id, title: point.title } })),
          })
        : null,
    );
  }

  async function renderArticle(item, qIndex) {
    const nodes = [
      el("div", { class: "kb-article-bar" }, el("button", { type: "button", class: "kb-back", "data-testid": "kb-back", i18n: "kb.back", onclick: backToResults }), el("span", { class: "hint", text: item.updated ? t("kb.updated", { date: item.updated }) : "" })),
      el("h3", { class: "kb-title", "data-testid": "kb-article-title", text: item.title }),
    ];
    if (item.instructions) {
      nodes.push(
        el(
          "div",
          { class: "kb-instructions", "data-testid": "kb-instructions", role: "note" },
          el("strong", { i18n: "kb.instructions" }),
          el("div", {}, renderMarkdown(item.instructions)),
        ),
      );
    }
    if (item.body) nodes.push(el("div", { class: "kb-block" }, copyButton(item.body), el("div", { class: "kb-body" }, renderMarkdown(item.body))));
    if (item.type === "escalation" || item.type === "organisation") {
      if (item.handling_days != null) nodes.push(el("p", { class: "kb-term", "data-testid": "kb-handling-term", text: t("kb.handling_term", { days: item.handling_days }) }));
      if (item.contacts.length) nodes.push(contactList(item));
    }
    if (item.faq.length) {
      nodes.push(el("h4", { i18n: "kb.faq" }));
      nodes.push(
        el(
          "dl",
          { class: "kb-faq", "data-testid": "kb-faq" },
          item.faq.map((f, i) => [
            el("dt", { class: i === qIndex ? "kb-faq-hit" : null, text: f.q }),
            el("dd", { class: i === qIndex ? "kb-faq-hit" : null }, el("span", { text: f.a }), copyButton(f.a)),
          ]),
        ),
      );
    }
    const points = item.escalations.length ? await linked(item.escalations) : [];
    if (points.length) nodes.push(el("h4", { i18n: "kb.escalations" }), el("div", { class: "kb-points" }, points.map(pointBlock)));
    const orgs = item.organisations.length ? await linked(item.organisations) : [];
    if (orgs.length) {
      nodes.push(el("h4", { i18n: "kb.organisations" }));
      nodes.push(el("ul", { class: "kb-orgs" }, orgs.map((o) => el("li", {}, el("button", { type: "button", class: "link", text: o.title || o.id, onclick: () => !o.missing && openArticle(o.id) })))));
    }
    nodes.push(feedbackForm(item));
    article.replaceChildren(...nodes);
    article.querySelector(".kb-faq-hit")?.scrollIntoView({ block: "center" });
  }

  function feedbackForm(item) {
    const text = el("textarea", { rows: "3", maxlength: "4000", "data-testid": "kb-feedback-text", "data-i18n-placeholder": "kb.feedback_placeholder", placeholder: t("kb.feedback_placeholder") });
    const status = el("p", { class: "hint", "data-testid": "kb-feedback-status" });
    const form = el(
      "form",
      { class: "kb-feedback-form", hidden: true },
      text,
      el("div", { class: "row" }, el("button", { type: "submit", class: "primary", "data-testid": "kb-feedback-send", i18n: "kb.feedback_send" }), el("button", { type: "button", i18n: "kb.cancel", onclick: () => (form.hidden = true) })),
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        await api("POST", "/api/kb/feedback", { item_id: item.id, text: text.value });
        form.hidden = true;
        text.value = "";
        status.textContent = t("kb.feedback_thanks");
      } catch (e) {
        status.textContent = errorText(e);
      }
    });
    const open = el("button", { type: "button", class: "link", "data-testid": "kb-feedback", i18n: "kb.feedback", onclick: () => {
      form.hidden = false;
      text.focus();
    } });
    return el("div", { class: "kb-feedback" }, open, form, status);
  }

  search.addEventListener("input", () => {
    clearTimeout(timer);
    if (!article.hidden) backToResultsQuiet();
    timer = setTimeout(run, DEBOUNCE_MS);
  });
  function backToResultsQuiet() {
    article.hidden = true;
    results.hidden = false;
    openItem = null;
  }
  search.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown") {
      event.preventDefault();
      highlight(active + 1);
    } else if (event.key === "ArrowUp") {
      event.preventDefault();
      highlight(active - 1);
    } else if (event.key === "Enter") {
      event.preventDefault();
      clearTimeout(timer);
      if (active >= 0) openResult(active);
    } else if (event.key === "Escape" && search.value) {
      search.value = "";
      run();
    }
  });
  article.setAttribute("tabindex", "-1");
  article.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.preventDefault();
      backToResults();
    }
  });
  for (const name of TABS) {
    tabButtons[name].addEventListener("click", () => {
      tab = name;
      for (const other of TABS) tabButtons[other].setAttribute("aria-selected", other === name ? "true" : "false");
      if (!article.hidden) backToResultsQuiet();
      run();
    });
  }
  return { openArticle, search: run };
}
