// The phone panel: incoming call, answer/reject/hang up/hold/mute/DTMF/transfer, dialling, devices, the mic level
// and the in-call quality. Talks to the desk over the WebSocket; the audio rides the persistent peer (rtc.js).
import { dialFailureText } from "./dial_failure.js";
import { formatNumber, formatPercent } from "./format.js";
import { errorText, lang, setLive, setPlain, setText, t } from "./i18n.js";
import { estimateMos } from "./preflight-emodel.js";
import { queueName } from "./queue_name.js";
import { summariseStats } from "./preflight-net.js";
import { AgentRtc } from "./rtc.js";
import { Ringer } from "./ringer.js";

const $ = (id) => document.getElementById(id);
const LOCALES = { nl: "nl-BE", fr: "fr-BE", en: "en-GB" };
const NOTICE_MS = 8000; // long enough to read twice, short enough not to linger into the next call

// "7 seconden", "1 min, 5 s": the wait as the agent's locale says it (Intl.DurationFormat where the browser has
// it, else m:ss, which every locale here reads the same).
export function formatWait(totalSeconds, code = lang()) {
  const seconds = Math.max(0, Math.floor(totalSeconds));
  const locale = LOCALES[code] || code;
  if (seconds < 60) return new Intl.NumberFormat(locale, { style: "unit", unit: "second", unitDisplay: "long" }).format(seconds);
  const parts = { minutes: Math.floor(seconds / 60), seconds: seconds % 60 };
  if (typeof Intl.DurationFormat === "function") return new Intl.DurationFormat(locale, { style: "short" }).format(parts);
  return `${parts.minutes}:${String(parts.seconds).padStart(2, "0")}`;
}

export function initPhone(socket, toast) {
  const rtc = new AgentRtc((message) => socket.send(message));
  const ringer = new Ringer($("audio-unlock"));
  const ui = {
    incoming: $("call-incoming"),
    from: $("incoming-from"),
    meta: $("incoming-meta"),
    status: $("call-status"),
    number: $("call-number"),
    timer: $("call-timer"),
    controls: $("call-controls"),
    hold: $("call-hold"),
    mute: $("call-mute"),
    dialInput: $("dial-input"),
    dialButton: $("dial-call"),
    quality: $("call-quality"),
    rtcStatus: $("rtc-status"),
    micSelect: $("mic-select"),
    speakerSelect: $("speaker-select"),
    level: $("mic-level"),
    hangupOutside: $("call-cancel"),
  };
  let offered = null; // the call ringing for us: {call_id, from, queue, waited_s, receivedAt}
  let current = null; // our call: {call_id, state, direction, number, connectedAt}
  let endedTimer = null;
  let noticeTimer = null;

  // Why an offer left this desk (caller hung up, rung out to a colleague, called back…), shown for a few seconds
  // in the agent's language; it blocks nothing and a newer notice replaces it.
  function showNotice(key) {
    const notice = $("offer-notice");
    clearTimeout(noticeTimer);
    notice.dataset.key = key;
    setText(notice, key);
    notice.hidden = false;
    noticeTimer = setTimeout(() => {
      notice.hidden = true;
      setText(notice, null);
      delete notice.dataset.key;
    }, NOTICE_MS);
  }
  const WITHDRAWN = ["abandoned", "callback_requested", "cancelled", "closed", "no_answer", "overflowed"];

  // `failure`: why an outbound call never reached the number's phone, said instead of the bare cause.
  function showStatus(state, cause, failure) {
    ui.status.dataset.state = state;
    ui.status.dataset.failure = failure?.failure || "";
    const why = () => (failure?.failure ? dialFailureText(failure.failure, failure.sip_status) : t(`phone.cause.${cause}`));
    setLive(ui.status, () => (cause ? `${t(`phone.state.${state}`)} — ${why()}` : t(`phone.state.${state}`)));
  }

  function render() {
    ui.incoming.hidden = !offered;
    if (offered) {
      if (offered.from) setPlain(ui.from, offered.from);
      else setText(ui.from, "phone.anonymous");
      showWait();
    }
    const live = Boolean(current) && ["connected", "held"].includes(current.state);
    ui.controls.hidden = !live;
    // An outbound call can be cancelled while it rings (a mistyped number must not ring for 40 s).
    ui.hangupOutside.hidden = !current || live;
    ui.dialButton.disabled = Boolean(current) || !rtc.live;
    ui.number.textContent = current ? current.number : "";
    ui.hold.setAttribute("aria-pressed", String(current?.state === "held"));
    ui.mute.setAttribute("aria-pressed", String(rtc.muted));
    if (current) showStatus(current.state);
    else if (!endedTimer) showStatus("idle");
  }

  // The caller's wait so far: what the desk said when it offered the call, plus the time it has rung here.
  function showWait() {
    const waited = (offered.waited_s ?? 0) + (Date.now() - offered.receivedAt) / 1000;
    ui.meta.dataset.queue = offered.queue || "";
    ui.meta.dataset.waited = String(Math.floor(waited));
    const queue = offered.queue;
    setLive(ui.meta, () => t("phone.offered_meta", { queue: queueName(queue), waited: formatWait(waited) }));
  }

  setInterval(() => {
    if (offered) showWait();
    const since = current?.connectedAt;
    const seconds = since ? Math.floor((Date.now() - since) / 1000) : 0;
    ui.timer.textContent = `${String(Math.floor(seconds / 60)).padStart(2, "0")}:${String(seconds % 60).padStart(2, "0")}`;
  }, 500);

  async function onCallState(message) {
    const { call_id: id, state } = message;
    if (state === "ended") {
      if (offered?.call_id === id) {
        offered = null;
        ringer.stop();
        // `rejected` is the agent's own refusal: nothing to explain.
        if (message.cause && message.cause !== "rejected") {
          showNotice(`phone.withdrawn.${WITHDRAWN.includes(message.cause) ? message.cause : "other"}`);
        }
      }
      if (current?.call_id === id) {
        const connected = Boolean(current.connectedAt);
        current = null;
        rtc.setMuted(false);
        await rtc.setInCall(false);
        clearTimeout(endedTimer);
        showStatus("ended", message.cause, message);
        endedTimer = setTimeout(() => {
          endedTimer = null;
          render();
        }, 4000);
        document.dispatchEvent(new CustomEvent("phone:call-ended", { detail: { ...message, connected } }));
      }
      render();
      return;
    }
    if (offered?.call_id === id && state !== "ringing") {
      offered = null;
      ringer.stop();
    }
    if (state === "ringing" && message.direction === "inbound" && !current) {
      offered = offered || { call_id: id, from: message.number, queue: message.queue, waited_s: message.waited_s, receivedAt: Date.now() };
    } else {
      const previous = current?.call_id === id ? current : null;
      current = {
        call_id: id,
        state,
        direction: message.direction,
        number: message.number,
        connectedAt:
          previous?.connectedAt ||
          (message.connected_s != null ? Date.now() - message.connected_s * 1000 : null) ||
          (state === "connected" ? Date.now() : null),
      };
      await rtc.setInCall(state === "connected");
      // Live for the first time in this page (answered, or found connected or held after a reload).
      const live = (s) => s === "connected" || s === "held";
      if (live(state) && !live(previous?.state)) {
        document.dispatchEvent(new CustomEvent("phone:call-connected", { detail: message }));
      }
    }
    render();
  }

  document.addEventListener("desk:hello", async (event) => {
    const hello = event.detail;
    offered = null;
    current = null;
    for (const call of hello.calls || []) await onCallState(call);
    if (offered) ringer.start();
    if (!hello.rtc || !rtc.live) {
      ui.rtcStatus.dataset.status = "connecting";
      try {
        await rtc.connect(hello.ice_servers, hello.ice_transport_policy);
      } catch (e) {
        console.error("audio connection failed", e);
        ui.rtcStatus.dataset.status = "failed";
        setText(ui.rtcStatus, "phone.rtc.failed");
      }
    }
  });
  document.addEventListener("desk:rtc.answer", (event) => rtc.answer(event.detail.sdp));
  // The desk refused an answer or a dial: no call is up, so the microphone comes off the peer again.
  document.addEventListener("desk:error", () => {
    if (!current) rtc.setInCall(false);
  });
  document.addEventListener("desk:call.offered", (event) => {
    offered = { ...event.detail, receivedAt: Date.now() };
    ringer.start();
    render();
  });
  document.addEventListener("desk:call.state", (event) => onCallState(event.detail));
  // Offers taken back for a reason that is not the agent's own doing (a state change, a skip are).
  document.addEventListener("desk:callback.withdrawn", (event) => {
    if (event.detail.cause === "no_answer") showNotice("phone.withdrawn.callback_no_answer");
    if (event.detail.cause === "trunk_down") showNotice("phone.withdrawn.trunk_down");
  });
  document.addEventListener("desk:order.withdrawn", (event) => {
    if (event.detail.cause === "call_offered") showNotice("phone.withdrawn.order_call_offered");
    // The trunk watch took it back (CONTRACT "Call orders"): the agent's click would only fail the same way.
    if (event.detail.cause === "trunk_down") showNotice("phone.withdrawn.trunk_down");
  });

  rtc.addEventListener("state", (event) => {
    ui.rtcStatus.dataset.status = event.detail.state;
    setText(ui.rtcStatus, `phone.rtc.${event.detail.state}`);
    render();
  });
  rtc.addEventListener("mic-error", () => toast(t("phone.mic_denied")));
  rtc.addEventListener("mic", (event) => meter(event.detail.stream));

  $("call-answer").addEventListener("click", async () => {
    if (!offered) return;
    ringer.stop();
    await rtc.setInCall(true); // the microphone is ready before the caller's first word
    socket.send({ type: "call.answer", call_id: offered.call_id });
  });
  $("call-reject").addEventListener("click", () => {
    if (!offered) return;
    ringer.stop();
    socket.send({ type: "call.reject", call_id: offered.call_id });
  });
  const hangup = () => current && socket.send({ type: "call.hangup", call_id: current.call_id });
  $("call-hangup").addEventListener("click", hangup);
  ui.hangupOutside.addEventListener("click", hangup);
  ui.hold.addEventListener("click", () => {
    if (current) socket.send({ type: "call.hold", call_id: current.call_id, on: current.state !== "held" });
  });
  ui.mute.addEventListener("click", () => {
    rtc.setMuted(!rtc.muted);
    render();
  });
  $("dtmf-pad").addEventListener("click", (event) => {
    const digit = event.target.closest("button")?.textContent;
    if (digit && current) socket.send({ type: "call.dtmf", call_id: current.call_id, digits: digit });
  });
  $("transfer-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const target = $("transfer-input").value.trim();
    if (current && target) socket.send({ type: "call.transfer", call_id: current.call_id, target });
  });
  $("dial-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const number = ui.dialInput.value.replace(/[\s./-]/g, "");
    if (!number || current) return;
    await rtc.setInCall(true);
    socket.send({ type: "call.dial", number });
  });

  // Devices: the choice is remembered per browser; the speaker choice needs setSinkId (Chrome, Firefox 116+).
  async function listDevices() {
    const devices = await navigator.mediaDevices.enumerateDevices();
    fill(ui.micSelect, devices.filter((d) => d.kind === "audioinput"), rtc.micDeviceId);
    const outputs = devices.filter((d) => d.kind === "audiooutput");
    ui.speakerSelect.closest("label").hidden = typeof rtc.remoteAudio.setSinkId !== "function" || !outputs.length;
    fill(ui.speakerSelect, outputs, localStorage.getItem("speaker-device") || "");
  }
  function fill(select, devices, chosen) {
    select.replaceChildren(
      ...devices.map((d, i) => {
        const option = new Option(d.label || `${t("phone.device")} ${i + 1}`, d.deviceId);
        option.selected = d.deviceId === chosen;
        return option;
      }),
    );
  }
  ui.micSelect.addEventListener("change", async () => {
    localStorage.setItem("mic-device", ui.micSelect.value);
    await rtc.openMicrophone(ui.micSelect.value);
  });
  ui.speakerSelect.addEventListener("change", async () => {
    localStorage.setItem("speaker-device", ui.speakerSelect.value);
    await rtc.setSpeaker(ui.speakerSelect.value);
  });
  navigator.mediaDevices?.addEventListener?.("devicechange", listDevices);

  let analyser = null;
  function meter(stream) {
    const source = ringer.ctx.createMediaStreamSource(stream);
    analyser = ringer.ctx.createAnalyser();
    analyser.fftSize = 512;
    source.connect(analyser);
  }
  const samples = new Float32Array(512);
  setInterval(() => {
    if (!analyser) return;
    analyser.getFloatTimeDomainData(samples);
    let sum = 0;
    for (const s of samples) sum += s * s;
    const db = 10 * Math.log10(sum / samples.length + 1e-12);
    const level = Math.max(0, Math.min(100, Math.round(((db + 60) / 60) * 100)));
    ui.level.style.width = `${level}%`;
    ui.level.dataset.level = String(level);
  }, 100);

  // In-call quality from getStats: the same E-model as the preflight.
  setInterval(async () => {
    if (!current || current.state !== "connected") {
      setText(ui.quality, null);
      ui.quality.dataset.mos = "";
      return;
    }
    const report = await rtc.stats();
    if (!report) return;
    const s = summariseStats(report);
    const rtt = s.rttMs ?? 0;
    const mos = estimateMos(rtt / 2, s.jitterDownMs ?? 0, s.lossDownPct ?? 0, "g711");
    ui.quality.dataset.mos = mos.toFixed(2);
    ui.quality.dataset.grade = mos >= 4 ? "good" : mos >= 3.6 ? "warn" : "bad";
    setText(ui.quality, "phone.quality", {
      mos: () => formatNumber(mos, 1),
      max: () => formatNumber(4.5, 1),
      rtt: () => formatNumber(rtt),
      jitter: () => formatNumber(s.jitterDownMs ?? 0),
      loss: () => formatPercent(s.lossDownPct ?? 0, 1),
    });
  }, 2000);

  rtc.openMicrophone().then(listDevices);
  render();
  return { rtc, ringer };
}
