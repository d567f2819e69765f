// The device half of the preflight: microphone access, the device list, the 3-second "say something" test with
// a live level, and the speaker tone. Web Audio and getUserMedia only (Chrome, Edge and Firefox alike).
import { micLevels, rmsDb } from "./preflight-checks.js";

// Chrome lists its "Default" and "Communications" choices as extra entries that point at a real device.
const VIRTUAL_IDS = new Set(["default", "communications"]);

export function newAudioContext() {
  const Ctx = window.AudioContext || window.webkitAudioContext;
  if (!Ctx) return null;
  const ctx = new Ctx();
  // Created inside the click handler: the user gesture lets it run (autoplay policies).
  ctx.resume().catch(() => {});
  return ctx;
}

export async function openMicrophone() {
  if (!navigator.mediaDevices?.getUserMedia) {
    const e = new Error("this page cannot use the microphone (no mediaDevices: open it over https)");
    e.name = "NotSupportedError";
    throw e;
  }
  // Raw levels: echo cancellation, noise suppression and gain control would hide the room's real noise floor.
  return navigator.mediaDevices.getUserMedia({
    audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false },
  });
}

export async function listDevices() {
  const devices = navigator.mediaDevices?.enumerateDevices ? await navigator.mediaDevices.enumerateDevices() : [];
  const real = (kind) => devices.filter((d) => d.kind === kind && !VIRTUAL_IDS.has(d.deviceId));
  const inputs = real("audioinput");
  const outputs = real("audiooutput");
  return {
    inputs: inputs.map((d) => d.label),
    outputs: outputs.map((d) => d.label),
    // Without permission browsers hide the names (and Firefox lists no outputs at all).
    labelled: [...inputs, ...outputs].some((d) => d.label),
  };
}

export async function micTest(ctx, stream, seconds, onLevel = () => {}) {
  const source = ctx.createMediaStreamSource(stream);
  const analyser = ctx.createAnalyser();
  analyser.fftSize = 2048;
  source.connect(analyser);
  const buffer = new Float32Array(analyser.fftSize);
  const frameDbs = [];
  let clipped = 0;
  let total = 0;
  await new Promise((resolve) => {
    const timer = setInterval(() => {
      analyser.getFloatTimeDomainData(buffer);
      const db = rmsDb(buffer);
      frameDbs.push(db);
      for (const s of buffer) if (Math.abs(s) >= 0.99) clipped += 1;
      total += buffer.length;
      onLevel(db);
    }, 50);
    setTimeout(() => {
      clearInterval(timer);
      resolve();
    }, seconds * 1000);
  });
  source.disconnect();
  return micLevels(frameDbs, clipped, total);
}

export function playTone(ctx, seconds = 1.5, frequency = 660) {
  return new Promise((resolve) => {
    const oscillator = ctx.createOscillator();
    const gain = ctx.createGain();
    const t = ctx.currentTime;
    oscillator.frequency.value = frequency;
    // Short fades: no click at the start and end of the tone.
    gain.gain.setValueAtTime(0, t);
    gain.gain.linearRampToValueAtTime(0.25, t + 0.05);
    gain.gain.setValueAtTime(0.25, t + seconds - 0.05);
    gain.gain.linearRampToValueAtTime(0, t + seconds);
    oscillator.connect(gain).connect(ctx.destination);
    oscillator.onended = () => {
      gain.disconnect();
      resolve();
    };
    oscillator.start(t);
    oscillator.stop(t + seconds);
    // A suspended context never ends the tone: do not hang the test on it.
    setTimeout(resolve, (seconds + 1) * 1000);
  });
}
