// The phone panel: incoming call, answer/reject/hang up/hold/mute/DTMF/transfer, dialling, devices, the mic level
// and the in-call quality. Talks to the desk over the WebSocket; the audio rides the persistent peer (rtc.js).
import { formatNumber, formatPercent } from "./format.js";
import { errorText, setPlain, setLive, setText, t } from "./i18n.js";
import { estimateMos } from "./preflight-emodel.js";
import { summariseStats } from "./preflight-net.js";
import { AgentRtc } from "./rtc.js";
import { Ringer } from "./ringer.js";

const $ = (id) => document.getElementById(id);

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
  let offered = null; // the call ringing for us: {call_id, from, queue, waited_s}
  let current = null; // our call: {call_id, state, direction, number, connectedAt}
  let endedTimer = null;

  function showStatus(state, cause) {
    ui.status.dataset.state = state;
    setLive(ui.status, () => (cause ? `${t(`phone.state.${state}`)} — ${t(`phone.cause.${cause}`)}` : t(`phone.state.${state}`)));
  }

  function render() {
    ui.incoming.hidden = !offered;
    if (offered) {
      if (offered.from) setPlain(ui.from, offered.from);
      else setText(ui.from, "phone.anonymous");
      setText(ui.meta, "phone.offered_meta", { queue: offered.queue || "—", waited: offered.waited_s ?? 0 });
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

  setInterval(() => {
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
      }
      if (current?.call_id === id) {
        current = null;
        rtc.setMuted(false);
        await rtc.setInCall(false);
        clearTimeout(endedTimer);
        showStatus("ended", message.cause);
        endedTimer = setTimeout(() => {
          endedTimer = null;
          render();
        }, 4000);
        document.dispatchEvent(new CustomEvent("phone:call-ended", { detail: message }));
      }
      render();
      return;
    }
    if (offered?.call_id === id && state !== "ringing") {
      offered = null;
      ringer.stop();
    }
    if (state === "ringing" && message.direction === "inbound" && !current) {
      offered = offered || { call_id: id, from: message.number, queue: message.queue };
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
      if (state === "connected" && !previous?.connectedAt) {
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
        await rtc.connect(hello.ice_servers);
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
    offered = event.detail;
    ringer.start();
    render();
  });
  document.addEventListener("desk:call.state", (event) => onCallState(event.detail));

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
