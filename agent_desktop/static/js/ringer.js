// The ring tone, made with WebAudio (no file to fetch). Browsers keep an AudioContext suspended until a user
// gesture on the page; the desk shows a one-click unlock so the first call of the day is never silent.
//
// The cadence lives in the audio clock, not in a timer: one 4 s buffer (1 s of tone, 3 s quiet) played in a loop.
// The desk often rings in a background tab, where Chrome throttles timers (once a second, chained ones once a
// minute after five minutes hidden); audio rendering is not throttled.
const CADENCE_S = 4;
const TONE_S = 1;
const TONE_HZ = 425; // Belgian ring tone
const LEVEL = 0.2;

export class Ringer {
  constructor(unlockBox) {
    this.ctx = new AudioContext();
    this.unlockBox = unlockBox;
    this.source = null;
    this.cadence = null;
    const unlock = () => this.ctx.resume().then(() => this.refresh());
    document.addEventListener("pointerdown", unlock, { capture: true });
    document.addEventListener("keydown", unlock, { capture: true });
    this.ctx.onstatechange = () => this.refresh();
    this.refresh();
  }

  get unlocked() {
    return this.ctx.state === "running";
  }

  refresh() {
    this.unlockBox.hidden = this.unlocked;
  }

  // Made once, on the first ring: 4 s of mono samples at the context's rate.
  ring() {
    if (!this.cadence) {
      const rate = this.ctx.sampleRate;
      const buffer = this.ctx.createBuffer(1, CADENCE_S * rate, rate);
      const samples = buffer.getChannelData(0);
      for (let i = 0; i < TONE_S * rate; i += 1) samples[i] = LEVEL * Math.sin((2 * Math.PI * TONE_HZ * i) / rate);
      this.cadence = buffer;
    }
    return this.cadence;
  }

  start() {
    if (this.source) return;
    const source = this.ctx.createBufferSource();
    source.buffer = this.ring();
    source.loop = true;
    source.connect(this.ctx.destination);
    source.start();
    this.source = source;
  }

  stop() {
    const source = this.source;
    this.source = null;
    if (!source) return;
    try {
      source.stop();
    } catch {
      // already stopped
    }
    source.disconnect();
  }
}
