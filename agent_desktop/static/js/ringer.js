// The ring tone, made with WebAudio (no file to fetch). Browsers keep an AudioContext suspended until a user
// gesture on the page; the desk shows a one-click unlock so the first call of the day is never silent.
export class Ringer {
  constructor(unlockBox) {
    this.ctx = new AudioContext();
    this.unlockBox = unlockBox;
    this.timer = null;
    this.nodes = [];
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

  // Belgian-style ring cadence: 1 s of 425 Hz, 3 s quiet.
  start() {
    if (this.timer) return;
    const burst = () => {
      const osc = this.ctx.createOscillator();
      const gain = this.ctx.createGain();
      osc.frequency.value = 425;
      gain.gain.value = 0.2;
      osc.connect(gain).connect(this.ctx.destination);
      const now = this.ctx.currentTime;
      osc.start(now);
      osc.stop(now + 1);
      this.nodes.push(osc);
    };
    burst();
    this.timer = setInterval(burst, 4000);
  }

  stop() {
    clearInterval(this.timer);
    this.timer = null;
    for (const osc of this.nodes) {
      try {
        osc.stop();
      } catch {
        // already stopped
      }
    }
    this.nodes = [];
  }
}
