// The preflight page: runs every check of /api/preflight/requirements (in that order on screen), shows each row
// with its status, measured value and advice in the page language, saves the report for the helpdesk and
// offers it as JSON. Device checks (microphone, speaker) and network checks run side by side; the network checks
// run one after the other so a throughput test never disturbs the round-trip or call measurements.
import { api } from "./api.js";
import { formatNumber } from "./format.js";
import { errorText, lang, loadLang, pickLang, t } from "./i18n.js";
import { listDevices, micTest, newAudioContext, openMicrophone, playTone } from "./preflight-audio.js";
import { browserFromBrands, isHeadset, judge, micVerdict, round, worst } from "./preflight-checks.js";
import { estimateMos } from "./preflight-emodel.js";
import { callLoopback, measurePings, measureTransfer } from "./preflight-net.js";
import { wireLogout } from "./topbar.js";

const body = document.body;
const rowsBox = document.getElementById("check-rows");
const runButton = document.getElementById("run");
const overallBox = document.getElementById("overall");
const langSwitch = document.getElementById("lang-switch");
const micPrompt = document.getElementById("mic-prompt");
const micLevel = document.getElementById("mic-level");
const speakerPrompt = document.getElementById("speaker-prompt");
const speakerButtons = document.getElementById("speaker-buttons");
const netProgress = document.getElementById("net-progress");
const reportHint = document.getElementById("report-hint");
const reportId = document.getElementById("report-id");
const reportError = document.getElementById("report-error");
const download = document.getElementById("report-download");

const MIC_SECONDS = 3;
// The intro's "about N seconds": the network half is the longer one (echo pings, the call test, about 2 s of
// set-up and transfers on a good line; the microphone and tone run meanwhile), rounded up to 5 s.
const DEFAULT_NETWORK = { pings: 50, ping_interval_s: 0.02, webrtc_seconds: 10 };
const SPEAKER_ANSWER_S = 60;
const MAX_DETAIL = 1000;
const FINAL = new Set(["pass", "warn", "fail", "unknown"]);

let reqs = null;
const results = new Map();
// Page texts that follow the language switch: element → [key, vars].
const texts = new Map();

function runSeconds(net = DEFAULT_NETWORK) {
  const network = net.pings * net.ping_interval_s + net.webrtc_seconds + 2;
  const device = MIC_SECONDS + 1.5 + 3; // speak, the tone, the answer to "did you hear it?"
  return Math.ceil(Math.max(network, device) / 5) * 5;
}

function say(element, key, vars = {}) {
  texts.set(element, [key, vars]);
  element.textContent = t(key, vars);
}

function clip(text) {
  const s = String(text ?? "");
  return s.length <= MAX_DETAIL ? s : `${s.slice(0, MAX_DETAIL - 1)}…`;
}

function requirement(name) {
  return reqs.checks.find((r) => r.name === name);
}

// -- rows ---------------------------------------------------------------------------------------------------

function formatValue(req, value) {
  if (value === null || value === undefined) return "–";
  if (req.name === "eid_reader") return t(`preflight.eid_${value}`);
  if (req.name === "browser") return String(value).replace(/^\w/, (c) => c.toUpperCase());
  if (req.name === "screen") return `${String(value).replace("x", " × ")} px`;
  const unitKey = `preflight.unit.${req.unit}`;
  const unit = t(unitKey) === unitKey ? req.unit : t(unitKey, { n: value });
  return `${typeof value === "number" ? formatNumber(value, 0, { max: 2 }) : value} ${unit}`.trim();
}

function cell(tr, className, tag = "td") {
  let el = tr.querySelector(`.${className}`);
  if (!el) {
    el = document.createElement(tag);
    el.className = className;
    tr.append(el);
  }
  return el;
}

function renderRow(req, state) {
  let tr = rowsBox.querySelector(`tr[data-check="${req.name}"]`);
  if (!tr) {
    tr = document.createElement("tr");
    tr.dataset.check = req.name;
    tr.setAttribute("data-testid", `preflight-check-${req.name}`);
    rowsBox.append(tr);
  }
  const result = results.get(req.name);
  const status = result ? result.status : state || tr.dataset.status || "pending";
  tr.dataset.status = status;
  const title = cell(tr, "title", "th");
  title.scope = "row";
  title.textContent = req.title[lang()] || req.name;
  const badge = cell(tr, "status");
  badge.textContent = t(`preflight.status.${status}`);
  cell(tr, "value").textContent = result ? formatValue(req, result.value) : "";
  const advice = cell(tr, "advice");
  advice.replaceChildren();
  // One piece of advice for the cause found (a result's adviceKey replaces the requirement's general advice).
  if (result && (status === "warn" || status === "fail")) {
    const p = document.createElement("p");
    p.className = "advice-text";
    p.textContent = result.adviceKey ? t(result.adviceKey) : req.advice[lang()];
    advice.append(p);
  }
  if (result?.hintKey) {
    const p = document.createElement("p");
    p.className = "advice-text";
    p.textContent = t(result.hintKey);
    advice.append(p);
  }
  // Details are technical English (as in the stored report): shown for problems, a tooltip otherwise.
  tr.title = result?.detail && status === "pass" ? result.detail : "";
  if (result?.detail && status !== "pass") {
    const p = document.createElement("p");
    p.className = "detail";
    p.textContent = result.detail;
    advice.append(p);
  }
}

function renderAll(state) {
  for (const req of reqs.checks) renderRow(req, state);
}

// Record a check's result; its status is judged against the requirement unless `status` is given.
function setResult(name, value, detail, { status, hintKey, adviceKey, attrs } = {}) {
  const req = requirement(name);
  const judged = status || judge(req, value, reqs.browser_trains);
  results.set(name, { name, status: judged, value: value ?? null, unit: req.unit, detail: clip(detail), hintKey, adviceKey });
  renderRow(req);
  const tr = rowsBox.querySelector(`tr[data-check="${name}"]`);
  for (const [key, val] of Object.entries(attrs || {})) tr.dataset[key] = val;
}

// -- local checks -------------------------------------------------------------------------------------------

function checkCpu() {
  const n = navigator.hardwareConcurrency;
  if (Number.isInteger(n) && n > 0) setResult("cpu", n, `${n} logical processors as the browser reports them`);
  else setResult("cpu", null, "the browser does not tell the number of processors");
}

function checkMemory() {
  const gb = navigator.deviceMemory;
  if (typeof gb === "number") {
    setResult("memory", gb, `navigator.deviceMemory = ${gb}: the browser rounds the size to a few steps`);
  } else {
    setResult("memory", null, "this browser does not tell the memory size (Firefox does not); hardware-check on the PC measures it");
  }
}

function checkScreen() {
  const dpr = window.devicePixelRatio || 1;
  const w = Math.round(screen.width * dpr);
  const h = Math.round(screen.height * dpr);
  setResult("screen", `${w}x${h}`, `screen ${screen.width}×${screen.height} at device pixel ratio ${dpr}; window ${innerWidth}×${innerHeight}`);
}

function checkBrowser() {
  const ua = navigator.userAgent;
  const found = browserFromBrands(navigator.userAgentData?.brands) || reqs.client?.browser;
  if (found) setResult("browser", `${found.family} ${found.major}`, ua.slice(0, 300));
  else setResult("browser", null, `not Chrome, Edge or Firefox: ${ua.slice(0, 300)}`, { status: "fail" });
}

async function checkEid() {
  const port = body.dataset.bridgePort;
  try {
    const s = await api("GET", "/status", undefined, { base: `http://127.0.0.1:${port}`, timeoutMs: 4000 });
    const level = !s.readers ? "none" : s.token_present ? "card" : "reader";
    setResult("eid_reader", level, `eID bridge on 127.0.0.1:${port}: ${s.readers} reader(s), card ${s.token_present ? "present" : "absent"}`);
  } catch (e) {
    setResult(
      "eid_reader",
      null,
      `the eID bridge on this PC (127.0.0.1:${port}) does not answer (${e.code}): start it, or use the Web eID browser extension`,
      { status: "unknown", hintKey: "preflight.eid_no_bridge" },
    );
  }
}

// -- microphone, speaker, headset ---------------------------------------------------------------------------

function showLevel(db) {
  const level = Math.max(0, Math.min(1, (db + 60) / 60));
  micLevel.style.width = `${Math.round(level * 100)}%`;
  micLevel.dataset.level = level.toFixed(2);
  micLevel.dataset.max = Math.max(Number(micLevel.dataset.max || 0), level).toFixed(2);
}

function speakerAnswer(ctx, timeoutS) {
  return new Promise((resolve) => {
    const yes = document.getElementById("speaker-yes");
    const no = document.getElementById("speaker-no");
    const replay = document.getElementById("speaker-replay");
    const finish = (answer) => {
      clearTimeout(timer);
      yes.onclick = no.onclick = replay.onclick = null;
      speakerButtons.hidden = true;
      resolve(answer);
    };
    const timer = setTimeout(() => finish(null), timeoutS * 1000);
    yes.onclick = () => finish("yes");
    no.onclick = () => finish("no");
    replay.onclick = () => playTone(ctx);
    speakerButtons.hidden = false;
  });
}

async function speakerTest(ctx, devices) {
  const n = devices.outputs.length;
  const listed = devices.labelled
    ? `${n} output device(s): ${devices.outputs.join(", ")}`
    : n ? `${n} output device(s), names hidden` : "the browser does not list output devices";
  if (!ctx) {
    setResult("speaker", n || null, `no tone test (Web Audio unavailable); ${listed}`, n ? {} : { status: "unknown" });
    return;
  }
  say(speakerPrompt, "preflight.speaker_playing");
  await playTone(ctx);
  say(speakerPrompt, "preflight.speaker_question");
  const answer = await speakerAnswer(ctx, SPEAKER_ANSWER_S);
  if (answer === "yes") {
    say(speakerPrompt, "preflight.speaker_heard");
    setResult("speaker", Math.max(n, 1), `the test tone was heard; ${listed}`);
  } else if (answer === "no") {
    say(speakerPrompt, "preflight.speaker_not_heard");
    setResult("speaker", n, `the test tone was NOT heard; ${listed}`, { status: "fail" });
  } else {
    say(speakerPrompt, "preflight.speaker_no_answer");
    setResult("speaker", n || null, `no answer to the tone test within ${SPEAKER_ANSWER_S} s; ${listed}`, { status: "unknown" });
  }
}

async function checkDevices(ctx) {
  let stream = null;
  let refused = null;
  try {
    stream = await openMicrophone();
  } catch (e) {
    refused = e;
  }
  let devices = { inputs: [], outputs: [], labelled: false };
  try {
    devices = await listDevices();
  } catch {
    // keep the empty list: the rows below say what is missing
  }
  if (refused) {
    const name = refused.name || "Error";
    const permission = name === "NotAllowedError" || name === "SecurityError";
    const detail = permission
      ? `microphone permission refused (${name}: ${refused.message})`
      : name === "NotFoundError"
        ? "no audio input device found"
        : `the microphone cannot be opened (${name}: ${refused.message})`;
    setResult("microphone", permission ? null : 0, detail, {
      status: "fail",
      hintKey: permission ? "preflight.mic_permission" : name === "NotFoundError" ? undefined : "preflight.mic_busy",
    });
    setResult("mic_test", null, permission ? "not run: no microphone permission" : "not run: no usable microphone", { status: "unknown" });
    say(micPrompt, permission ? "preflight.mic_denied" : "preflight.mic_none");
  } else {
    const inUse = stream.getAudioTracks()[0]?.label || "";
    const n = Math.max(devices.inputs.length, 1);
    setResult("microphone", n, `${n} input device(s): ${devices.inputs.join(", ")}; in use: ${inUse}`);
  }
  if (!devices.labelled) {
    setResult("headset", null, "device names are hidden until the microphone is allowed", { status: "unknown" });
  } else {
    const hits = [...new Set([...devices.inputs, ...devices.outputs].filter((d) => isHeadset(d, reqs.headset_hints)))];
    setResult(
      "headset",
      hits.length,
      hits.length ? `headset by name: ${hits.join(", ")}` : "no device is named like a headset (it may still be one)",
    );
  }
  if (stream) {
    if (ctx) {
      say(micPrompt, "preflight.mic_speak", { seconds: MIC_SECONDS });
      const m = await micTest(ctx, stream, MIC_SECONDS, showLevel);
      const snr = round(m.snrDb, 1);
      const detail = `speech ${round(m.speechDb)} dBFS, noise floor ${round(m.noiseDb)} dBFS, peak ${round(m.peakDb)} dBFS; ${m.frames} frames of ${m.frameMs} ms (${round(m.seconds, 2)} s of audio, ${m.speechFrames} with speech); clipped ${round(m.clippedPct, 2)} % of the speech samples`;
      setResult("mic_test", snr, detail, micVerdict(m, judge(requirement("mic_test"), snr)));
      say(micPrompt, "preflight.mic_done");
    } else {
      setResult("mic_test", null, "not run: Web Audio is not available in this browser", { status: "unknown" });
    }
    for (const track of stream.getTracks()) track.stop();
  }
  await speakerTest(ctx, devices);
}

// -- network ------------------------------------------------------------------------------------------------

function progress(stage, done, total) {
  say(netProgress, `preflight.net_${stage}`, { done, total });
}

function setTransfer(name, r) {
  if (r.mbitS === null) {
    setResult(name, null, `could not measure: ${r.error}`, { status: "fail" });
    return;
  }
  const detail =
    r.error && r.movedBytes === 0
      ? r.error
      : `${(r.movedBytes / 1e6).toFixed(2)} MB moved; last transfer ${r.seconds.toFixed(2)} s${r.error ? `; ${r.error}` : ""}`;
  setResult(name, round(r.mbitS, 2), detail, { attrs: { bytes: String(r.movedBytes) } });
}

async function checkNetwork(ctx) {
  const net = reqs.network;
  const pings = await measurePings(net, progress);
  if (pings.rttMs === null) {
    const why = pings.error || `no echo answered within the timeout (${pings.timeouts} pings lost)`;
    setResult("network_rtt", null, `could not measure the round trip to the desk: ${why}`, { status: "fail" });
    setResult("network_jitter", null, `could not measure the round trip to the desk: ${why}`, { status: "fail" });
  } else {
    const n = pings.rtts.length;
    const lost = pings.timeouts ? `; ${pings.timeouts} echo(es) over the timeout` : "";
    setResult(
      "network_rtt",
      round(pings.rttMs, 1),
      `median of ${n} WebSocket echoes, min ${Math.min(...pings.rtts).toFixed(1)} ms, max ${Math.max(...pings.rtts).toFixed(1)} ms${lost}`,
    );
    if (pings.jitterMs === null) setResult("network_jitter", null, "too few echoes to measure jitter", { status: "unknown" });
    else setResult("network_jitter", round(pings.jitterMs, 1), `mean change between consecutive round trips over ${n} echoes`);
  }
  setTransfer("throughput_down", await measureTransfer("down", net, progress));
  setTransfer("throughput_up", await measureTransfer("up", net, progress));
  if (!ctx) {
    const why = "Web Audio is not available in this browser";
    setResult("network_loss", null, `the call test did not run: ${why}`, { status: "unknown" });
    setResult("webrtc", null, `the call test did not run: ${why}`, { status: "unknown" });
    return;
  }
  const call = await callLoopback(net, ctx, reqs.ice_servers || [], progress);
  if (!call.ok) {
    const busy = call.error.startsWith("rate_limited");
    setResult("network_loss", null, `the call test did not run: ${call.error}`, { status: "unknown" });
    setResult(
      "webrtc",
      null,
      busy
        ? `the desk is busy with other call tests (${call.error}); run the test again in a minute`
        : `the call test could not connect: ${call.error}. UDP to the desk may be blocked (then a TURN server is needed)`,
      { status: busy ? "unknown" : "fail", hintKey: busy ? "preflight.rtc_busy" : undefined },
    );
    say(netProgress, "preflight.net_done");
    return;
  }
  const noneBack = call.packetsReceived === 0;
  const loss = noneBack ? 100 : Math.max(call.lossDownPct ?? 0, call.lossUpPct ?? 0);
  const jitter = Math.max(call.jitterDownMs ?? 0, call.jitterUpMs ?? 0);
  const rtt = call.rttMs ?? pings.rttMs ?? 0;
  const fmt = (v, d = 1) => (v === null || v === undefined ? "?" : v.toFixed(d));
  setResult(
    "network_loss",
    round(loss, 2),
    noneBack
      ? "no audio came back from the desk during the call test"
      : `packets lost in the ${call.seconds} s call test: back ${fmt(call.lossDownPct, 2)} % of ${call.packetsReceived}, out ${fmt(call.lossUpPct, 2)} % of ${call.packetsSent}`,
  );
  const mos = round(estimateMos(rtt / 2, jitter, loss, net.codec), 2);
  const relay = call.localType === "relay" || call.remoteType === "relay";
  setResult(
    "webrtc",
    mos,
    `E-model (ITU-T G.107) estimate for ${net.codec} from a ${call.seconds} s WebRTC call to the desk's echo: round trip ${fmt(rtt)} ms, jitter ${fmt(jitter)} ms, loss ${fmt(loss, 2)} %; ICE candidate ${call.localType || "?"} (${call.localProtocol || "?"}), desk ${call.remoteType || "?"}${relay ? "; the call needed a TURN relay" : ""}`,
    { attrs: { ice: call.localType || "", rttMs: fmt(rtt), jitterMs: fmt(jitter), lossPct: fmt(loss, 2) } },
  );
  say(netProgress, "preflight.net_done");
}

// -- the run ------------------------------------------------------------------------------------------------

function now() {
  return new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
}

function showOverall(status) {
  overallBox.dataset.status = status;
  if (FINAL.has(status)) say(overallBox, `preflight.overall.${status}`);
  else overallBox.textContent = "";
}

async function saveReport(report) {
  const json = JSON.stringify(report, null, 2);
  if (download.href) URL.revokeObjectURL(download.href);
  download.href = URL.createObjectURL(new Blob([json], { type: "application/json" }));
  download.download = `preflight-${report.started.replace(/[:]/g, "")}.json`;
  download.hidden = false;
  say(reportHint, "preflight.report_saving");
  try {
    const { id } = await api("POST", "/api/preflight/reports", report);
    reportId.textContent = id;
    reportId.hidden = false;
    download.download = `preflight-${id}.json`;
    say(reportHint, "preflight.report_saved");
  } catch (e) {
    reportError.textContent = errorText(e);
    reportError.dataset.code = e.code || "internal";
    reportError.hidden = false;
    say(reportHint, "preflight.report_failed");
  }
}

async function run() {
  // First, inside the click: an AudioContext made here may play (autoplay policies need a user gesture).
  const ctx = newAudioContext();
  runButton.disabled = true;
  body.dataset.state = "running";
  results.clear();
  reportId.hidden = true;
  reportError.hidden = true;
  micLevel.dataset.max = "0";
  showOverall("running");
  renderAll("running");
  const started = now();
  const t0 = performance.now();
  try {
    checkCpu();
    checkMemory();
    checkScreen();
    checkBrowser();
    await Promise.all([checkEid(), checkDevices(ctx), checkNetwork(ctx)]);
  } catch (e) {
    console.error("preflight", e);
  }
  const checks = reqs.checks.map((req) => {
    const r = results.get(req.name);
    if (r) return { name: r.name, status: r.status, value: r.value, unit: r.unit, detail: r.detail };
    setResult(req.name, null, "not run", { status: "unknown" });
    return { name: req.name, status: "unknown", value: null, unit: req.unit, detail: "not run" };
  });
  const report = { source: "browser", started, finished: now(), overall: worst(checks.map((c) => c.status)), checks };
  showOverall(report.overall);
  body.dataset.runS = ((performance.now() - t0) / 1000).toFixed(1); // what the intro's estimate is checked against
  if (ctx) ctx.close().catch(() => {});
  await saveReport(report);
  body.dataset.state = "done";
  runButton.disabled = false;
}

// -- start --------------------------------------------------------------------------------------------------

function applyTexts() {
  for (const [element, [key, vars]] of texts) element.textContent = t(key, vars);
  if (reqs) renderAll();
}

langSwitch.addEventListener("change", async () => {
  await loadLang(langSwitch.value);
  applyTexts();
});
runButton.addEventListener("click", run);
wireLogout();

// The intro carries a number: said through `texts` (kept across a language switch), not the plain data-i18n.
const intro = document.querySelector('[data-i18n="preflight.intro"]');
delete intro.dataset.i18n;
intro.dataset.testid = "preflight-intro";
const initial = await loadLang(pickLang(localStorage.getItem("lang") || body.dataset.lang));
langSwitch.value = initial;
say(intro, "preflight.intro", { seconds: runSeconds() });
try {
  reqs = await api("GET", "/api/preflight/requirements");
  intro.dataset.seconds = String(runSeconds(reqs.network));
  say(intro, "preflight.intro", { seconds: intro.dataset.seconds });
  renderAll("pending");
  runButton.disabled = false;
  body.dataset.state = "idle";
} catch (e) {
  reportError.textContent = errorText(e);
  reportError.hidden = false;
}
body.dataset.ready = "1";
