// Test helpers: read the shipped files, join worklet sources the way rtwidget/widget/bundle.py does,
// run a worklet in a node:vm context with a fake AudioWorkletGlobalScope, and a fake model proxy.
import { readFileSync } from "node:fs";
import vm from "node:vm";

export const STATIC_DIR = new URL("../../rtwidget/widget/static/", import.meta.url);

/**
 * @param {string} name
 * @returns {string}
 */
export function readStatic(name) {
  return readFileSync(new URL(name, STATIC_DIR), "utf8");
}

// Mirror of bundle.py's _RELATIVE_IMPORT (a test compares the two joins).
const RELATIVE_IMPORT = /^import\s[^;]*?\sfrom\s+"\.\/[\w.-]+\.js";[ \t]*(?:\r?\n|$)/gm;

/**
 * @param {string} source
 * @returns {string}
 */
export function stripImports(source) {
  return source.replace(RELATIVE_IMPORT, "");
}

/**
 * dsp.js + the worklet file, import-stripped: the text bundle.worklet_source() produces.
 * @param {"capture" | "playback"} name
 * @returns {string}
 */
export function workletSource(name) {
  const parts = ["dsp.js", `${name}-worklet.js`];
  return parts.map((p) => `// --- ${p} ---\n${stripImports(readStatic(p))}`).join("\n");
}

/** A MessagePort stand-in: records what the processor posts, lets the test post to it. */
export class FakePort {
  constructor() {
    /** @type {{data: any, transfer: any[] | undefined}[]} */
    this.sent = [];
    /** @type {((e: {data: any}) => void) | null} */
    this.onmessage = null;
  }

  /**
   * @param {any} data
   * @param {any[]} [transfer]
   */
  postMessage(data, transfer) {
    // As a real port does: a structured clone (in this realm), and transferred buffers detached.
    const copy = structuredClone(data, transfer ? { transfer } : undefined);
    this.sent.push({ data: copy, transfer });
  }

  /**
   * Deliver a message to the processor (as the main thread's node.port.postMessage would).
   * @param {any} data
   */
  deliver(data) {
    if (!this.onmessage) throw new Error("the processor set no port.onmessage");
    this.onmessage({ data });
  }

  /**
   * Take the messages posted so far.
   * @returns {any[]}
   */
  take() {
    const out = this.sent.map((s) => s.data);
    this.sent = [];
    return out;
  }
}

/**
 * @typedef {object} LoadedWorklet
 * @property {string} name the name given to registerProcessor
 * @property {new (options?: any) => any} Processor
 * @property {any} context the vm context (its globals: sampleRate, currentTime, ...)
 */

/**
 * Evaluate a worklet source as an ES module in a fresh vm context that fakes the
 * AudioWorkletGlobalScope, and return the processor class it registered.
 * Needs `node --experimental-vm-modules` (check.sh and `npm test` set it).
 * @param {"capture" | "playback"} name
 * @param {{sampleRate?: number}} [opts]
 * @returns {Promise<LoadedWorklet>}
 */
export async function loadWorklet(name, opts = {}) {
  if (typeof (/** @type {any} */ (vm).SourceTextModule) !== "function") {
    throw new Error("vm.SourceTextModule is missing: run node with --experimental-vm-modules");
  }
  /** @type {{name: string, ctor: any}[]} */
  const registered = [];
  class AudioWorkletProcessor {
    constructor() {
      this.port = new FakePort();
    }
  }
  const context = vm.createContext({
    AudioWorkletProcessor,
    registerProcessor: (/** @type {string} */ n, /** @type {any} */ ctor) => registered.push({ name: n, ctor }),
    sampleRate: opts.sampleRate ?? 48000,
    currentTime: 0,
    console,
  });
  const mod = new /** @type {any} */ (vm).SourceTextModule(workletSource(name), {
    context,
    identifier: `${name}-worklet`,
  });
  await mod.link(() => {
    throw new Error("a worklet source must not import anything");
  });
  await mod.evaluate();
  if (registered.length !== 1) throw new Error(`expected one registerProcessor call, got ${registered.length}`);
  return { name: registered[0].name, Processor: registered[0].ctor, context };
}

/**
 * A sine wave.
 * @param {number} freq Hz
 * @param {number} rate sample rate
 * @param {number} n samples
 * @param {number} [amp]
 * @param {number} [phase] radians
 * @returns {Float32Array}
 */
export function sine(freq, rate, n, amp = 0.5, phase = 0) {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = amp * Math.sin((2 * Math.PI * freq * i) / rate + phase);
  return out;
}

/**
 * Frequency of a (roughly) sinusoidal signal from its rising zero crossings, interpolated.
 * @param {ArrayLike<number>} x
 * @param {number} rate
 * @returns {number}
 */
export function estimateFrequency(x, rate) {
  /** @type {number[]} */
  const crossings = [];
  for (let i = 1; i < x.length; i++) {
    if (x[i - 1] < 0 && x[i] >= 0) crossings.push(i - 1 + -x[i - 1] / (x[i] - x[i - 1]));
  }
  if (crossings.length < 2) return 0;
  return ((crossings.length - 1) * rate) / (crossings[crossings.length - 1] - crossings[0]);
}

/**
 * Root mean square of part of a signal.
 * @param {ArrayLike<number>} x
 * @param {number} [from]
 * @param {number} [to]
 * @returns {number}
 */
export function rmsOf(x, from = 0, to = x.length) {
  let s = 0;
  for (let i = from; i < to; i++) s += x[i] * x[i];
  return Math.sqrt(s / Math.max(1, to - from));
}

/** A stand-in for anywidget's model proxy (Backbone-style events), recording what the widget sends. */
export class FakeModel {
  /** @param {Record<string, any>} [state] */
  constructor(state = {}) {
    /** @type {Record<string, any>} */
    this.state = {
      status: "idle",
      endpoint: { kind: "local", label: "local", model: "m", dialect: "ga" },
      turn_mode: "server_vad",
      muted: false,
      echo_cancellation: true,
      mic_chunk_ms: 100,
      playback_start_ms: 60,
      log_limit: 5000,
      counters: {},
      usage: {},
      ...state,
    };
    /** @type {{content: any, buffers: any}[]} */
    this.sent = [];
    this.saves = 0;
    /** @type {Map<string, Set<(...args: any[]) => void>>} */
    this.handlers = new Map();
  }
  /** @param {string} k */
  get(k) {
    return this.state[k];
  }
  /** @param {string} k @param {any} v */
  set(k, v) {
    this.state[k] = v;
    this.trigger(`change:${k}`, this, v);
    this.trigger("change", this);
  }
  save_changes() {
    this.saves++;
  }
  /** @param {any} content @param {any} [_callbacks] @param {any} [buffers] */
  send(content, _callbacks, buffers) {
    this.sent.push({ content, buffers });
  }
  /** @param {string} name @param {(...args: any[]) => void} cb */
  on(name, cb) {
    if (!this.handlers.has(name)) this.handlers.set(name, new Set());
    this.handlers.get(name)?.add(cb);
  }
  /** @param {string | null} [name] @param {((...args: any[]) => void) | null} [cb] */
  off(name, cb) {
    if (name && cb) this.handlers.get(name)?.delete(cb);
  }
  /** @param {string} name @param {...any} args */
  trigger(name, ...args) {
    for (const cb of [...(this.handlers.get(name) ?? [])]) cb(...args);
  }
  /** @param {any} content @param {any[]} [buffers] */
  receive(content, buffers = []) {
    this.trigger("msg:custom", content, buffers);
  }
  /** @param {string} kind */
  sentOf(kind) {
    return this.sent.map((s) => s.content).filter((c) => c.kind === kind);
  }
  listenerCount() {
    let n = 0;
    for (const set of this.handlers.values()) n += set.size;
    return n;
  }
}

/** Let queued promise callbacks and zero-delay timers run. */
export const tick = () => new Promise((resolve) => setTimeout(resolve, 0));
