// The microphone test's meter, on the audio thread: every input sample lands in a frame of `frameSize` samples
// (20 ms), and each full frame is posted as {sumSq, n, clipped, peak}. On the audio thread no frame is lost to a
// throttled timer or animation callback (a background or headless tab gets few of those).
const CLIP = 0.99;

class PreflightMeter extends AudioWorkletProcessor {
  constructor(options) {
    super();
    this.frameSize = options.processorOptions.frameSize;
    this.running = true;
    this.port.onmessage = () => (this.running = false); // "stop": the test is over, let the node go
    this.reset();
  }

  reset() {
    this.sumSq = 0;
    this.n = 0;
    this.clipped = 0;
    this.peak = 0;
  }

  process(inputs) {
    const channel = inputs[0]?.[0];
    if (channel) {
      for (let i = 0; i < channel.length; i += 1) {
        const s = channel[i];
        const a = Math.abs(s);
        this.sumSq += s * s;
        if (a >= CLIP) this.clipped += 1;
        if (a > this.peak) this.peak = a;
        this.n += 1;
        if (this.n === this.frameSize) {
          this.port.postMessage({ sumSq: this.sumSq, n: this.n, clipped: this.clipped, peak: this.peak });
          this.reset();
        }
      }
    }
    return this.running;
  }
}

registerProcessor("preflight-meter", PreflightMeter);
