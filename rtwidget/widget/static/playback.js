// Playback of one model: kernel audio -> a 24 kHz context -> the playback worklet (queue, start
// threshold, flush), with a mute gain. The played position the kernel truncates to on barge-in is
// the Playhead's: it follows the worklet's own reports of what it rendered.
import { pushBounded } from "./debug.js";
import { listen } from "./dom.js";
import { API_RATE, pcmBytes } from "./dsp.js";
import { FLUSH_TIMEOUT_MS, addWorklet, resumeContext } from "./webaudio.js";

/** Played reports go out on their own at most this often while playing (ms); with the mic on they
 * ride with its chunks instead (no message of their own). */
const PLAYED_INTERVAL_MS = 250;
/** Items remembered by the playhead and by the flushed-item filter. */
const KEEP_ITEMS = 256;

/**
 * A playback worklet node (the live one, or the item node beside it) whose reports go to `onReport`.
 * @param {AudioContext} ctx
 * @param {number} startMs the worklet's start threshold
 * @param {(m: any) => void} onReport
 * @param {AbortSignal} signal
 * @returns {AudioWorkletNode}
 */
function playbackNode(ctx, startMs, onReport, signal) {
  const node = new AudioWorkletNode(ctx, "rtwidget-playback", {
    numberOfInputs: 0,
    numberOfOutputs: 1,
    outputChannelCount: [1],
    processorOptions: { startMs },
  });
  listen(node.port, "message", (/** @type {MessageEvent} */ e) => onReport(e.data), signal);
  node.port.start(); // addEventListener (unlike onmessage) does not start the port
  return node;
}

/**
 * Where playback is, from the playback worklet's reports: the item that started or played last,
 * and the samples played of each recent item (cumulative). `mirror` (the debug stats'
 * playedSamples) gets every count too, for tests and benchmarks.
 */
export class Playhead {
  /** @param {Record<string, number>} [mirror] */
  constructor(mirror) {
    /** The item playing now, or played (or given up on) last; null before any audio. @type {string | null} */
    this.item = null;
    /** @type {Map<string, number>} */
    this.played = new Map();
    this.mirror = mirror;
  }

  /**
   * The worklet started rendering this item.
   * @param {string} item
   */
  started(item) {
    this.item = item;
  }

  /**
   * The worklet reports `samples` of `item` played so far (progress, ended, flushed).
   * @param {string} item
   * @param {number} samples
   */
  heard(item, samples) {
    this.item = item;
    this.played.delete(item); // re-insert: the map stays in order of last report
    this.played.set(item, samples);
    if (this.played.size > KEEP_ITEMS) {
      const oldest = this.played.keys().next().value;
      if (oldest !== undefined) this.played.delete(oldest);
    }
    if (this.mirror) this.mirror[item] = samples;
  }

  /**
   * Audio of this item arrived but will never play (no audio output): it is the item a final
   * report names.
   * @param {string} item
   */
  skipped(item) {
    this.item = item;
  }

  /**
   * @param {string | null} item
   * @returns {number} samples of `item` played (0 when unknown)
   */
  samplesOf(item) {
    return item === null ? 0 : (this.played.get(item) ?? 0);
  }

  /** @returns {{item_id: string | null, samples: number}} the current position */
  position() {
    return { item_id: this.item, samples: this.samplesOf(this.item) };
  }
}

/** Playback of one model: a 24 kHz context, the playback worklet, a mute gain. */
export class Playback {
  /** @param {import("./webaudio.js").AudioOwner} owner */
  constructor(owner) {
    this.owner = owner;
    this.playhead = new Playhead(owner.stats.playedSamples);
    /** @type {AudioContext | null} */
    this.ctx = null;
    /** @type {AudioWorkletNode | null} */
    this.node = null;
    /** @type {GainNode | null} */
    this.gain = null;
    /** Removes the worklet port listener of the current context. */
    this.running = new AbortController();
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
    /** Is a mic chunk about to go out, that a non-final report can ride with? Set by the model. @type {() => boolean} */
    this.canRide = () => false;
    /** The newest non-final report waiting for the next mic chunk. @type {{item_id: string, samples: number} | null} */
    this.riding = null;
    /** The node that plays an item's audio on click (media.js), beside the live one. @type {AudioWorkletNode | null} */
    this.item = null;
    /** Where the item node's reports go. @type {(m: any) => void} */
    this.onItemReport = () => {};
    /** Told when the item node goes with the context. */
    this.onItemGone = () => {};
  }

  /**
   * The item node, created on first use: a second playback worklet with its own queue and reports, so the live
   * playhead and its `played` reports never see an item played on click (media.js).
   * @param {(m: any) => void} onReport its worklet's reports (playback-worklet.js, port protocol)
   * @returns {Promise<AudioWorkletNode>}
   */
  async itemNode(onReport) {
    this.ensure();
    await this.ready;
    const ctx = this.ctx;
    if (!ctx || !this.node) throw new Error("audio output is unavailable");
    this.onItemReport = onReport;
    if (!this.item) {
      this.item = playbackNode(ctx, 0, (m) => this.onItemReport(m), this.running.signal);
      this.item.connect(ctx.destination); // not through the mute: a click asks to hear it
    }
    return this.item;
  }

  /** @returns {{item_id: string, samples: number} | null} the report to ride with a mic chunk (taken once) */
  takeRiding() {
    const report = this.riding;
    this.riding = null;
    return report;
  }

  /** Create the context and worklet once (first audio or first click). */
  ensure() {
    if (!this.ready && !this.unavailable) {
      this.ready = this.create().catch((err) => this.failed(err));
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
    await addWorklet(ctx, WORKLET_SOURCES.playback);
    if (this.ctx !== ctx) return; // closed meanwhile
    this.running = new AbortController();
    const node = playbackNode(ctx, this.startMs(), (m) => this.onWorklet(m), this.running.signal);
    const gain = ctx.createGain();
    gain.gain.value = this.owner.model.get("muted") ? 0 : 1;
    node.connect(gain).connect(ctx.destination);
    this.node = node;
    this.gain = gain;
    for (const msg of this.pending) node.port.postMessage(msg, [msg.pcm]);
    this.pending = [];
    resumeContext(ctx);
  }

  /** @param {any} err why the context or worklet could not be created */
  failed(err) {
    this.unavailable = true;
    // Nothing of the queued audio will be heard: a flush reports 0 played of the last item.
    for (const m of this.pending) this.playhead.skipped(m.item_id);
    this.teardown();
    const why = err && err.name === "NoAudioWorklet" ? "it needs https or localhost" : String(err?.message ?? err);
    this.owner.notice("error", `Audio output unavailable (${why}); text still works.`);
  }

  /** @returns {number} */
  startMs() {
    const ms = Number(this.owner.model.get("playback_start_ms"));
    return ms >= 0 ? ms : 60;
  }

  configure() {
    this.node?.port.postMessage({ type: "config", startMs: this.startMs() });
  }

  /** Apply the `muted` trait (the worklet keeps playing and counting). */
  setMuted() {
    if (this.gain && this.ctx) {
      this.gain.gain.setValueAtTime(this.owner.model.get("muted") ? 0 : 1, this.ctx.currentTime);
    }
  }

  /**
   * An `audio` message.
   * @param {{item_id: string, seq: number, t: number}} content
   * @param {DataView | ArrayBuffer | undefined} buffer
   */
  enqueue(content, buffer) {
    this.owner.stats.audioChunks++;
    if (!buffer || typeof content.item_id !== "string" || this.flushed.has(content.item_id)) return;
    if (!this.owner.heard()) return; // every view was removed: nobody is there to hear it
    this.ensure();
    if (this.unavailable) {
      this.playhead.skipped(content.item_id);
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
      // A suspended or stuck context may never answer: then answer from the playhead.
      if (report) this.flushTimers.set(id, setTimeout(() => this.flushTimedOut(id), FLUSH_TIMEOUT_MS));
    } else if (report) {
      const item = firstPending ?? this.playhead.item;
      this.sendPlayed(item, this.playhead.samplesOf(item), true);
    }
    this.owner.stats.outLevel = 0;
    this.owner.emit("level");
  }

  /** @param {number} id a flush the worklet did not answer in time */
  flushTimedOut(id) {
    this.flushTimers.delete(id);
    const { item_id, samples } = this.playhead.position();
    this.sendPlayed(item_id, samples, true);
  }

  /** @param {string} item */
  markFlushed(item) {
    this.flushed.add(item);
    if (this.flushed.size > KEEP_ITEMS) {
      const oldest = this.flushed.values().next().value;
      if (oldest !== undefined) this.flushed.delete(oldest);
    }
  }

  /** @param {any} m a report from the playback worklet (playback-worklet.js, port protocol) */
  onWorklet(m) {
    const hasItem = typeof m.item_id === "string";
    if (hasItem && typeof m.samples === "number") this.playhead.heard(m.item_id, m.samples);
    if (m.type === "started") {
      if (hasItem) this.playhead.started(m.item_id);
      pushBounded(this.owner.stats.playStarts, { seq: m.seq, latency_ms: Date.now() - m.t });
    } else if (m.type === "progress") {
      this.showLevel(m.rms);
      if (this.canRide() || Date.now() - this.lastPlayedSent >= PLAYED_INTERVAL_MS) {
        this.sendPlayed(m.item_id, m.samples, false);
      }
    } else if (m.type === "ended") {
      this.sendPlayed(m.item_id, m.samples, false);
    } else if (m.type === "flushed") {
      this.onFlushed(m);
    } else if (m.type === "level") {
      this.showLevel(m.rms);
    }
  }

  /** @param {{id: number, item_id?: string | null, samples?: number}} m the worklet's answer to a flush */
  onFlushed(m) {
    const timer = this.flushTimers.get(m.id);
    this.flushTimers.delete(m.id);
    if (typeof m.item_id === "string") this.markFlushed(m.item_id);
    // No timer left means the timeout already answered for this flush (or it asked for no report).
    if (timer === undefined) return;
    clearTimeout(timer);
    this.sendPlayed(m.item_id ?? null, m.samples ?? 0, true);
  }

  /** @param {number} rms */
  showLevel(rms) {
    this.owner.stats.outLevel = rms;
    this.owner.emit("level");
  }

  /**
   * @param {string | null} item
   * @param {number} samples
   * @param {boolean} final
   */
  sendPlayed(item, samples, final) {
    if (item === null && !final) return;
    if (!final && this.canRide()) {
      this.riding = { item_id: item ?? "", samples };
      return;
    }
    if (final) this.riding = null; // the final report supersedes it
    this.lastPlayedSent = Date.now();
    this.owner.send({ kind: "played", item_id: item, samples, final });
  }

  /** Close the context and drop all queued audio (recreated on the next audio or click). */
  teardown() {
    for (const timer of this.flushTimers.values()) clearTimeout(timer);
    this.flushTimers.clear();
    this.running.abort();
    this.node?.disconnect();
    this.item?.disconnect();
    if (this.item) {
      this.item = null;
      this.onItemGone();
    }
    this.ctx?.close().catch(() => {});
    this.ctx = null;
    this.node = null;
    this.gain = null;
    this.ready = null;
    this.pending = [];
    this.owner.stats.outLevel = 0;
  }
}
