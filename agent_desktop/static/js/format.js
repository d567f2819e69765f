// Numbers, dates and times in the agent's locale (nl-BE, fr-BE, en-GB; always the 24-hour clock), for every page.
// The locale follows the page language (i18n.js), so a formatted value re-rendered after a language switch
// changes with it. Dates without a time ("2026-01-12") are calendar dates, never shifted by the time zone.
import { lang } from "./i18n.js";

const LOCALES = { nl: "nl-BE", fr: "fr-BE", en: "en-GB" };
const cache = new Map();

export function locale() {
  return LOCALES[lang()] || LOCALES.nl;
}

function formatter(kind, options) {
  const key = `${locale()}|${kind}|${JSON.stringify(options)}`;
  let f = cache.get(key);
  if (!f) {
    f = kind === "number" ? new Intl.NumberFormat(locale(), options) : new Intl.DateTimeFormat(locale(), options);
    cache.set(key, f);
  }
  return f;
}

function toDate(value) {
  if (value instanceof Date) return value;
  const day = /^(\d{4})-(\d{2})-(\d{2})$/.exec(String(value ?? ""));
  if (day) return new Date(Number(day[1]), Number(day[2]) - 1, Number(day[3]));
  return new Date(value);
}

function valid(d) {
  return d instanceof Date && !Number.isNaN(d.getTime());
}

// A number with exactly `digits` decimals (or between `min` and `max` when given).
export function formatNumber(value, digits = 0, { min = digits, max = digits } = {}) {
  if (typeof value !== "number" || !Number.isFinite(value)) return "–";
  return formatter("number", { minimumFractionDigits: min, maximumFractionDigits: max }).format(value);
}

// `value` is already in percent (12.5 → "12,5 %" in fr-BE).
export function formatPercent(value, digits = 1) {
  if (typeof value !== "number" || !Number.isFinite(value)) return "–";
  return formatter("number", { style: "percent", minimumFractionDigits: digits, maximumFractionDigits: digits }).format(value / 100);
}

// "12 januari 2026" / "12 janvier 2026" / "12 January 2026"; style "short" gives "12/01/2026"; "weekday" adds it.
export function formatDate(value, style = "long") {
  const d = toDate(value);
  if (!valid(d)) return String(value ?? "");
  const options =
    style === "short"
      ? { day: "2-digit", month: "2-digit", year: "numeric" }
      : style === "weekday"
        ? { weekday: "short", day: "numeric", month: "long", year: "numeric" }
        : { day: "numeric", month: "long", year: "numeric" };
  return formatter("date", options).format(d);
}

// The local calendar day as "2026-01-12": the value of an <input type=date> and of the desk's from/to dates.
export function isoDate(d) {
  const two = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}`;
}

// "12/01/2026 15:20" (day first, 24-hour), in the local time zone.
export function formatDateTime(value) {
  const d = toDate(value);
  if (!valid(d)) return String(value ?? "");
  return formatter("date", { day: "2-digit", month: "2-digit", year: "numeric", hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).format(d);
}

// "15:20" or, with seconds, "15:20:07".
export function formatTime(value, { seconds = false } = {}) {
  const d = toDate(value);
  if (!valid(d)) return String(value ?? "");
  const options = { hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
  if (seconds) options.second = "2-digit";
  return formatter("date", options).format(d);
}

// A duration as a clock: "0:07", "2:15", "1:02:15" (the counters of the phone panel; the same in every locale
// here, with the locale's digits).
export function formatDuration(totalSeconds) {
  if (typeof totalSeconds !== "number" || !Number.isFinite(totalSeconds)) return "–";
  const seconds = Math.max(0, Math.floor(totalSeconds));
  const two = formatter("number", { minimumIntegerDigits: 2, useGrouping: false });
  const one = formatter("number", { useGrouping: false });
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = two.format(seconds % 60);
  return h ? `${one.format(h)}:${two.format(m)}:${s}` : `${one.format(m)}:${s}`;
}
