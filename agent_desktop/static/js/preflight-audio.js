// The device half of the preflight: microphone access, the device list, the 3-second "say something" test with
// a live level (every sample, on the audio thread), and the speaker tone. Web Audio and getUserMedia only (Chrome, Edge and Firefox alike).
import { FRAME_MS, frameDb, micLevels } from "./preflight-checks.js";

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

// Every sample of `seconds` of microphone audio in 20 ms frames, measured on the audio thread (an AudioWorklet;
// a ScriptProcessor where worklets are missing, e.g. a page not served over https). A timer or an animation
// callback polling an AnalyserNode sees only the moments it runs, and a background tab runs them rarely.
export async function micTest(ctx, stream, seconds, onLevel = () => {}) {
  const frameSize = Math.round(ctx.sampleRate * (FRAME_MS / 1000));
  const wanted = Math.ceil((seconds * 1000) / FRAME_MS);
  const frames = [];
  const source = ctx.createMediaStreamSource(stream);
  // Nodes are pulled by the graph only when they lead to the output: through a muted gain, nothing is heard.
  const mute = ctx.createGain();
  mute.gain.value = 0;
  mute.connect(ctx.destination);
  let finish;
  const done = new Promise((resolve) => (finish = resolve));
  const take = (frame) => {
    if (frames.length >= wanted) return;
    frames.push(frame);
    onLevel(frameDb(frame));
    if (frames.length >= wanted) finish();
  };
  const meter = await meterNode(ctx, frameSize, take);
  source.connect(meter);
  meter.connect(mute);
  // A context that does not run (suspended, no audio device) must not hang the test: what came in by then counts.
  const timer = setTimeout(finish, seconds * 1000 + 3000);
  await done;
  clearTimeout(timer);
  source.disconnect();
  meter.disconnect();
  mute.disconnect();
  meter.port?.postMessage("stop");
  return micLevels(frames, FRAME_MS);
}

async function meterNode(ctx, frameSize, take) {
  if (ctx.audioWorklet && typeof AudioWorkletNode === "function") {
    try {
      await ctx.audioWorklet.addModule(new URL("./preflight-meter-worklet.js", import.meta.url));
      const node = new AudioWorkletNode(ctx, "preflight-meter", {
        numberOfInputs: 1,
        numberOfOutputs: 1,
        channelCount: 1,
        channelCountMode: "explicit", // a stereo microphone is mixed down to the one channel we measure
        processorOptions: { frameSize },
      });
      node.port.onmessage = (event) => take(event.data);
      return node;
    } catch (e) {
      console.warn("preflight: AudioWorklet unavailable, using a ScriptProcessor", e);
    }
  }
  const node = ctx.createScriptProcessor(2048, 1, 1);
  let frame = { sumSq: 0, n: 0, clipped: 0, peak: 0 };
  node.onaudioprocess = (event) => {
    for (const s of event.inputBuffer.getChannelData(0)) {
      const a = Math.abs(s);
      frame.sumSq += s * s;
      if (a >= 0.99) frame.clipped += 1;
      if (a > frame.peak) frame.peak = a;
      frame.n += 1;
      if (frame.n === frameSize) {
        take(frame);
        frame = { sumSq: 0, n: 0, clipped: 0, peak: 0 };
      }
    }
  };
  return node;
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
