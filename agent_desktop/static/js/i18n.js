// Translations: nl, fr and en dictionaries loaded as JSON; elements carry data-i18n keys.
const LANGS = ["nl", "fr", "en"];
let dict = {};
let current = "nl";

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
  current = code;
  document.documentElement.lang = code;
  localStorage.setItem("lang", code);
  applyI18n(document);
  return code;
}

export function lang() {
  return current;
}

export function t(key, vars = {}) {
  const text = dict[key];
  if (text === undefined) return key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (vars[name] ?? ""));
}

export function applyI18n(root) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll("[data-i18n-title]")) el.title = t(el.dataset.i18nTitle);
}

// An error from the desk or the bridge, in the agent's language: by code, with details such as tries_left.
export function errorText(error) {
  const code = error?.code || "internal";
  const details = error?.details || {};
  if (code === "pin_incorrect" && details.tries_left !== undefined) {
    return t("error.pin_incorrect_tries", { tries_left: details.tries_left });
  }
  const key = `error.${code}`;
  const text = t(key, details);
  return text === key ? t("error.internal") : text;
}
