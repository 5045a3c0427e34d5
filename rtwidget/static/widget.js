// rtwidget front end: the anywidget module (`export default {initialize, render}`).
//
// State, by owner:
// - synced traits (kernel <-> browser): status, endpoint, turn_mode, voice, instructions, muted, ...
//   (see docs/widget-contract.md). The browser sets turn_mode, voice, instructions,
//   echo_cancellation and muted; every view reads the others.
// - per model (initialize): audio contexts, microphone, worklets, the message router, and the panel
//   state synced from `batch`/`snapshot` messages (RowStore, PanelState), notices, debug stats.
// - per view (render): DOM, log filters, selection, scroll position, which panels are open.
//
// Files import each other for the Node tests; rtwidget/assets.py strips those imports and joins
// dsp.js, eventlog.js, panels.js and this file into one module, preceded by WORKLET_SOURCES.
import { API_RATE, pcmBytes } from "./dsp.js";
import { LogView, RowStore, formatClock, pushBounded } from "./eventlog.js";
import { ConversationView, PanelState, SessionView, ToolsView, h, setText } from "./panels.js";

/**
 * @typedef {object} AnyModel the part of anywidget's model proxy this module uses
 * @property {(name: string) => any} get
 * @property {(name: string, value: any) => void} set
 * @property {() => void} save_changes
 * @property {(content: object, callbacks?: any, buffers?: (ArrayBuffer | ArrayBufferView)[]) => void} send
 * @property {(name: string, cb: (...args: any[]) => void) => void} on
 * @property {(name?: string | null, cb?: ((...args: any[]) => void) | null) => void} off
 */

/**
 * @typedef {object} Stats debug figures read by tests and benchmarks (globalThis.__rtwidget)
 * @property {Record<string, number>} playedSamples item_id -> samples played (cumulative)
 * @property {{seq: number, latency_ms: number}[]} playStarts kernel receive time -> worklet start
 * @property {number} micChunks mic chunks sent to the kernel
 * @property {number} flushes `flush` messages from the kernel handled
 * @property {number[]} frameTimes event-log render durations (ms), last 10k
 * @property {number} audioChunks `audio` messages received
 * @property {number} micLevel last input RMS (0..1)
 * @property {number} outLevel last output RMS (0..1)
 * @property {number} captureRate sample rate of the capture context (0 when the mic is off)
 * @property {boolean} micOn
 * @property {number} views views currently rendered
 */

/** Played reports go out at most this often while playing (ms). */
const PLAYED_INTERVAL_MS = 250;
/** How long to wait for a worklet to answer a flush before answering without it (ms). */
const FLUSH_TIMEOUT_MS = 500;
/** Notices kept per model. */
const MAX_NOTICES = 5;

/**
 * The per-model records alive in this module instance. anywidget loads the module once per model
 * today, so this usually holds one record; `findRecord` copes with several.
 * @type {ModelRecord[]}
 */
const RECORDS = [];

/** @returns {Stats} */
function newStats() {
  return {
    playedSamples: {},
    playStarts: [],
    micChunks: 0,
    flushes: 0,
    frameTimes: [],
    audioChunks: 0,
    micLevel: 0,
    outLevel: 0,
    captureRate: 0,
    micOn: false,
    views: 0,
  };
}

/** @returns {{models: {model_id: string | null, stats: Stats, closed?: boolean}[]}} */
function debugHook() {
  const g = /** @type {any} */ (globalThis);
  g.__rtwidget = g.__rtwidget || { models: [] };
  return g.__rtwidget;
}

/**
 * A level meter position for an RMS value: -60 dBFS..0 dBFS mapped to 0..1.
 * @param {number} level RMS, 0..1
 * @returns {number}
 */
export function levelToFraction(level) {
  if (!(level > 0)) return 0;
  const db = 20 * Math.log10(level);
  return Math.min(1, Math.max(0, (db + 60) / 60));
}

/**
 * @typedef {object} MicEnv
 * @property {boolean} secure window.isSecureContext
 * @property {boolean} hasMediaDevices navigator.mediaDevices.getUserMedia exists
 * @property {string} host location.hostname
 */

/** @returns {MicEnv} */
function micEnv() {
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
async function addWorklet(ctx, source) {
  const url = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
  try {
    await ctx.audioWorklet.addModule(url);
  } finally {
    URL.revokeObjectURL(url);
  }
}

/** @param {AudioContext | null} ctx */
function resumeContext(ctx) {
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
   * @param {Stats} stats
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
class Capture {
  /** @param {ModelRecord} rec */
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
class Playback {
  /** @param {ModelRecord} rec */
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

/**
 * @typedef {object} ViewHandle what a record knows of one rendered view
 * @property {string} id
 * @property {(what: string) => void} update
 */

/** Everything one model owns in this page: audio, panel state, notices, stats, its views. */
class ModelRecord {
  /** @param {AnyModel} model */
  constructor(model) {
    this.model = model;
    this.stats = newStats();
    this.rows = new RowStore(Number(model.get("log_limit")) || 5000);
    this.panels = new PanelState();
    /** @type {Map<string, ViewHandle>} */
    this.views = new Map();
    this.hadViews = false;
    /** @type {{id: number, level: string, text: string}[]} */
    this.notices = [];
    this.noticeId = 0;
    this.disposed = false;
    this.capture = new Capture(this);
    this.playback = new Playback(this);
    this.debug = { model_id: /** @type {string | null} */ (null), stats: this.stats, closed: false };
    // The record itself, for the console and the unit tests; not enumerable, so serializing the
    // debug list (e.g. from a browser test) stays cheap and acyclic.
    Object.defineProperty(this.debug, "record", { value: this, enumerable: false });
    debugHook().models.push(this.debug);

    /** @type {[string, (...args: any[]) => void][]} */
    this.listeners = [
      ["msg:custom", (content, buffers) => this.handle(content, buffers)],
      ["change:muted", () => this.playback.setMuted()],
      ["change:mic_chunk_ms", () => this.capture.configure()],
      ["change:playback_start_ms", () => this.playback.configure()],
      ["change:log_limit", () => this.rows.setLimit(Number(model.get("log_limit")) || 5000)],
      ["change:turn_mode", () => this.applyTurnMode()],
      [
        "change",
        (/** @type {any} */ m) => {
          // Backbone passes the real model first: the only place its id is visible to us.
          if (!this.debug.model_id && m && typeof m.model_id === "string") this.debug.model_id = m.model_id;
        },
      ],
    ];
    for (const [name, cb] of this.listeners) model.on(name, cb);
    this.applyTurnMode();
  }

  /**
   * @param {object} content
   * @param {(ArrayBuffer | ArrayBufferView)[]} [buffers]
   */
  send(content, buffers) {
    if (this.disposed) return;
    try {
      this.model.send(content, undefined, buffers);
    } catch (err) {
      console.warn("[rtwidget] could not send", content, err);
    }
  }

  /**
   * The one router for kernel messages.
   * @param {any} content
   * @param {DataView[]} [buffers]
   */
  handle(content, buffers) {
    if (!content || typeof content !== "object") return;
    switch (content.kind) {
      case "audio":
        this.playback.enqueue(content, buffers?.[0]);
        break;
      case "flush":
        this.stats.flushes++;
        this.playback.flush(true);
        break;
      case "batch":
        if (content.rows?.length) this.rows.append(content.rows);
        if (content.row_updates?.length) this.rows.update(content.row_updates);
        this.panels.apply(content);
        this.emit("panels");
        break;
      case "snapshot":
        if (!this.views.has(content.view)) break; // addressed to another view
        this.rows.reset(content.rows ?? [], content.rows_dropped ?? 0);
        this.panels.reset(content);
        this.emit("panels");
        break;
      case "notice":
        this.notice(content.level ?? "info", String(content.text ?? ""));
        break;
      case "stop":
        this.stopAudio();
        break;
      default:
        console.debug("[rtwidget] unknown message kind", content.kind);
    }
  }

  /**
   * @param {string} level "info" | "warning" | "error"
   * @param {string} text
   */
  notice(level, text) {
    this.notices.push({ id: ++this.noticeId, level, text });
    if (this.notices.length > MAX_NOTICES) this.notices.splice(0, this.notices.length - MAX_NOTICES);
    this.emit("notices");
  }

  /** @param {number} id */
  dismiss(id) {
    this.notices = this.notices.filter((n) => n.id !== id);
    this.emit("notices");
  }

  /** @param {string} what which part changed: panels, mic, level, notices */
  emit(what) {
    for (const v of this.views.values()) {
      try {
        v.update(what);
      } catch (err) {
        console.error("[rtwidget] view update failed", err);
      }
    }
  }

  applyTurnMode() {
    const ptt = this.model.get("turn_mode") === "push_to_talk";
    this.capture.sender.pushToTalk = ptt;
    if (!ptt && this.capture.sender.held) this.capture.releaseTalk();
    this.emit("mic");
  }

  /** A click anywhere in a view: autoplay policies let audio start only after a gesture. */
  resumeAudio() {
    this.playback.ensure();
    resumeContext(this.capture.ctx);
  }

  /** Stop the microphone and playback (session closed, or no view left). */
  stopAudio() {
    this.capture.stop();
    this.playback.teardown();
    this.emit("level");
  }

  dispose() {
    if (this.disposed) return;
    this.capture.stop();
    this.playback.teardown();
    this.disposed = true;
    for (const [name, cb] of this.listeners) this.model.off(name, cb);
    this.views.clear();
    this.debug.closed = true;
    const i = RECORDS.indexOf(this);
    if (i >= 0) RECORDS.splice(i, 1);
  }
}

/**
 * Whether two model proxies front the same model. anywidget hands initialize and render different
 * proxy objects, but their `get` reads the same attributes: a dict trait is the same object.
 * @param {AnyModel} a
 * @param {AnyModel} b
 * @returns {boolean}
 */
function sameModel(a, b) {
  for (const key of ["counters", "usage", "endpoint", "session_config", "voices"]) {
    const x = a.get(key);
    if (x && typeof x === "object") return x === b.get(key);
  }
  return false;
}

/**
 * @param {AnyModel} model
 * @returns {ModelRecord | undefined}
 */
function findRecord(model) {
  const live = RECORDS.filter((r) => !r.disposed);
  if (live.length === 1) return live[0];
  return live.find((r) => sameModel(r.model, model));
}

/** @returns {string} */
function randomId() {
  return `v${Date.now().toString(36)}${Math.random().toString(36).slice(2, 10)}`;
}

/**
 * anywidget initialize: per-model resources.
 * @param {{model: AnyModel}} ctx
 * @returns {() => void}
 */
function initialize({ model }) {
  const rec = new ModelRecord(model);
  RECORDS.push(rec);
  return () => rec.dispose();
}

const TURN_MODES = [
  ["server_vad", "server VAD"],
  ["semantic_vad", "semantic VAD"],
  ["push_to_talk", "push-to-talk"],
];

const PANELS = [
  ["conversation", "Conversation"],
  ["log", "Event log"],
  ["tools", "Tools"],
  ["session", "Session"],
];

/**
 * @param {EventTarget | null} target
 * @returns {boolean} whether keys typed there are text (not shortcuts)
 */
function isTyping(target) {
  const t = /** @type {HTMLElement | null} */ (target);
  if (!t || !t.tagName) return false;
  const tag = t.tagName.toLowerCase();
  if (tag === "textarea" || tag === "select" || t.isContentEditable) return true;
  if (tag !== "input") return false;
  const type = /** @type {HTMLInputElement} */ (t).type;
  return type !== "checkbox" && type !== "radio" && type !== "button";
}

/**
 * anywidget render: one view's DOM.
 * @param {{model: AnyModel, el: HTMLElement}} ctx
 * @returns {() => void}
 */
function render({ model, el }) {
  let rec = findRecord(model);
  const ownsRecord = !rec; // no initialize ran (an old host): this view owns the record
  if (!rec) {
    rec = new ModelRecord(model);
    RECORDS.push(rec);
  }
  const r = rec;
  const viewId = randomId();

  const root = h("div", "rtwidget-root");
  root.tabIndex = 0;
  root.innerHTML = `
    <div class="rtwidget-bar">
      <button class="rtwidget-btn" data-rt="connect">Connect</button>
      <button class="rtwidget-btn" data-rt="disconnect">Disconnect</button>
      <span class="rtwidget-dot"></span>
      <span class="rtwidget-status" data-rt="status"></span>
    </div>
    <div class="rtwidget-bar">
      <button class="rtwidget-btn" data-rt="mic" aria-pressed="false">Mic off</button>
      <span class="rtwidget-meter" data-rt="mic-meter" title="input level"><span></span></span>
      <button class="rtwidget-btn" data-rt="mute" aria-pressed="false">Mute</button>
      <span class="rtwidget-meter" data-rt="out-meter" title="output level"><span></span></span>
      <select class="rtwidget-select" data-rt="turn-mode" title="turn detection"></select>
      <button class="rtwidget-btn rtwidget-ptt" data-rt="ptt" title="hold (or hold the space bar)">Hold to talk</button>
      <button class="rtwidget-btn" data-rt="interrupt" title="stop the reply">Interrupt</button>
      <label class="rtwidget-check" title="echo cancellation, noise suppression, auto gain (next mic start)">
        <input type="checkbox" data-rt="echo"> echo cancel</label>
      <label class="rtwidget-check">voice <select class="rtwidget-select" data-rt="voice"></select></label>
    </div>
    <div class="rtwidget-bar rtwidget-send">
      <input class="rtwidget-input rtwidget-grow" data-rt="text" placeholder="Type a message, Enter to send" spellcheck="false">
      <button class="rtwidget-btn" data-rt="send">Send</button>
    </div>
    <details class="rtwidget-instr">
      <summary>Instructions</summary>
      <textarea class="rtwidget-input" data-rt="instructions" rows="3"
        placeholder="System instructions (applied on blur or Ctrl+Enter)"></textarea>
    </details>
    <div class="rtwidget-notices" data-rt="notice" aria-live="polite"></div>
    <div class="rtwidget-tabs" role="toolbar"></div>
    <div class="rtwidget-panels"></div>`;
  el.appendChild(root);

  /**
   * @param {string} name
   * @returns {any}
   */
  const q = (name) => root.querySelector(`[data-rt="${name}"]`);
  const btn = {
    connect: /** @type {HTMLButtonElement} */ (q("connect")),
    disconnect: /** @type {HTMLButtonElement} */ (q("disconnect")),
    mic: /** @type {HTMLButtonElement} */ (q("mic")),
    mute: /** @type {HTMLButtonElement} */ (q("mute")),
    ptt: /** @type {HTMLButtonElement} */ (q("ptt")),
    interrupt: /** @type {HTMLButtonElement} */ (q("interrupt")),
    send: /** @type {HTMLButtonElement} */ (q("send")),
  };
  const statusEl = /** @type {HTMLElement} */ (q("status"));
  const dot = /** @type {HTMLElement} */ (root.querySelector(".rtwidget-dot"));
  const micBar = /** @type {HTMLElement} */ (q("mic-meter").firstElementChild);
  const outBar = /** @type {HTMLElement} */ (q("out-meter").firstElementChild);
  const turnMode = /** @type {HTMLSelectElement} */ (q("turn-mode"));
  const echo = /** @type {HTMLInputElement} */ (q("echo"));
  const voice = /** @type {HTMLSelectElement} */ (q("voice"));
  const text = /** @type {HTMLInputElement} */ (q("text"));
  const instructions = /** @type {HTMLTextAreaElement} */ (q("instructions"));
  const noticesEl = /** @type {HTMLElement} */ (q("notice"));
  const tabs = /** @type {HTMLElement} */ (root.querySelector(".rtwidget-tabs"));
  const panelsEl = /** @type {HTMLElement} */ (root.querySelector(".rtwidget-panels"));

  for (const [value, label] of TURN_MODES) turnMode.appendChild(new Option(label, value));

  // Panels: all open by default; each tab toggles one.
  const log = new LogView(r.rows, r.stats);
  const conv = new ConversationView(r.panels);
  const tools = new ToolsView(r.panels);
  const session = new SessionView(r.panels, () => ({ config: model.get("session_config"), usage: model.get("usage") }));
  /** @type {Record<string, HTMLElement>} */
  const content = { conversation: conv.el, log: log.el, tools: tools.el, session: session.el };
  /** @type {Record<string, HTMLElement>} */
  const sections = {};
  for (const [name, title] of PANELS) {
    const tab = h("button", "rtwidget-tab", title);
    tab.setAttribute("aria-pressed", "true");
    const section = h("section", `rtwidget-panel rtwidget-panel-${name}`);
    section.dataset.rt = `panel-${name}`;
    section.append(h("div", "rtwidget-panel-title", title), content[name]);
    tab.addEventListener("click", () => {
      section.hidden = !section.hidden;
      tab.setAttribute("aria-pressed", String(!section.hidden));
      if (name === "log") log.invalidate(true);
      schedulePanels();
    });
    tabs.appendChild(tab);
    panelsEl.appendChild(section);
    sections[name] = section;
  }

  let panelsRaf = 0;
  function schedulePanels() {
    if (!panelsRaf) panelsRaf = requestAnimationFrame(drawPanels);
  }
  function drawPanels() {
    panelsRaf = 0;
    if (!sections.conversation.hidden) conv.draw();
    if (!sections.tools.hidden) tools.draw();
    if (!sections.session.hidden) session.draw();
  }

  function drawStatus() {
    const status = String(model.get("status") ?? "idle");
    const ep = model.get("endpoint") ?? {};
    const parts = [status];
    const where = ep.label || ep.kind;
    if (where) parts.push(ep.kind && ep.label && ep.label !== ep.kind ? `${ep.label} (${ep.kind})` : where);
    if (ep.model) parts.push(ep.model);
    if (ep.dialect) parts.push(ep.dialect);
    const now = Date.now() / 1000;
    const connectedAt = Number(model.get("connected_at")) || 0;
    const expiresAt = Number(model.get("expires_at")) || 0;
    if (status === "connected" && connectedAt > 0) parts.push(`connected ${formatClock(now - connectedAt)}`);
    if (status === "connected" && expiresAt > 0) parts.push(`${formatClock(expiresAt - now)} left`);
    const message = model.get("status_message");
    setText(statusEl, parts.join(" \u00b7 ") + (message ? ` \u2014 ${message}` : ""));
    statusEl.title = message || "";
    dot.className = `rtwidget-dot rtwidget-dot-${status}`;
    const busy = status === "connecting" || status === "connected";
    btn.connect.disabled = busy;
    btn.disconnect.disabled = !busy;
  }

  function drawControls() {
    const micState = r.capture.state;
    btn.mic.textContent = micState === "on" ? "Mic on" : micState === "starting" ? "Mic\u2026" : "Mic off";
    btn.mic.setAttribute("aria-pressed", String(micState !== "off"));
    btn.mic.classList.toggle("rtwidget-on", micState === "on");
    const muted = !!model.get("muted");
    btn.mute.textContent = muted ? "Muted" : "Mute";
    btn.mute.setAttribute("aria-pressed", String(muted));
    btn.mute.classList.toggle("rtwidget-on", muted);
    const mode = String(model.get("turn_mode") ?? "server_vad");
    if (turnMode.value !== mode) {
      if (![...turnMode.options].some((o) => o.value === mode)) turnMode.appendChild(new Option(mode, mode));
      turnMode.value = mode;
    }
    const ptt = mode === "push_to_talk";
    btn.ptt.disabled = !ptt;
    btn.ptt.classList.toggle("rtwidget-on", r.capture.sender.held);
    btn.ptt.setAttribute("aria-pressed", String(r.capture.sender.held));
    echo.checked = model.get("echo_cancellation") !== false;
    const voices = /** @type {string[]} */ (model.get("voices") ?? []);
    const current = String(model.get("voice") ?? "");
    const wanted = voices.includes(current) || !current ? voices : [current, ...voices];
    if ([...voice.options].map((o) => o.value).join("\n") !== wanted.join("\n")) {
      voice.textContent = "";
      for (const v of wanted) voice.appendChild(new Option(v, v));
    }
    voice.value = current;
    voice.disabled = !!model.get("voice_locked");
    voice.title = voice.disabled ? "the voice cannot change after the assistant has spoken" : "voice";
    if (document.activeElement !== instructions) {
      const value = String(model.get("instructions") ?? "");
      if (instructions.value !== value) instructions.value = value;
    }
  }

  function drawLevels() {
    micBar.style.transform = `scaleX(${levelToFraction(r.capture.state === "on" ? r.stats.micLevel : 0)})`;
    outBar.style.transform = `scaleX(${levelToFraction(r.stats.outLevel)})`;
  }

  function drawNotices() {
    noticesEl.textContent = "";
    for (const n of r.notices) {
      const line = h("div", `rtwidget-notice rtwidget-notice-${n.level}`);
      const close = h("button", "rtwidget-notice-close", "\u00d7");
      close.title = "dismiss";
      close.addEventListener("click", () => r.dismiss(n.id));
      line.append(h("span", "", n.text), close);
      noticesEl.appendChild(line);
    }
  }

  /** @type {ViewHandle} */
  const handle = {
    id: viewId,
    update(what) {
      if (what === "panels") {
        log.invalidate();
        schedulePanels();
      } else if (what === "mic") drawControls();
      else if (what === "level") drawLevels();
      else if (what === "notices") drawNotices();
    },
  };
  r.views.set(viewId, handle);
  r.hadViews = true;
  r.stats.views = r.views.size;

  /** @param {string} name @param {any} value */
  const setTrait = (name, value) => {
    model.set(name, value);
    model.save_changes();
  };
  const sendText = () => {
    const value = text.value.trim();
    if (!value) return;
    r.send({ kind: "text", text: value });
    text.value = "";
  };
  const applyInstructions = () => {
    if (instructions.value !== String(model.get("instructions") ?? "")) setTrait("instructions", instructions.value);
  };
  let spaceHeld = false;
  const releaseSpace = () => {
    if (!spaceHeld) return;
    spaceHeld = false;
    r.capture.releaseTalk();
  };

  /** @type {[EventTarget, string, (e: any) => void][]} */
  const domListeners = [
    // Autoplay policies let audio start only after a gesture; which events count differs by device
    // (a touch activates on pointerup/click, a mouse on pointerdown), so listen to all of them.
    [root, "pointerdown", () => r.resumeAudio()],
    [root, "click", () => r.resumeAudio()],
    [root, "keydown", () => r.resumeAudio()],
    [btn.connect, "click", () => r.send({ kind: "connect" })],
    [btn.disconnect, "click", () => r.send({ kind: "disconnect" })],
    [btn.mic, "click", () => (r.capture.state === "off" ? r.capture.start() : r.capture.stop())],
    [btn.mute, "click", () => setTrait("muted", !model.get("muted"))],
    [turnMode, "change", () => setTrait("turn_mode", turnMode.value)],
    [echo, "change", () => setTrait("echo_cancellation", echo.checked)],
    [voice, "change", () => setTrait("voice", voice.value)],
    [
      btn.interrupt,
      "click",
      () => {
        r.send({ kind: "interrupt" });
        r.playback.flush(false); // silence now; the kernel's flush brings the final report
      },
    ],
    [btn.send, "click", sendText],
    [
      text,
      "keydown",
      (/** @type {KeyboardEvent} */ e) => {
        if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
          e.preventDefault();
          sendText();
        }
      },
    ],
    [instructions, "blur", applyInstructions],
    [
      instructions,
      "keydown",
      (/** @type {KeyboardEvent} */ e) => {
        if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
          e.preventDefault();
          applyInstructions();
        }
      },
    ],
    [
      btn.ptt,
      "pointerdown",
      (/** @type {PointerEvent} */ e) => {
        if (btn.ptt.disabled) return;
        e.preventDefault();
        try {
          btn.ptt.setPointerCapture(e.pointerId);
        } catch {
          // synthetic events have no capturable pointer
        }
        r.resumeAudio();
        r.capture.pressTalk();
      },
    ],
    [btn.ptt, "pointerup", () => r.capture.releaseTalk()],
    [btn.ptt, "pointercancel", () => r.capture.releaseTalk()],
    [btn.ptt, "lostpointercapture", () => r.capture.releaseTalk()],
    [btn.ptt, "contextmenu", (/** @type {Event} */ e) => e.preventDefault()], // long touch
    [
      root,
      "keydown",
      (/** @type {KeyboardEvent} */ e) => {
        if (isTyping(e.target)) {
          e.stopPropagation(); // typing here must not trigger notebook shortcuts
          return;
        }
        if (e.code === "Space" && model.get("turn_mode") === "push_to_talk") {
          e.preventDefault();
          e.stopPropagation();
          if (!e.repeat && !spaceHeld) {
            spaceHeld = true;
            r.resumeAudio();
            r.capture.pressTalk();
          }
        }
      },
    ],
    [
      root,
      "keyup",
      (/** @type {KeyboardEvent} */ e) => {
        if (e.code === "Space" && spaceHeld) {
          e.preventDefault();
          e.stopPropagation();
          releaseSpace();
        }
      },
    ],
    [root, "focusout", (/** @type {FocusEvent} */ e) => {
      if (!root.contains(/** @type {Node | null} */ (e.relatedTarget))) releaseSpace();
    }],
  ];
  for (const [target, name, fn] of domListeners) target.addEventListener(name, fn);

  const onChange = () => {
    drawStatus();
    drawControls();
    schedulePanels();
  };
  model.on("change", onChange);
  const tick = setInterval(drawStatus, 1000);

  drawStatus();
  drawControls();
  drawLevels();
  drawNotices();
  log.invalidate(true);
  schedulePanels();
  r.send({ kind: "hello", view: viewId });

  return () => {
    clearInterval(tick);
    if (panelsRaf) cancelAnimationFrame(panelsRaf);
    log.destroy();
    model.off("change", onChange);
    for (const [target, name, fn] of domListeners) target.removeEventListener(name, fn);
    releaseSpace();
    r.views.delete(viewId);
    r.stats.views = r.views.size;
    root.remove();
    // No view left (the cell was re-run or cleared): nobody can hear or see the audio.
    if (r.views.size === 0) {
      if (ownsRecord) r.dispose();
      else r.stopAudio();
    }
  };
}

export default { initialize, render };
