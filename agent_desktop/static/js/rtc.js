// The agent's one persistent WebRTC peer to the desk. Negotiated once after each `hello` when there is no live
// peer; calls are switched onto it server-side. Idle, the microphone track is replaced by null so nothing is sent.
export class AgentRtc extends EventTarget {
  constructor(send) {
    super();
    this.send = send;
    this.pc = null;
    this.sender = null;
    this.micStream = null;
    this.micTrack = null;
    this.inCall = false;
    this.muted = false;
    this.micDeviceId = localStorage.getItem("mic-device") || "";
    this.remoteAudio = document.getElementById("remote-audio");
  }

  get live() {
    return this.pc && ["new", "connecting", "connected"].includes(this.pc.connectionState);
  }

  async openMicrophone(deviceId = this.micDeviceId) {
    const audio = {
      echoCancellation: true,
      noiseSuppression: true,
      autoGainControl: true,
      ...(deviceId ? { deviceId: { exact: deviceId } } : {}),
    };
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio });
    } catch (e) {
      if (deviceId && e.name === "OverconstrainedError") return this.openMicrophone("");
      this.emit("mic-error", { name: e.name });
      return null;
    }
    if (this.micStream) this.micStream.getTracks().forEach((t) => t.stop());
    this.micStream = stream;
    this.micTrack = stream.getAudioTracks()[0];
    this.micTrack.enabled = !this.muted;
    this.micDeviceId = this.micTrack.getSettings().deviceId || deviceId;
    if (this.inCall && this.sender) await this.sender.replaceTrack(this.micTrack);
    this.emit("mic", { stream });
    return stream;
  }

  // `iceServers` and `iceTransportPolicy` come from the desk's `hello` or `rtc.ice_servers` (TURN credentials are
  // the agent's own and time-limited; "relay" when the centre sends media only through its TURN server).
  async connect(iceServers, iceTransportPolicy = "all") {
    this.iceServers = iceServers;
    this.iceTransportPolicy = iceTransportPolicy === "relay" ? "relay" : "all";
    if (this.pc) this.pc.close();
    const pc = new RTCPeerConnection({
      iceServers: iceServers || [],
      iceTransportPolicy: this.iceTransportPolicy,
    });
    this.pc = pc;
    const transceiver = pc.addTransceiver("audio", { direction: "sendrecv" });
    this.sender = transceiver.sender;
    await this.sender.replaceTrack(this.inCall ? this.micTrack : null);
    pc.ontrack = (event) => {
      this.remoteAudio.srcObject = event.streams[0] || new MediaStream([event.track]);
      this.remoteAudio.play().catch(() => {});
    };
    pc.onconnectionstatechange = () => {
      this.emit("state", { state: pc.connectionState });
      // A peer that failed (network change, desk restart) is negotiated again rather than left silent, with
      // fresh ICE servers: the TURN credentials of the last `hello` may have expired since.
      if (pc.connectionState === "failed" && this.pc === pc) {
        setTimeout(async () => {
          if (this.pc !== pc) return;
          const fresh = await this.freshIceServers();
          if (this.pc !== pc) return; // a `hello` negotiated anew meanwhile
          this.connect(fresh?.ice_servers ?? this.iceServers, fresh?.ice_transport_policy ?? this.iceTransportPolicy);
        }, 1000);
      }
    };
    await pc.setLocalDescription(await pc.createOffer());
    await waitForGathering(pc);
    this.emit("state", { state: "negotiating" });
    this.send({ type: "rtc.offer", sdp: pc.localDescription.sdp });
  }

  // `rtc.ice_servers` on the desk's socket (answered with the same fields as `hello`); null when the socket is
  // down or no answer comes within 3 s, and the caller keeps what it had.
  freshIceServers() {
    return new Promise((resolve) => {
      const done = (reply) => {
        clearTimeout(timer);
        document.removeEventListener("desk:rtc.ice_servers", onReply);
        resolve(reply);
      };
      const onReply = (event) => done(event.detail);
      const timer = setTimeout(() => done(null), 3000);
      document.addEventListener("desk:rtc.ice_servers", onReply);
      if (!this.send({ type: "rtc.ice_servers" })) done(null);
    });
  }

  async answer(sdp) {
    if (!this.pc) return;
    await this.pc.setRemoteDescription({ type: "answer", sdp });
  }

  // A call is up: our microphone goes onto the peer (and comes off again when it ends or is held).
  async setInCall(on) {
    this.inCall = on;
    if (!this.sender) return;
    if (on && !this.micTrack) await this.openMicrophone();
    await this.sender.replaceTrack(on ? this.micTrack : null);
  }

  setMuted(muted) {
    this.muted = muted;
    if (this.micTrack) this.micTrack.enabled = !muted;
  }

  async setSpeaker(deviceId) {
    if (typeof this.remoteAudio.setSinkId === "function") {
      await this.remoteAudio.setSinkId(deviceId || "");
    }
  }

  async stats() {
    return this.pc ? this.pc.getStats() : null;
  }

  close() {
    if (this.pc) this.pc.close();
    this.pc = null;
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}

// No trickle ICE (DESIGN.md §6): the offer goes out once gathering is complete, capped at 5 s.
function waitForGathering(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, 5000);
    pc.addEventListener("icegatheringstatechange", () => {
      if (pc.iceGatheringState === "complete") {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}
