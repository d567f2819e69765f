// Pure helpers of the preflight page: judging a value against a requirement from /api/preflight/requirements
// (the same rules as hardware_check.requirements.evaluate; the thresholds themselves only come from the server),
// the report's overall status, headset names, and the microphone test's levels.

const RANK = { pass: 0, warn: 1, unknown: 2, fail: 3 };

export function worst(statuses) {
  if (!statuses.length) return "unknown";
  return statuses.reduce((a, b) => (RANK[b] > RANK[a] ? b : a));
}

export function judgeNumber(req, value) {
  if (typeof value !== "number" || Number.isNaN(value)) return "unknown";
  const better = req.direction === "lower_is_better" ? (a, b) => a <= b : (a, b) => a >= b;
  if (better(value, req.pass)) return "pass";
  if (req.warn !== null && req.warn !== undefined && better(value, req.warn)) return "warn";
  return "fail";
}

export function parseScreen(value) {
  const m = /^\s*(\d{1,6})\s*[x×]\s*(\d{1,6})\s*$/.exec(String(value));
  return m ? [Number(m[1]), Number(m[2])] : null;
}

export function judgeScreen(req, width, height) {
  const [minW, minH] = req.pass;
  return width >= minW && height >= minH ? "pass" : "fail";
}

// `trains` maps a browser family to the release train its majors follow (Edge and Chromium follow Chrome).
export function judgeBrowser(req, trains, family, major) {
  const train = trains[String(family).toLowerCase()];
  if (!train) return "fail";
  if (major >= req.pass[train]) return "pass";
  if (major >= req.warn[train]) return "warn";
  return "fail";
}

export function judge(req, value, trains = {}) {
  if (value === null || value === undefined) return "unknown";
  if (req.name === "screen") {
    const dims = parseScreen(value);
    return dims ? judgeScreen(req, ...dims) : "unknown";
  }
  if (req.name === "browser") {
    const m = /^\s*([A-Za-z]+)\s+(\d{1,4})/.exec(String(value));
    return m ? judgeBrowser(req, trains, m[1], Number(m[2])) : "fail";
  }
  if (req.name === "eid_reader") {
    if (value === req.pass) return "pass";
    if (value === req.warn) return "warn";
    return (req.levels || []).includes(value) ? "fail" : "unknown";
  }
  if (typeof value === "boolean") return "unknown";
  return judgeNumber(req, value);
}

// Chromium-based browsers tell their brand in navigator.userAgentData (headless Chromium's user agent string says
// "HeadlessChrome", which no user-agent pattern should accept as Chrome). Browsers with their own release
// policy are named as themselves, so they fail like on the server side.
const OTHER_BRANDS = ["Opera", "Vivaldi", "Samsung Internet", "YaBrowser", "Yandex"];

export function browserFromBrands(brands) {
  if (!Array.isArray(brands)) return null;
  const find = (prefix) => brands.find((b) => String(b.brand).startsWith(prefix));
  for (const other of OTHER_BRANDS) {
    const hit = find(other);
    if (hit) return { family: other.split(" ")[0].toLowerCase(), major: parseInt(hit.version, 10) || 0 };
  }
  for (const [brand, family] of [["Microsoft Edge", "edge"], ["Google Chrome", "chrome"], ["Chromium", "chromium"]]) {
    const hit = find(brand);
    if (hit) return { family, major: parseInt(hit.version, 10) || 0 };
  }
  return null;
}

export function isHeadset(name, hints) {
  const low = String(name).toLowerCase().replaceAll("_", " ");
  return hints.some((hint) => low.includes(hint.replaceAll("_", " ")));
}

function percentile(sorted, p) {
  if (!sorted.length) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.round((p / 100) * (sorted.length - 1))));
  return sorted[i];
}

export const SILENCE_DB = -100;
export const FRAME_MS = 20;
// Frames this far apart in level are two kinds (speech and pauses); closer, it is one steady sound.
const DISTINCT_DB = 6;

function powerDb(sumSq, n) {
  const power = n ? sumSq / n : 0;
  return power > 0 ? Math.max(SILENCE_DB, 10 * Math.log10(power)) : SILENCE_DB;
}

// A frame {sumSq, n, clipped, peak} of the meter as dBFS (RMS).
export function frameDb(frame) {
  return powerDb(frame.sumSq, frame.n);
}

// The microphone test from its frames (every sample, in FRAME_MS frames). Frames split at the middle (in dB)
// between the quietest tenth and the loudest frame: above it the speech, below it the pauses. Speech level = the
// RMS over the loud frames' samples, noise floor = the RMS over the quiet ones'; the test's value is their
// difference. A steady sound (levels within DISTINCT_DB) has no pauses to tell noise from speech: both are its
// level and the difference is 0. Clipping = the share of speech samples at full scale.
export function micLevels(frames, frameMs = FRAME_MS) {
  const dbs = frames.map(frameDb);
  const sorted = [...dbs].sort((a, b) => a - b);
  const loudest = sorted.length ? sorted[sorted.length - 1] : NaN;
  const quiet10 = percentile(sorted, 10);
  const split = loudest - quiet10 >= DISTINCT_DB ? (loudest + quiet10) / 2 : -Infinity;
  const sum = { loud: { sumSq: 0, n: 0, clipped: 0, frames: 0 }, quiet: { sumSq: 0, n: 0, clipped: 0, frames: 0 } };
  let peak = 0;
  let samples = 0;
  frames.forEach((frame, i) => {
    const part = dbs[i] >= split ? sum.loud : sum.quiet;
    part.sumSq += frame.sumSq;
    part.n += frame.n;
    part.clipped += frame.clipped;
    part.frames += 1;
    peak = Math.max(peak, frame.peak);
    samples += frame.n;
  });
  const speechDb = sum.loud.n ? powerDb(sum.loud.sumSq, sum.loud.n) : NaN;
  const noiseDb = sum.quiet.n ? powerDb(sum.quiet.sumSq, sum.quiet.n) : speechDb;
  return {
    speechDb,
    noiseDb,
    snrDb: Number.isNaN(speechDb) ? NaN : speechDb - noiseDb,
    peakDb: peak > 0 ? Math.max(SILENCE_DB, 20 * Math.log10(peak)) : SILENCE_DB,
    clippedPct: sum.loud.n ? (100 * sum.loud.clipped) / sum.loud.n : 0,
    frames: frames.length,
    speechFrames: sum.loud.frames,
    frameMs,
    seconds: frames.length * (frameMs / 1000),
    samples,
  };
}

// The one piece of advice for a microphone test (never two that contradict): clipping says "too loud" and
// replaces the "too weak compared with the noise" of the requirement, whatever the difference came out as.
export const CLIPPING_PCT = 1;

export function micVerdict(levels, judged) {
  if (levels.clippedPct > CLIPPING_PCT) {
    return { status: worst([judged, "warn"]), adviceKey: "preflight.mic_clipping" };
  }
  return { status: judged, adviceKey: null };
}

export function round(value, digits = 1) {
  if (typeof value !== "number" || !Number.isFinite(value)) return null;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
