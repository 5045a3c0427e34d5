// The microphone of one model: getUserMedia -> capture context -> capture worklet -> 24 kHz PCM16
// chunks to the kernel, push-to-talk gating (MicSender), and the checks that say why a microphone
// cannot start. Owned by the model's state (model.js).
import { FLUSH_TIMEOUT_MS, addWorklet, resumeContext } from "./webaudio.js";
import { listen } from "./dom.js";

/**
 * @typedef {object} MicEnv
 * @property {boolean} secure window.isSecureContext
 * @property {boolean} hasMediaDevices navigator.mediaDevices.getUserMedia exists
 * @property {string} host location.hostname
 */

/** @returns {MicEnv} */
export function micEnv() {
  const g = /** @type {any} */ (globalThis);
  return {
    secure: g.isSecureContext !== false,
    hasMediaDevices: typeof g.navigator?.mediaDevices?.getUserMedia === "function",
    host: g.location?.hostname ?? "",
  };
}

/**
 * Why the microphone cannot run, for the notice area and `mic_state.error`.
 * @param {unknown} err the getUserMedia (or audio setup) error, or null for an environment check
 * @param {MicEnv} env
 * @returns {{name: string, message: string}}
 */
export function micError(err, env) {
  const tail = " Text still works.";
  if (!env.secure) {
    return {
      name: "InsecureContext",
      message:
        `Microphone unavailable: this page is served over plain http from ${env.host || "a remote host"}, ` +
        "not https or localhost; browsers only allow the microphone on https or localhost." +
        tail,
    };
  }
  if (!env.hasMediaDevices) {
    return {
      name: "NoMediaDevices",
      message: "Microphone unavailable: this browser gives the page no access to media devices." + tail,
    };
  }
  const e = /** @type {{name?: string, message?: string}} */ (err ?? {});
  const name = e.name || "Error";
  if (name === "NotAllowedError" || name === "SecurityError") {
    return {
      name,
      message:
        "Microphone blocked: permission was denied. Allow the microphone for this page in the browser " +
        "(site settings, or the icon in the address bar), then press Mic again." +
        tail,
    };
  }
  if (name === "NotFoundError" || name === "OverconstrainedError") {
    return { name, message: "No microphone found: connect one, then press Mic again." + tail };
  }
  if (name === "NotReadableError" || name === "AbortError") {
    return {
      name,
      message: "Microphone unavailable: the device could not be opened (another application may be using it)." + tail,
    };
  }
  return { name, message: `Microphone could not start (${name}: ${e.message ?? String(err)}).${tail}` };
}

/**
 * Sends microphone chunks to the kernel, and decides which: all of them, or in push-to-talk mode
 * only those captured while the talk key is held. On release the partial chunk is flushed from
 * the capture worklet and sent before `{kind: "ptt", down: false}`.
 */
export class MicSender {
  /**
   * @param {(content: object, buffers?: ArrayBuffer[]) => void} send
   * @param {import("./debug.js").Stats} stats
   */
  constructor(send, stats) {
    this.send = send;
    this.stats = stats;
    this.seq = 0;
    this.pushToTalk = false;
    this.on = false; // the capture is on: chunks arrive every mic_chunk_ms
    this.held = false;
    this.releasing = false; // released: chunks captured before the release still go out
    /** What rides with the next chunk (the playback's `played` report), or null. @type {(() => object | null) | null} */
    this.rider = null;
  }

  /** Will a chunk go out soon (the mic on and, in push-to-talk, the key held)? Set by the capture. */
  flowing() {
    return this.on && (!this.pushToTalk || this.held);
  }

  /**
   * A chunk from the capture worklet.
   * @param {ArrayBuffer} pcm
   * @param {number} t epoch ms of the chunk's last sample
   * @returns {boolean} whether it was sent
   */
  chunk(pcm, t) {
    if (this.pushToTalk && !this.held && !this.releasing) return false;
    const played = this.rider?.() ?? null;
    const content = { kind: "mic", seq: this.seq++, t: Math.round(t) };
    this.send(played ? { ...content, played } : content, [pcm]);
    this.stats.micChunks++;
    return true;
  }

  /** The talk key went down. Returns false if it already was. */
  press() {
    if (this.held) return false;
    this.held = true;
    this.send({ kind: "ptt", down: true });
    return true;
  }

  /**
   * The talk key went up: wait for `flush` (which makes the worklet post its partial chunk, handled
   * by `chunk` meanwhile), then tell the kernel.
   * @param {() => Promise<void>} flush
   */
  async release(flush) {
    if (!this.held) return;
    this.held = false;
    this.releasing = true;
    try {
      await flush();
    } finally {
      this.releasing = false;
      if (!this.held) this.send({ kind: "ptt", down: false });
    }
  }
}

/** Microphone capture of one model: getUserMedia -> capture context -> capture worklet. */
export class Capture {
  /** @param {import("./webaudio.js").AudioOwner} owner */
  constructor(owner) {
    this.owner = owner;
    /** @type {"off" | "starting" | "on"} */
    this.state = "off";
    /** @type {MediaStream | null} */
    this.stream = null;
    /** @type {AudioContext | null} */
    this.ctx = null;
    /** @type {AudioWorkletNode | null} */
    this.node = null;
    /** @type {MediaStreamAudioSourceNode | null} */
    this.source = null;
    /** Removes the worklet port and track listeners of the running capture. */
    this.running = new AbortController();
    this.stopping = false;
    this.startGen = 0; // bumped by every start and stop: a start that was overtaken gives up
    this.flushId = 0;
    /** @type {Map<number, () => void>} */
    this.flushWaiters = new Map();
    this.sender = new MicSender((c, b) => owner.send(c, b), owner.stats);
  }

  async start() {
    if (this.state !== "off") return;
    const env = micEnv();
    if (!env.secure || !env.hasMediaDevices) {
      this.fail(micError(null, env));
      return;
    }
    this.state = "starting";
    const gen = ++this.startGen;
    const overtaken = () => gen !== this.startGen || this.state !== "starting";
    this.owner.emit("mic");
    try {
      const stream = await this.openStream();
      if (overtaken()) return stopTracks(stream);
      this.stream = stream;
      const ctx = (this.ctx = captureContext(stream));
      await addWorklet(ctx, WORKLET_SOURCES.capture);
      if (overtaken()) {
        stopTracks(stream);
        ctx.close().catch(() => {});
        return;
      }
      this.connect(ctx, stream);
      this.started(ctx);
    } catch (err) {
      if (overtaken()) return;
      this.teardown();
      this.fail(micError(err, env));
    }
  }

  /** @returns {Promise<MediaStream>} */
  openStream() {
    const flag = this.owner.model.get("echo_cancellation") !== false;
    return navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: flag, noiseSuppression: flag, autoGainControl: flag },
    });
  }

  /**
   * Wire the stream through the capture worklet, and listen to the worklet and the track.
   * @param {AudioContext} ctx
   * @param {MediaStream} stream
   */
  connect(ctx, stream) {
    const node = new AudioWorkletNode(ctx, "rtwidget-capture", {
      numberOfInputs: 1,
      numberOfOutputs: 1,
      outputChannelCount: [1],
      channelCount: 1,
      channelCountMode: "explicit",
      channelInterpretation: "speakers",
      processorOptions: { chunkMs: this.chunkMs() },
    });
    this.running = new AbortController();
    const signal = this.running.signal;
    listen(node.port, "message", (/** @type {MessageEvent} */ e) => this.onWorklet(e.data), signal);
    node.port.start(); // addEventListener (unlike onmessage) does not start the port
    const source = ctx.createMediaStreamSource(stream);
    source.connect(node);
    // The node outputs silence; connecting it to the destination keeps it pulled in every browser.
    node.connect(ctx.destination);
    this.node = node;
    this.source = source;
    const track = stream.getAudioTracks()[0];
    if (track) listen(track, "ended", () => this.stop("The microphone was disconnected."), signal);
  }

  /** @param {AudioContext} ctx */
  started(ctx) {
    resumeContext(ctx);
    this.state = "on";
    this.sender.on = true;
    this.owner.stats.micOn = true;
    this.owner.stats.captureRate = ctx.sampleRate;
    this.owner.send({ kind: "mic_state", on: true, error: null });
    this.owner.emit("mic");
    if (this.sender.held) this.node?.port.postMessage({ type: "reset" });
  }

  /** @param {{name: string, message: string}} why */
  fail(why) {
    this.state = "off";
    this.sender.on = false;
    this.owner.stats.micOn = false;
    this.owner.notice("error", why.message);
    this.owner.send({ kind: "mic_state", on: false, error: why.message, name: why.name });
    this.owner.emit("mic");
  }

  /** @returns {number} */
  chunkMs() {
    const ms = Number(this.owner.model.get("mic_chunk_ms"));
    return ms > 0 ? ms : 100;
  }

  /** Apply a new `mic_chunk_ms`. */
  configure() {
    this.node?.port.postMessage({ type: "config", chunkMs: this.chunkMs() });
  }

  /** @param {any} m a message from the capture worklet */
  onWorklet(m) {
    if (m.type === "chunk") {
      this.owner.stats.micLevel = m.rms;
      this.owner.emit("level");
      if (this.state === "on" || this.sender.releasing) this.sender.chunk(m.pcm, m.t);
    } else if (m.type === "flushed") {
      const done = this.flushWaiters.get(m.id);
      this.flushWaiters.delete(m.id);
      done?.();
    }
  }

  /** Ask the worklet for its partial chunk; resolves once it was handed over (or after a timeout). */
  flush() {
    const node = this.node;
    if (!node) return Promise.resolve();
    const id = ++this.flushId;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.flushWaiters.delete(id);
        resolve(undefined);
      }, FLUSH_TIMEOUT_MS);
      this.flushWaiters.set(id, () => {
        clearTimeout(timer);
        resolve(undefined);
      });
      node.port.postMessage({ type: "flush", id });
    });
  }

  /** Push-to-talk pressed: start the mic if needed, drop audio from before the press. */
  pressTalk() {
    if (!this.sender.press()) return;
    this.node?.port.postMessage({ type: "reset" });
    if (this.state === "off") this.start();
    this.owner.emit("mic");
  }

  releaseTalk() {
    if (!this.sender.held) return;
    this.sender.release(() => this.flush()).then(() => this.owner.emit("mic"));
    this.owner.emit("mic");
  }

  /** @param {string} [why] a notice to show (the device went away) */
  async stop(why) {
    if (this.state === "off" || this.stopping) return;
    this.stopping = true;
    this.startGen++;
    try {
      await this.sender.release(() => this.flush()); // a held talk key: send the rest first
    } finally {
      this.stopping = false;
    }
    this.teardown();
    this.state = "off";
    this.sender.on = false;
    const stats = this.owner.stats;
    stats.micOn = false;
    stats.micLevel = 0;
    stats.captureRate = 0;
    if (why) this.owner.notice("warning", why);
    this.owner.send({ kind: "mic_state", on: false, error: why ?? null });
    this.owner.emit("mic");
    this.owner.emit("level");
  }

  /** Release the device and the context, remove their listeners (safe to call twice). */
  teardown() {
    this.running.abort();
    for (const done of this.flushWaiters.values()) done();
    this.flushWaiters.clear();
    this.node?.disconnect();
    this.source?.disconnect();
    if (this.stream) stopTracks(this.stream);
    this.ctx?.close().catch(() => {});
    this.node = null;
    this.source = null;
    this.stream = null;
    this.ctx = null;
  }
}

/**
 * A capture context at the device's own rate: Firefox refuses to connect a mic to a context at
 * another rate.
 * @param {MediaStream} stream
 * @returns {AudioContext}
 */
function captureContext(stream) {
  const rate = stream.getAudioTracks()[0]?.getSettings?.().sampleRate;
  try {
    return rate ? new AudioContext({ sampleRate: rate, latencyHint: "interactive" }) : new AudioContext();
  } catch {
    return new AudioContext();
  }
}

/** @param {MediaStream} stream */
function stopTracks(stream) {
  for (const t of stream.getTracks()) t.stop();
}
