// A date or date-and-time field written the way the page's locale writes it (nl-BE, fr-BE and en-GB all write
// day/month/year and a 24-hour clock: 05/03/2026 14:30), in place of Chromium's <input type=date|datetime-local>,
// whose face follows the browser's own language (an en-US Chromium shows and reads 03/05/2026 and 2:30 PM,
// which a Belgian agent takes for 3 May). The page's modules read and set the ISO value the API has always
// taken ("2026-03-05", "2026-03-05T14:30", no offset); the input shows and accepts the local writing, also ISO
// (pasted, or typed by tests and scripts), checks it with a message in the page's language, and keeps the
// input's id and data-testid. No picker: the digits are typed; ArrowUp/ArrowDown step a day (a minute when the
// caret is in the time).
import { setText, t } from "./i18n.js";

const EXAMPLE = { date: "31/12/2026", time: "31/12/2026 17:30" };
const pad = (n, width = 2) => String(n).padStart(width, "0");

function validDay(y, m, d) {
  if (y < 1900 || y > 2999 || m < 1 || m > 12 || d < 1) return false;
  return d <= new Date(Date.UTC(y, m, 0)).getUTCDate();
}

// "05/03/2026", "5-3-2026", "5.3.2026", "05032026" or ISO "2026-03-05" → "2026-03-05"; null when not a day.
export function parseDate(text) {
  const s = String(text ?? "").trim();
  let y, m, d;
  let match = /^(\d{4})-(\d{1,2})-(\d{1,2})$/.exec(s);
  if (match) [, y, m, d] = match.map(Number);
  else if ((match = /^(\d{1,2})\s*[/.-]\s*(\d{1,2})\s*[/.-]\s*(\d{4})$/.exec(s))) [, d, m, y] = match.map(Number);
  else if ((match = /^(\d{2})(\d{2})(\d{4})$/.exec(s))) [, d, m, y] = match.map(Number);
  else return null;
  return validDay(y, m, d) ? `${pad(y, 4)}-${pad(m)}-${pad(d)}` : null;
}

// "05/03/2026 14:30" (also "14.30", "14h30", ISO "2026-03-05T14:30") → "2026-03-05T14:30"; null when not a moment.
export function parseDateTime(text) {
  const s = String(text ?? "").trim();
  const match = /^(.+?)(?:\s+|T)(\d{1,2})\s*[:.hH]\s*(\d{2})$/.exec(s);
  if (!match) return null;
  const day = parseDate(match[1]);
  const [hour, minute] = [Number(match[2]), Number(match[3])];
  if (!day || hour > 23 || minute > 59) return null;
  return `${day}T${pad(hour)}:${pad(minute)}`;
}

// "2026-03-05" → "05/03/2026"; "2026-03-05T14:30[:00]" → "05/03/2026 14:30"; anything else as it is.
export function showLocal(iso) {
  const match = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2}))?/.exec(String(iso ?? ""));
  if (!match) return String(iso ?? "");
  const day = `${match[3]}/${match[2]}/${match[1]}`;
  return match[4] === undefined ? day : `${day} ${match[4]}:${match[5]}`;
}

export class DateField {
  // `input`: an <input type=date> or <input type=datetime-local> (its type says which), turned into text.
  constructor(input) {
    this.input = input;
    this.withTime = input.type === "datetime-local" || input.dataset.dateField === "datetime";
    const initial = input.value;
    // Checked here, in the page's language (the browser's own "fill out this field" speaks its language), and
    // only by check(): a constraint on a field hidden in a form (the wrap-up's call-back time) would block the
    // whole form without a word.
    this.required = input.required;
    input.required = false;
    if (this.required) input.setAttribute("aria-required", "true");
    input.dataset.dateField = this.withTime ? "datetime" : "date";
    input.type = "text";
    input.inputMode = "numeric";
    input.autocomplete = "off";
    input.spellcheck = false;
    input.maxLength = this.withTime ? 20 : 14;
    input.dataset.i18nPlaceholder = this.withTime ? "date.placeholder_time" : "date.placeholder";
    input.placeholder = t(input.dataset.i18nPlaceholder);
    // The message sits under the field, out of the flow: a filter row keeps its width at 1280 px.
    const wrap = document.createElement("span");
    wrap.className = "date-field";
    input.replaceWith(wrap);
    this.error = document.createElement("span");
    this.error.className = "date-field-error";
    this.error.id = `${input.id || "date"}-error`;
    if (input.dataset.testid) this.error.dataset.testid = `${input.dataset.testid}-error`;
    this.error.setAttribute("role", "alert");
    this.error.hidden = true;
    wrap.append(input, this.error);
    input.setAttribute("aria-describedby", this.error.id);
    this.value = initial;

    input.addEventListener("input", () => this.validate(false));
    // Leaving the field tidies "5-3-2026" to 05/03/2026 but says nothing yet: a message appearing on blur moves
    // what is under it, and the button the agent's mouse was going down on (the wrap-up's save) moves away.
    input.addEventListener("blur", () => {
      if (this.validate(false) && this.iso) input.value = showLocal(this.iso);
    });
    input.addEventListener("keydown", (event) => this.step(event));
    document.addEventListener("i18n:changed", () => this.validate(!this.error.hidden));
  }

  // The ISO value ("" when empty or not a valid date: check() says which).
  get value() {
    return this.iso || "";
  }

  set value(iso) {
    const parsed = iso ? (this.withTime ? parseDateTime(String(iso).slice(0, 16)) : parseDate(iso)) : "";
    this.input.value = parsed ? showLocal(parsed) : String(iso ?? "");
    this.validate(false);
  }

  // True when the field holds a valid value (or is empty and not required); else shows why and focuses it.
  check() {
    const ok = this.validate(true);
    if (!ok) this.input.focus();
    return ok;
  }

  // Reads the text into `iso`; the message shows (or goes) when `show`, or goes when the text is fine now.
  validate(show) {
    const text = this.input.value.trim();
    this.iso = text ? (this.withTime ? parseDateTime(text) : parseDate(text)) : "";
    const key =
      this.iso === null
        ? this.withTime
          ? "date.invalid_time"
          : "date.invalid"
        : !text && this.required
          ? "date.required"
          : null;
    this.input.dataset.iso = this.iso || "";
    if (!key || show) {
      if (key) this.input.setAttribute("aria-invalid", "true");
      else this.input.removeAttribute("aria-invalid");
      this.error.hidden = !key;
      setText(this.error, key, { example: this.withTime ? EXAMPLE.time : EXAMPLE.date });
    }
    return !key;
  }

  // ArrowUp/ArrowDown: a day later/earlier, or a minute when the caret is past the date of a date-time.
  step(event) {
    if ((event.key !== "ArrowUp" && event.key !== "ArrowDown") || event.altKey || event.ctrlKey) return;
    if (!this.iso) return;
    event.preventDefault();
    const sign = event.key === "ArrowUp" ? 1 : -1;
    const [day, time = "00:00"] = this.iso.split("T");
    const [y, m, d] = day.split("-").map(Number);
    const [hh, mm] = time.split(":").map(Number);
    const inTime = this.withTime && (this.input.selectionStart ?? 0) > 10;
    const at = new Date(Date.UTC(y, m - 1, d + (inTime ? 0 : sign), hh, mm + (inTime ? sign : 0)));
    const next = at.toISOString().slice(0, this.withTime ? 16 : 10);
    const caret = this.input.selectionStart;
    this.value = next;
    this.input.setSelectionRange(caret, caret);
    this.input.dispatchEvent(new Event("change", { bubbles: true }));
  }
}

// The field of `input` (an <input type=date|datetime-local>), made once.
const fields = new WeakMap();
export function dateField(input) {
  let field = fields.get(input);
  if (!field) {
    field = new DateField(input);
    fields.set(input, field);
  }
  return field;
}
