// Translations: nl, fr and en dictionaries loaded as JSON. Every UI string on a page follows a live language
// switch: static elements carry data-i18n keys (data-i18n-placeholder, -title, -label for aria-label); texts made
// by the page's modules go through setText / setLive, which remember how to render them again. Content that is
// not UI text (KB articles, names, numbers) is marked translate="no" by the modules that show it.
// A switch dispatches `i18n:changed` on document for modules that rebuild lists.
const LANGS = ["nl", "fr", "en"];
let dict = {};
let current = null; // until the first dictionary is loaded
const renderers = new WeakMap(); // element → () => string, for elements marked data-i18n-live

export function pickLang(preferred) {
  const candidates = [preferred, localStorage.getItem("lang"), ...(navigator.languages || [])];
  for (const c of candidates) {
    const code = (c || "").slice(0, 2).toLowerCase();
    if (LANGS.includes(code)) return code;
  }
  return "nl";
}

export async function loadLang(lang) {
  const code = LANGS.includes(lang) ? lang : "nl";
  const response = await fetch(`/static/i18n/${code}.json`, { cache: "no-cache" });
  dict = await response.json();
  const changed = current !== null && code !== current;
  current = code;
  document.documentElement.lang = code;
  localStorage.setItem("lang", code);
  applyI18n(document);
  if (changed) document.dispatchEvent(new CustomEvent("i18n:changed", { detail: { lang: code } }));
  return code;
}

export function lang() {
  return current || "nl";
}

// `vars` values may be functions (called at each render): a date or number formatted in the current locale.
export function t(key, vars = {}) {
  const text = dict[key];
  if (text === undefined) return key;
  return text.replace(/\{(\w+)\}/g, (_, name) => {
    const value = vars[name];
    return String((typeof value === "function" ? value() : value) ?? "");
  });
}

// The element shows render() now and again after every language switch; null clears it (plain text after).
export function setLive(element, render) {
  delete element.dataset.i18n;
  if (!render) {
    renderers.delete(element);
    delete element.dataset.i18nLive;
    element.textContent = "";
    return;
  }
  renderers.set(element, render);
  element.dataset.i18nLive = "";
  element.textContent = render();
}

// The element shows the translation of `key` (with `vars`), kept in the current language; a falsy key clears it.
export function setText(element, key, vars = {}) {
  setLive(element, key ? () => t(key, vars) : null);
}

// Text that is not translated (a name, a number): also forgets a translation the element showed before.
export function setPlain(element, text) {
  setLive(element, null);
  element.textContent = text ?? "";
}

export function applyI18n(root) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-live]")) {
    const render = renderers.get(el);
    if (render) el.textContent = render();
  }
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll("[data-i18n-title]")) el.title = t(el.dataset.i18nTitle);
  for (const el of root.querySelectorAll("[data-i18n-label]")) el.setAttribute("aria-label", t(el.dataset.i18nLabel));
}

// An error from the desk or the bridge, in the agent's language: by code, with details such as tries_left.
export function errorText(error) {
  const code = error?.code || "internal";
  const details = error?.details || {};
  if (code === "pin_incorrect" && details.tries_left !== undefined) {
    return t("error.pin_incorrect_tries", { tries_left: details.tries_left });
  }
  // The logged-in API's limit per session (not the login's per address): says how long to wait.
  if (code === "rate_limited" && details.limit === "session") return t("error.session_rate_limited", details);
  const key = `error.${code}`;
  const text = t(key, details);
  return text === key ? t("error.internal") : text;
}

// errorText that follows a language switch, for setLive.
export function errorRender(error) {
  return () => errorText(error);
}
