// Numbers, dates and times in the agent's locale (nl-BE, fr-BE, en-GB; always the 24-hour clock), for every page.
// The locale follows the page language (i18n.js), so a formatted value re-rendered after a language switch
// changes with it. Times are the centre's clock, not the PC's: agents work from home on PCs set to any zone,
// and opening hours, callbacks' due and orders' calling hours are the centre's; the desk names its zone in
// `<html data-timezone>` (none: the PC's). Dates without a time ("2026-01-12") are calendar dates, never shifted.
import { lang } from "./i18n.js";

const LOCALES = { nl: "nl-BE", fr: "fr-BE", en: "en-GB" };
const cache = new Map();
let zone = (typeof document !== "undefined" && document.documentElement.dataset.timezone) || undefined;

// The zone the page shows times in ("Europe/Brussels"); undefined: the PC's.
export function timeZone() {
  return zone;
}

export function setTimeZone(name) {
  zone = name || undefined;
}

export function locale() {
  return LOCALES[lang()] || LOCALES.nl;
}

function formatter(kind, options) {
  if (kind === "date" && !("timeZone" in options)) options = { ...options, timeZone: zone };
  const key = `${locale()}|${kind}|${JSON.stringify(options)}`;
  let f = cache.get(key);
  if (!f) {
    f = kind === "number" ? new Intl.NumberFormat(locale(), options) : new Intl.DateTimeFormat(locale(), options);
    cache.set(key, f);
  }
  return f;
}

// A calendar date ("2026-01-12") as that day's UTC midnight, formatted in UTC: the same day on any PC.
function calendarDay(value) {
  const day = /^(\d{4})-(\d{2})-(\d{2})$/.exec(String(value ?? ""));
  return day ? new Date(Date.UTC(Number(day[1]), Number(day[2]) - 1, Number(day[3]))) : null;
}

function toDate(value) {
  if (value instanceof Date) return value;
  return calendarDay(value) || new Date(value);
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
// A moment's date is the centre's date of it.
export function formatDate(value, style = "long") {
  const d = toDate(value);
  if (!valid(d)) return String(value ?? "");
  const options =
    style === "short"
      ? { day: "2-digit", month: "2-digit", year: "numeric" }
      : style === "weekday"
        ? { weekday: "short", day: "numeric", month: "long", year: "numeric" }
        : { day: "numeric", month: "long", year: "numeric" };
  if (calendarDay(value)) options.timeZone = "UTC";
  return formatter("date", options).format(d);
}

// The centre's calendar day of the moment `d` as "2026-01-12": the value of an <input type=date> and of the
// desk's from/to dates.
export function isoDate(d) {
  const parts = Object.fromEntries(
    formatter("date", { year: "numeric", month: "2-digit", day: "2-digit", numberingSystem: "latn" })
      .formatToParts(d)
      .map((p) => [p.type, p.value]),
  );
  return `${parts.year}-${parts.month}-${parts.day}`;
}

// The calendar day `days` after (before, when negative) "2026-01-12".
export function addDays(day, days) {
  const d = calendarDay(day);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

// "12/01/2026 15:20" (day first, 24-hour), on the centre's clock.
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
