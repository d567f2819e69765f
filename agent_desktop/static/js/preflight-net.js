// The network half of the preflight, against the desk's open preflight endpoints, with the CLI's definitions
// (hardware_check/checks/network.py; parameters come from /api/preflight/requirements → `network`):
// round trip = median of the WebSocket echo times, jitter = mean absolute difference of consecutive round
// trips, throughput = the largest of growing transfers that ran (stopping once one takes min_time_s), and a
// real WebRTC call to the desk's echo peer read through getStats.
import { api } from "./api.js";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export function median(values) {
  if (!values.length) return null;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export function meanAbsDiff(values) {
  if (values.length < 2) return null;
  let sum = 0;
  for (let i = 1; i < values.length; i += 1) sum += Math.abs(values[i] - values[i - 1]);
  return sum / (values.length - 1);
}

function echoOf(ws, tag, timeoutMs) {
  return new Promise((resolve, reject) => {
    const done = (fn, arg) => {
      clearTimeout(timer);
      ws.removeEventListener("message", onMessage);
      ws.removeEventListener("close", onClose);
      fn(arg);
    };
    const onMessage = (event) => {
      if (event.data === tag) done(resolve); // late echoes of earlier pings are skipped
    };
    const onClose = () => done(reject, new Error("echo socket closed"));
    const timer = setTimeout(() => done(reject, new Error("timeout")), timeoutMs);
    ws.addEventListener("message", onMessage);
    ws.addEventListener("close", onClose);
  });
}

function openSocket(url, timeoutMs) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const timer = setTimeout(() => {
      ws.close();
      reject(new Error(`no connection within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    ws.onopen = () => {
      clearTimeout(timer);
      resolve(ws);
    };
    ws.onerror = () => {
      clearTimeout(timer);
      reject(new Error("the echo socket could not be opened"));
    };
  });
}

export async function measurePings(net, progress = () => {}) {
  const result = { rtts: [], timeouts: 0, error: "" };
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  let ws;
  try {
    ws = await openSocket(`${scheme}://${location.host}/api/preflight/ws`, net.connect_timeout_s * 1000);
    for (let seq = 0; seq < net.pings; seq += 1) {
      const tag = `ping ${seq} ${Date.now()}`;
      const t0 = performance.now();
      ws.send(tag);
      try {
        await echoOf(ws, tag, net.ping_timeout_s * 1000);
        result.rtts.push(performance.now() - t0);
      } catch (e) {
        if (e.message !== "timeout") throw e;
        result.timeouts += 1;
      }
      if (seq % 10 === 9) progress("ping", seq + 1, net.pings);
      await sleep(net.ping_interval_s * 1000);
    }
  } catch (e) {
    result.error = String(e.message || e);
  } finally {
    if (ws) ws.close(1000);
  }
  result.rttMs = median(result.rtts);
  result.jitterMs = meanAbsDiff(result.rtts);
  return result;
}

export function randomBytes(size) {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i += 65536) crypto.getRandomValues(bytes.subarray(i, Math.min(size, i + 65536)));
  return bytes;
}

async function transferOnce(direction, size, limitMs) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), limitMs);
  // Random bytes up: a proxy or modem cannot compress them away (the desk sends random bytes down too).
  const body = direction === "up" ? randomBytes(size) : undefined;
  const t0 = performance.now();
  try {
    const response = await fetch(
      direction === "down" ? `/api/preflight/download?bytes=${size}` : "/api/preflight/upload",
      {
        method: direction === "down" ? "GET" : "POST",
        body,
        headers: direction === "up" ? { "Content-Type": "application/octet-stream" } : {},
        cache: "no-store",
        credentials: "same-origin",
        signal: controller.signal,
      },
    );
    if (!response.ok) throw new Error(`HTTP ${response.status} from the desk`);
    const moved = direction === "down" ? (await response.arrayBuffer()).byteLength : (await response.json()).bytes;
    return { moved, seconds: (performance.now() - t0) / 1000 };
  } finally {
    clearTimeout(timer);
  }
}

export async function measureTransfer(direction, net, progress = () => {}) {
  const result = { mbitS: null, movedBytes: 0, seconds: 0, error: "" };
  for (let i = 0; i < net.sizes.length; i += 1) {
    const size = net.sizes[i];
    progress(direction, i + 1, net.sizes.length);
    let moved;
    let seconds;
    try {
      ({ moved, seconds } = await transferOnce(direction, size, net.transfer_timeout_s * 1000));
    } catch (e) {
      if (e.name === "AbortError") {
        if (result.mbitS === null) {
          const limit = (size * 8) / net.transfer_timeout_s / 1e6;
          result.error = `${size / 1024} KiB did not move within ${net.transfer_timeout_s} s (< ${limit.toFixed(2)} Mbit/s)`;
          result.mbitS = 0;
        }
      } else if (result.mbitS === null) {
        result.error = String(e.message || e);
      }
      break;
    }
    if (moved < size) {
      result.error = `the desk moved ${moved} of ${size} bytes`;
      break;
    }
    result.movedBytes += moved;
    result.seconds = seconds;
    result.mbitS = (moved * 8) / Math.max(seconds, 1e-6) / 1e6;
    if (seconds >= net.min_time_s) break;
  }
  return result;
}

function waitFor(target, eventName, ready, timeoutMs, what) {
  return new Promise((resolve, reject) => {
    if (ready()) {
      resolve();
      return;
    }
    const timer = setTimeout(() => {
      target.removeEventListener(eventName, check);
      reject(new Error(`${what} did not happen within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    function check() {
      if (!ready()) return;
      clearTimeout(timer);
      target.removeEventListener(eventName, check);
      resolve();
    }
    target.addEventListener(eventName, check);
  });
}

function connectedOrFailed(pc, timeoutMs) {
  return new Promise((resolve, reject) => {
    const state = () => pc.connectionState || pc.iceConnectionState;
    const timer = setTimeout(() => finish(reject, new Error(`no connection within ${timeoutMs / 1000} s (ICE ${pc.iceConnectionState})`)), timeoutMs);
    function finish(fn, arg) {
      clearTimeout(timer);
      pc.removeEventListener("connectionstatechange", check);
      pc.removeEventListener("iceconnectionstatechange", check);
      fn(arg);
    }
    function check() {
      const s = state();
      if (s === "connected" || s === "completed") finish(resolve);
      else if (s === "failed" || s === "closed") finish(reject, new Error(`the connection ${s} (ICE ${pc.iceConnectionState})`));
    }
    pc.addEventListener("connectionstatechange", check);
    pc.addEventListener("iceconnectionstatechange", check);
    check();
  });
}

// One snapshot of the call's stats, in both directions: what came back (inbound-rtp) and what the desk said it
// got of ours (remote-inbound-rtp, from its RTCP receiver reports), plus the selected ICE candidate pair.
export function summariseStats(report) {
  let inbound;
  let remoteInbound;
  let outbound;
  let pair;
  let transport;
  report.forEach((s) => {
    const kind = s.kind || s.mediaType;
    if (s.type === "inbound-rtp" && kind === "audio") inbound = s;
    else if (s.type === "remote-inbound-rtp" && kind === "audio") remoteInbound = s;
    else if (s.type === "outbound-rtp" && kind === "audio") outbound = s;
    else if (s.type === "transport" && s.selectedCandidatePairId) transport = s;
    else if (s.type === "candidate-pair" && (s.selected || (s.nominated && s.state === "succeeded"))) pair = pair || s;
  });
  if (transport && report.get(transport.selectedCandidatePairId)) pair = report.get(transport.selectedCandidatePairId);
  const local = pair ? report.get(pair.localCandidateId) : undefined;
  const remote = pair ? report.get(pair.remoteCandidateId) : undefined;
  const received = inbound?.packetsReceived ?? 0;
  const lostDown = Math.max(0, inbound?.packetsLost ?? 0);
  const sent = outbound?.packetsSent ?? 0;
  const lostUp = Math.max(0, remoteInbound?.packetsLost ?? 0);
  let rttS = null;
  if (pair?.responsesReceived > 0 && pair.totalRoundTripTime !== undefined) rttS = pair.totalRoundTripTime / pair.responsesReceived;
  else if (pair?.currentRoundTripTime !== undefined) rttS = pair.currentRoundTripTime;
  else if (remoteInbound?.roundTripTime !== undefined) rttS = remoteInbound.roundTripTime;
  return {
    packetsReceived: received,
    packetsSent: sent,
    lossDownPct: received + lostDown > 0 ? (100 * lostDown) / (received + lostDown) : null,
    lossUpPct: remoteInbound && sent > 0 ? (100 * lostUp) / sent : null,
    jitterDownMs: inbound?.jitter !== undefined ? inbound.jitter * 1000 : null,
    jitterUpMs: remoteInbound?.jitter !== undefined ? remoteInbound.jitter * 1000 : null,
    rttMs: rttS === null ? null : rttS * 1000,
    localType: local?.candidateType || null,
    localProtocol: local?.relayProtocol || local?.protocol || null,
    remoteType: remote?.candidateType || null,
  };
}

// A synthetic tone as the call's audio: the test needs no microphone permission and sends none of the room.
function toneTrack(audioContext) {
  const oscillator = audioContext.createOscillator();
  const gain = audioContext.createGain();
  const destination = audioContext.createMediaStreamDestination();
  oscillator.frequency.value = 440;
  gain.gain.value = 0.1;
  oscillator.connect(gain).connect(destination);
  oscillator.start();
  const [track] = destination.stream.getAudioTracks();
  return {
    track,
    stream: destination.stream,
    stop() {
      oscillator.stop();
      track.stop();
    },
  };
}

export async function callLoopback(net, audioContext, iceServers, progress = () => {}) {
  const seconds = net.webrtc_seconds;
  const pc = new RTCPeerConnection({ iceServers });
  const tone = toneTrack(audioContext);
  try {
    pc.addTrack(tone.track, tone.stream);
    await pc.setLocalDescription(await pc.createOffer());
    // No trickle ICE: the desk answers one complete offer (DESIGN.md §6).
    await waitFor(pc, "icegatheringstatechange", () => pc.iceGatheringState === "complete", 5000, "ICE gathering").catch(() => {});
    const { sdp } = await api("POST", "/api/preflight/rtc", { sdp: pc.localDescription.sdp }, { timeoutMs: 15000 });
    await pc.setRemoteDescription({ type: "answer", sdp });
    await connectedOrFailed(pc, 10000);
    let last = summariseStats(await pc.getStats());
    for (let s = 1; s <= seconds; s += 1) {
      await sleep(1000);
      last = summariseStats(await pc.getStats());
      progress("rtc", s, seconds);
    }
    return { ok: true, seconds, ...last };
  } catch (e) {
    return { ok: false, error: e.code ? `${e.code}: ${e.message}` : String(e.message || e) };
  } finally {
    pc.close();
    tone.stop();
  }
}
