// The scripts panel: search the knowledge base as the agent types (debounced, stale requests aborted), tabs with
// counts, "most used for this skill" when the box is empty, and the article view (instructions highlighted, FAQ,
// escalation points with their allowed actions and handling term, copy buttons, feedback to the editors).
// Items in the agent's language (and items without one) come first; the others wait behind a filter button.
// Opening an item records its use and tells the wrap-up panel (event `kb:article-opened`).
// KB texts are content, not UI: they carry translate="no"; every UI text follows a language switch.
import { api } from "./api.js";
import { formatDate } from "./format.js";
import { errorRender, errorText, lang, setLive, setText, t } from "./i18n.js";

const TABS = ["articles", "faq", "escalations", "organisations"];
const DEBOUNCE_MS = 150;
const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "text") node.textContent = value;
    else if (key === "content") {
      node.textContent = value; // KB text: shown as written, whatever the page language
      node.setAttribute("translate", "no");
    } else if (key === "i18n") {
      if (Array.isArray(value)) setText(node, ...value);
      else {
        node.dataset.i18n = value;
        node.textContent = t(value);
      }
    } else if (key === "live") setLive(node, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
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

const TABLE_RULE = /^\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?$/;

function cells(line) {
  return line.replace(/^\|/, "").replace(/\|$/, "").split("|").map((c) => c.trim());
}

// A Markdown table: the rows before the |---| rule are the header.
function renderTable(lines) {
  const ruleAt = lines.findIndex((l) => TABLE_RULE.test(l));
  const head = ruleAt > 0 ? lines.slice(0, ruleAt) : [];
  const body = ruleAt >= 0 ? lines.slice(ruleAt + 1) : lines;
  const row = (line, tag) => el("tr", {}, cells(line).map((c) => el(tag, {}, inline(c))));
  return el(
    "table",
    { class: "kb-table" },
    head.length ? el("thead", {}, head.map((l) => row(l, "th"))) : null,
    el("tbody", {}, body.map((l) => row(l, "td"))),
  );
}

function words(text) {
  return (text || "").normalize("NFKD").replace(/\p{M}/gu, "").toLowerCase().match(/[\p{L}\p{N}]+/gu) || [];
}

// The body without an opening heading that only repeats the title (the panel shows the title already; the
// same rule as kb_client.text.body_text for snippets).
function withoutTitleHeading(source, title) {
  const lines = (source || "").replace(/^\n+/, "").split("\n");
  const heading = /^\s{0,3}#{1,2}\s+(.*?)\s*#*\s*$/.exec(lines[0]);
  const known = new Set(words(title));
  if (heading && words(heading[1]).every((w) => known.has(w))) lines.shift();
  return lines.join("\n");
}

function renderMarkdown(source) {
  const out = [];
  let list = null;
  let para = [];
  let table = [];
  const flush = () => {
    if (para.length) out.push(el("p", {}, inline(para.join(" "))));
    para = [];
    if (table.length) out.push(renderTable(table));
    table = [];
  };
  for (const raw of (source || "").split("\n")) {
    const line = raw.trim();
    const heading = /^(#{1,4})\s+(.*)$/.exec(line);
    const item = /^[-*]\s+(.*)$/.exec(line) || /^\d+[.)]\s+(.*)$/.exec(line);
    if (line.startsWith("|")) {
      if (!table.length) flush();
      list = null;
      table.push(line);
    } else if (!line) {
      flush();
      list = null;
    } else if (heading) {
      flush();
      list = null;
      out.push(el(`h${Math.min(6, heading[1].length + 2)}`, {}, inline(heading[2])));
    } else if (item) {
      if (para.length || table.length) flush();
      if (!list) {
        list = el("ul");
        out.push(list);
      }
      list.append(el("li", {}, inline(item[1])));
    } else {
      if (table.length) flush();
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
  setText(button, "kb.copied");
  setTimeout(() => {
    delete button.dataset.copied;
    setText(button, "kb.copy");
  }, 1500);
}

// `text`: a string, or a function giving it at the click (the rendered body's text, not its Markdown).
function copyButton(text) {
  const button = el("button", { type: "button", class: "kb-copy", "data-testid": "kb-copy", i18n: "kb.copy" });
  button.addEventListener("click", () => copyText(typeof text === "function" ? text() : text, button));
  return button;
}

// A skill as the agent reads it: its label in the page language, else the id made readable ("tax_return").
export function skillLabel(skill) {
  const key = `skill.${skill}`;
  const label = t(key);
  return label !== key ? label : skill.replace(/[_-]+/g, " ").replace(/^\w/, (c) => c.toUpperCase());
}

export function initKbPanel(toast) {
  const search = $("kb-search");
  const results = $("kb-results");
  const article = $("kb-article");
  const heading = $("kb-heading");
  const langFilter = $("kb-lang-filter");
  const tabButtons = Object.fromEntries(TABS.map((tab) => [tab, document.querySelector(`[data-testid="kb-tab-${tab}"]`)]));
  let tab = "articles";
  let skill = "";
  let page = { results: [] };
  let rows = [];
  let allLangs = false;
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
    let answer;
    try {
      const response = await fetch(`/api/kb/search?${params}`, { signal, credentials: "same-origin" });
      answer = await response.json();
      if (!response.ok) throw answer?.error || { code: "internal" };
    } catch (e) {
      if (e?.name === "AbortError") return; // a newer query replaced this one
      results.replaceChildren(el("li", { class: "hint", live: errorRender(e) }));
      return;
    }
    if (signal.aborted) return;
    for (const name of TABS) {
      const count = tabButtons[name].querySelector(".kb-count");
      count.textContent = String(answer.counts[name] ?? 0);
      tabButtons[name].dataset.count = String(answer.counts[name] ?? 0);
    }
    if (q) setText(heading, null);
    else if (skill) setText(heading, "kb.most_used_skill", { skill: () => skillLabel(skill) });
    else setText(heading, "kb.most_used");
    heading.hidden = !!q || !article.hidden;
    page = answer;
    showRows();
    results.dataset.query = q;
    results.dataset.tab = tab;
  }

  // The agent's language (and items without one) first, in the search's order; the others after them, shown
  // only when the agent asks (a Dutch agent reads a French script to a Dutch caller by mistake otherwise).
  // With nothing in the agent's language (no English scripts yet), the others show at once: "Nothing found"
  // above a list that has items would send the agent away from the scripts there are.
  function showRows() {
    const own = page.results.filter((r) => !r.lang || r.lang === lang());
    const others = page.results.filter((r) => r.lang && r.lang !== lang());
    rows = allLangs || !own.length ? [...own, ...others] : own;
    active = rows.length ? 0 : -1;
    langFilter.dataset.others = String(others.length);
    langFilter.setAttribute("aria-pressed", String(allLangs));
    langFilter.hidden = !others.length || !own.length;
    if (allLangs) setText(langFilter, "kb.lang_own", { lang: () => t(`lang.${lang()}`) });
    else setText(langFilter, "kb.lang_all", { count: others.length });
    renderResults();
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
            translate: "no",
            lang: row.lang || null,
            "data-testid": "kb-result",
            "data-id": row.id,
            "data-lang": row.lang || "",
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
          el("span", { class: "kb-contact-value" }, el("span", { i18n: `kb.kind_${c.kind}` }), ": ", el("span", { content: c.value })),
          el("span", { class: `badge ${c.agent_may_escalate ? "yes" : "no"}`, "data-testid": "kb-may-escalate", i18n: c.agent_may_escalate ? "kb.may_escalate" : "kb.may_not_escalate" }),
          el("span", { class: `badge ${c.give_to_citizen ? "yes" : "no"}`, "data-testid": "kb-give-citizen", i18n: c.give_to_citizen ? "kb.give_to_citizen" : "kb.not_for_citizen" }),
        ),
      ),
    );
  }

  function pointBlock(point) {
    if (point.missing) return el("div", { class: "kb-point missing", i18n: ["kb.missing_link", { id: point.id }] });
    const mayEscalate = point.contacts.some((c) => c.kind === "mail" && c.agent_may_escalate);
    return el(
      "div",
      { class: "kb-point", "data-testid": "kb-escalation-point", "data-id": point.id },
      el("h4", { content: point.title }),
      point.handling_days != null ? el("p", { class: "kb-term", "data-testid": "kb-handling-term", i18n: ["kb.handling_term", { days: point.handling_days }] }) : null,
      point.instructions ? el("p", { class: "kb-instructions small", content: point.instructions }) : null,
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
      el(
        "div",
        { class: "kb-article-bar" },
        el("button", { type: "button", class: "kb-back", "data-testid": "kb-back", i18n: "kb.back", onclick: backToResults }),
        el("span", { class: "hint", "data-testid": "kb-updated", i18n: item.updated ? ["kb.updated", { date: () => formatDate(item.updated) }] : null }),
      ),
      el("h3", { class: "kb-title", "data-testid": "kb-article-title", content: item.title, lang: item.lang || null }),
    ];
    if (item.instructions) {
      nodes.push(
        el(
          "div",
          { class: "kb-instructions", "data-testid": "kb-instructions", role: "note" },
          el("strong", { i18n: "kb.instructions" }),
          el("div", { translate: "no" }, renderMarkdown(item.instructions)),
        ),
      );
    }
    if (item.body) {
      const body = el("div", { class: "kb-body", translate: "no", lang: item.lang || null }, renderMarkdown(withoutTitleHeading(item.body, item.title)));
      nodes.push(el("div", { class: "kb-block" }, copyButton(() => body.innerText), body));
    }
    if (item.type === "escalation" || item.type === "organisation") {
      if (item.handling_days != null) nodes.push(el("p", { class: "kb-term", "data-testid": "kb-handling-term", i18n: ["kb.handling_term", { days: item.handling_days }] }));
      if (item.contacts.length) nodes.push(contactList(item));
    }
    if (item.faq.length) {
      nodes.push(el("h4", { i18n: "kb.faq" }));
      nodes.push(
        el(
          "dl",
          { class: "kb-faq", "data-testid": "kb-faq" },
          item.faq.map((f, i) => [
            el("dt", { class: i === qIndex ? "kb-faq-hit" : null, content: f.q }),
            el("dd", { class: i === qIndex ? "kb-faq-hit" : null }, el("span", { content: f.a }), copyButton(f.a)),
          ]),
        ),
      );
    }
    const points = item.escalations.length ? await linked(item.escalations) : [];
    if (points.length) nodes.push(el("h4", { i18n: "kb.escalations" }), el("div", { class: "kb-points" }, points.map(pointBlock)));
    const orgs = item.organisations.length ? await linked(item.organisations) : [];
    if (orgs.length) {
      nodes.push(el("h4", { i18n: "kb.organisations" }));
      nodes.push(el("ul", { class: "kb-orgs" }, orgs.map((o) => el("li", {}, el("button", { type: "button", class: "link", content: o.title || o.id, onclick: () => !o.missing && openArticle(o.id) })))));
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
        setText(status, "kb.feedback_thanks");
      } catch (e) {
        setLive(status, errorRender(e));
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
  langFilter.addEventListener("click", () => {
    allLangs = !allLangs;
    showRows();
  });
  // Another language: its items come first now, and the heading's skill label changes with it.
  document.addEventListener("i18n:changed", () => {
    allLangs = false;
    run();
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
