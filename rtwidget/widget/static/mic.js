// rtwidget front end: the audio of one model in the page. Capture (microphone -> capture worklet ->
// 24 kHz PCM16 chunks to the kernel) and Playback (kernel audio -> playback worklet, played-sample reports,
// flush), plus the checks that say why a microphone cannot start.
//
// Both are owned by a per-model record in widget.js (the AudioOwner below); assets.py joins this file
// into the one module anywidget loads, after dsp.js and eventlog.js.
import { API_RATE, pcmBytes } from "./dsp.js";
import { pushBounded } from "./eventlog.js";

/**
 * @typedef {object} AudioOwner what Capture and Playback need of their model's record (widget.js)
 * @property {import("./widget.js").AnyModel} model
 * @property {import("./widget.js").Stats} stats
 * @property {(content: object, buffers?: (ArrayBuffer | ArrayBufferView)[]) => void} send
 * @property {(what: string) => void} emit
 * @property {(level: string, text: string) => void} notice
 * @property {boolean} hadViews
 * @property {Map<string, unknown> | Set<unknown>} views
 */

/** Played reports go out at most this often while playing (ms). */
const PLAYED_INTERVAL_MS = 250;
/** How long to wait for a worklet to answer a flush before answering without it (ms). */
const FLUSH_TIMEOUT_MS = 500;

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
 * Load a worklet source into a context through a Blob URL (the widget module has no URL of its own).
 * @param {AudioContext} ctx
 * @param {string} source
 */
export async function addWorklet(ctx, source) {
  const url = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
  try {
    await ctx.audioWorklet.addModule(url);
  } finally {
    URL.revokeObjectURL(url);
  }
}

/** @param {AudioContext | null} ctx */
export function resumeContext(ctx) {
  if (ctx && ctx.state === "suspended") ctx.resume().catch(() => {});
}

/**
 * Sends microphone chunks to the kernel, and decides which: all of them, or in push-to-talk mode
 * only those captured while the talk key is held. On release the partial chunk is flushed from
 * the capture worklet and sent before `{kind: "ptt", down: false}`.
 */
export class MicSender {
  /**
   * @param {(content: object, buffers?: ArrayBuffer[]) => void} send
   * @param {import("./widget.js").Stats} stats
   */
  constructor(send, stats) {
    this.send = send;
    this.stats = stats;
    this.seq = 0;
    this.pushToTalk = false;
    this.held = false;
    this.releasing = false; // released: chunks captured before the release still go out
  }

  /**
   * A chunk from the capture worklet.
   * @param {ArrayBuffer} pcm
   * @param {number} t epoch ms of the chunk's last sample
   * @returns {boolean} whether it was sent
   */
  chunk(pcm, t) {
    if (this.pushToTalk && !this.held && !this.releasing) return false;
    this.send({ kind: "mic", seq: this.seq++, t: Math.round(t) }, [pcm]);
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
  /** @param {AudioOwner} rec */
  constructor(rec) {
    this.rec = rec;
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
    this.stopping = false;
    this.startGen = 0; // bumped by every start and stop: a start that was overtaken gives up
    this.flushId = 0;
    /** @type {Map<number, () => void>} */
    this.flushWaiters = new Map();
    this.sender = new MicSender((c, b) => rec.send(c, b), rec.stats);
  }

  async start() {
    if (this.state !== "off") return;
    const rec = this.rec;
    const env = micEnv();
    if (!env.secure || !env.hasMediaDevices) {
      this.fail(micError(null, env));
      return;
    }
    this.state = "starting";
    const gen = ++this.startGen;
    const overtaken = () => gen !== this.startGen || this.state !== "starting";
    rec.emit("mic");
    try {
      const flag = rec.model.get("echo_cancellation") !== false;
      const stream = await navigator.mediaDevices.getUserMedia({
        audio: { echoCancellation: flag, noiseSuppression: flag, autoGainControl: flag },
      });
      if (overtaken()) {
        for (const t of stream.getTracks()) t.stop();
        return;
      }
      this.stream = stream;
      const track = stream.getAudioTracks()[0];
      // The device's own rate: Firefox refuses to connect a mic to a context at another rate.
      const rate = track?.getSettings?.().sampleRate;
      let ctx;
      try {
        ctx = rate ? new AudioContext({ sampleRate: rate, latencyHint: "interactive" }) : new AudioContext();
      } catch {
        ctx = new AudioContext();
      }
      this.ctx = ctx;
      if (!ctx.audioWorklet) throw Object.assign(new Error("AudioWorklet is not available"), { name: "NoAudioWorklet" });
      await addWorklet(ctx, WORKLET_SOURCES.capture);
      if (overtaken()) {
        for (const t of stream.getTracks()) t.stop();
        ctx.close().catch(() => {});
        return;
      }
      const node = new AudioWorkletNode(ctx, "rtwidget-capture", {
        numberOfInputs: 1,
        numberOfOutputs: 1,
        outputChannelCount: [1],
        channelCount: 1,
        channelCountMode: "explicit",
        channelInterpretation: "speakers",
        processorOptions: { chunkMs: this.chunkMs() },
      });
      node.port.onmessage = (e) => this.onWorklet(e.data);
      const source = ctx.createMediaStreamSource(stream);
      source.connect(node);
      // The node outputs silence; connecting it to the destination keeps it pulled in every browser.
      node.connect(ctx.destination);
      this.node = node;
      this.source = source;
      if (track) track.onended = () => this.stop("The microphone was disconnected.");
      resumeContext(ctx);
      this.state = "on";
      rec.stats.micOn = true;
      rec.stats.captureRate = ctx.sampleRate;
      rec.send({ kind: "mic_state", on: true, error: null });
      rec.emit("mic");
      if (this.sender.held) node.port.postMessage({ type: "reset" });
    } catch (err) {
      if (overtaken()) return;
      this.teardown();
      this.fail(micError(err, env));
    }
  }

  /** @param {{name: string, message: string}} why */
  fail(why) {
    this.state = "off";
    this.rec.stats.micOn = false;
    this.rec.notice("error", why.message);
    this.rec.send({ kind: "mic_state", on: false, error: why.message, name: why.name });
    this.rec.emit("mic");
  }

  /** @returns {number} */
  chunkMs() {
    const ms = Number(this.rec.model.get("mic_chunk_ms"));
    return ms > 0 ? ms : 100;
  }

  /** Apply a new `mic_chunk_ms`. */
  configure() {
    this.node?.port.postMessage({ type: "config", chunkMs: this.chunkMs() });
  }

  /** @param {any} m */
  onWorklet(m) {
    if (m.type === "chunk") {
      this.rec.stats.micLevel = m.rms;
      this.rec.emit("level");
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
    this.rec.emit("mic");
  }

  releaseTalk() {
    if (!this.sender.held) return;
    this.sender.release(() => this.flush()).then(() => this.rec.emit("mic"));
    this.rec.emit("mic");
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
    this.rec.stats.micOn = false;
    this.rec.stats.micLevel = 0;
    this.rec.stats.captureRate = 0;
    if (why) this.rec.notice("warning", why);
    this.rec.send({ kind: "mic_state", on: false, error: why ?? null });
    this.rec.emit("mic");
    this.rec.emit("level");
  }

  /** Release the device and the context (safe to call twice). */
  teardown() {
    for (const done of this.flushWaiters.values()) done();
    this.flushWaiters.clear();
    if (this.node) {
      this.node.port.onmessage = null;
      this.node.disconnect();
    }
    this.source?.disconnect();
    for (const track of this.stream?.getTracks() ?? []) {
      track.onended = null;
      track.stop();
    }
    this.ctx?.close().catch(() => {});
    this.node = null;
    this.source = null;
    this.stream = null;
    this.ctx = null;
  }
}

/** Playback of one model: a 24 kHz context, the playback worklet, a mute gain. */
export class Playback {
  /** @param {AudioOwner} rec */
  constructor(rec) {
    this.rec = rec;
    /** @type {AudioContext | null} */
    this.ctx = null;
    /** @type {AudioWorkletNode | null} */
    this.node = null;
    /** @type {GainNode | null} */
    this.gain = null;
    /** @type {Promise<void> | null} */
    this.ready = null;
    this.unavailable = false;
    /** Chunks that arrived before the worklet was loaded. @type {{type: string, item_id: string, seq: number, t: number, pcm: ArrayBuffer}[]} */
    this.pending = [];
    /** Items dropped by a flush: late audio for them is ignored here too. @type {Set<string>} */
    this.flushed = new Set();
    this.flushId = 0;
    /** @type {Map<number, ReturnType<typeof setTimeout>>} */
    this.flushTimers = new Map();
    this.lastPlayedSent = 0;
    /** @type {string | null} */
    this.lastItem = null;
  }

  /** Create the context and worklet once (first audio or first click). */
  ensure() {
    if (!this.ready && !this.unavailable) {
      this.ready = this.create().catch((err) => {
        this.unavailable = true;
        // Nothing of the queued audio will be heard: a flush reports 0 played of the last item.
        for (const m of this.pending) this.lastItem = m.item_id;
        this.teardown();
        const why = err && err.name === "NoAudioWorklet" ? "it needs https or localhost" : String(err?.message ?? err);
        this.rec.notice("error", `Audio output unavailable (${why}); text still works.`);
      });
    }
    resumeContext(this.ctx);
  }

  async create() {
    if (typeof AudioContext === "undefined") {
      throw Object.assign(new Error("this browser has no Web Audio"), { name: "NoWebAudio" });
    }
    // The API's rate: the browser converts to the device rate, the worklet needs no resampler.
    const ctx = new AudioContext({ sampleRate: API_RATE, latencyHint: "interactive" });
    this.ctx = ctx;
    if (!ctx.audioWorklet) throw Object.assign(new Error("AudioWorklet is not available"), { name: "NoAudioWorklet" });
    await addWorklet(ctx, WORKLET_SOURCES.playback);
    if (this.ctx !== ctx) return; // closed meanwhile
    const node = new AudioWorkletNode(ctx, "rtwidget-playback", {
      numberOfInputs: 0,
      numberOfOutputs: 1,
      outputChannelCount: [1],
      processorOptions: { startMs: this.startMs() },
    });
    const gain = ctx.createGain();
    gain.gain.value = this.rec.model.get("muted") ? 0 : 1;
    node.connect(gain).connect(ctx.destination);
    node.port.onmessage = (e) => this.onWorklet(e.data);
    this.node = node;
    this.gain = gain;
    for (const msg of this.pending) node.port.postMessage(msg, [msg.pcm]);
    this.pending = [];
    resumeContext(ctx);
  }

  /** @returns {number} */
  startMs() {
    const ms = Number(this.rec.model.get("playback_start_ms"));
    return ms >= 0 ? ms : 60;
  }

  configure() {
    this.node?.port.postMessage({ type: "config", startMs: this.startMs() });
  }

  /** Apply the `muted` trait (the worklet keeps playing and counting). */
  setMuted() {
    if (this.gain && this.ctx) this.gain.gain.setValueAtTime(this.rec.model.get("muted") ? 0 : 1, this.ctx.currentTime);
  }

  /**
   * An `audio` message.
   * @param {{item_id: string, seq: number, t: number}} content
   * @param {DataView | ArrayBuffer | undefined} buffer
   */
  enqueue(content, buffer) {
    this.rec.stats.audioChunks++;
    if (!buffer || typeof content.item_id !== "string" || this.flushed.has(content.item_id)) return;
    // Every view was removed (the cell was re-run or cleared): nobody is there to hear it.
    if (this.rec.hadViews && this.rec.views.size === 0) return;
    this.ensure();
    if (this.unavailable) {
      this.lastItem = content.item_id;
      return;
    }
    const msg = { type: "chunk", item_id: content.item_id, seq: content.seq, t: content.t, pcm: pcmBytes(buffer) };
    if (this.node) this.node.port.postMessage(msg, [msg.pcm]);
    else this.pending.push(msg);
  }

  /**
   * Stop now and drop everything queued.
   * @param {boolean} report answer with a final `played` (kernel flush), or not (local interrupt)
   */
  flush(report) {
    for (const m of this.pending) this.markFlushed(m.item_id);
    const firstPending = this.pending[0]?.item_id ?? null;
    this.pending = [];
    if (this.node) {
      const id = ++this.flushId;
      this.node.port.postMessage({ type: "flush", id, report });
      if (report) {
        // A suspended or stuck context may never answer: answer from what we know.
        this.flushTimers.set(
          id,
          setTimeout(() => {
            this.flushTimers.delete(id);
            this.sendPlayed(this.lastItem, this.playedOf(this.lastItem), true);
          }, FLUSH_TIMEOUT_MS),
        );
      }
    } else if (report) {
      const item = firstPending ?? this.lastItem;
      this.sendPlayed(item, this.playedOf(item), true);
    }
    this.rec.stats.outLevel = 0;
    this.rec.emit("level");
  }

  /**
   * @param {string | null} item
   * @returns {number}
   */
  playedOf(item) {
    return item === null ? 0 : this.rec.stats.playedSamples[item] ?? 0;
  }

  /** @param {string} item */
  markFlushed(item) {
    this.flushed.add(item);
    if (this.flushed.size > 256) {
      const oldest = this.flushed.values().next().value;
      if (oldest !== undefined) this.flushed.delete(oldest);
    }
  }

  /** @param {any} m a report from the playback worklet */
  onWorklet(m) {
    const stats = this.rec.stats;
    if (typeof m.item_id === "string" && typeof m.samples === "number") {
      stats.playedSamples[m.item_id] = m.samples;
      this.lastItem = m.item_id;
    }
    if (m.type === "started") {
      pushBounded(stats.playStarts, { seq: m.seq, latency_ms: Date.now() - m.t });
      this.lastItem = m.item_id;
    } else if (m.type === "progress") {
      stats.outLevel = m.rms;
      this.rec.emit("level");
      if (Date.now() - this.lastPlayedSent >= PLAYED_INTERVAL_MS) this.sendPlayed(m.item_id, m.samples, false);
    } else if (m.type === "ended") {
      this.sendPlayed(m.item_id, m.samples, false);
    } else if (m.type === "flushed") {
      const timer = this.flushTimers.get(m.id);
      this.flushTimers.delete(m.id);
      if (typeof m.item_id === "string") this.markFlushed(m.item_id);
      // No timer left means the timeout already answered for this flush.
      if (timer !== undefined) {
        clearTimeout(timer);
        this.sendPlayed(m.item_id ?? null, m.samples ?? 0, true);
      }
    } else if (m.type === "level") {
      stats.outLevel = m.rms;
      this.rec.emit("level");
    }
  }

  /**
   * @param {string | null} item
   * @param {number} samples
   * @param {boolean} final
   */
  sendPlayed(item, samples, final) {
    if (item === null && !final) return;
    this.lastPlayedSent = Date.now();
    this.rec.send({ kind: "played", item_id: item, samples, final });
  }

  resume() {
    resumeContext(this.ctx);
  }

  /** Close the context and drop all queued audio (recreated on the next audio or click). */
  teardown() {
    for (const timer of this.flushTimers.values()) clearTimeout(timer);
    this.flushTimers.clear();
    if (this.node) {
      this.node.port.onmessage = null;
      this.node.disconnect();
    }
    this.ctx?.close().catch(() => {});
    this.ctx = null;
    this.node = null;
    this.gain = null;
    this.ready = null;
    this.pending = [];
    this.rec.stats.outLevel = 0;
  }
}
