// Debug figures of one model, read by the browser tests and benchmarks through
// `globalThis.__rtwidget.models` (docs/widget-contract.md, "test hooks"). Each model's state
// registers its entry here; nothing in the front end looks state up through this list.

/**
 * @typedef {object} Stats debug figures read by tests and benchmarks
 * @property {Record<string, number>} playedSamples item_id -> samples played (cumulative; mirrors the playhead)
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

/**
 * @typedef {object} DebugEntry one model's entry in `globalThis.__rtwidget.models`
 * @property {string | null} model_id the ipywidgets model id, known from the first trait change
 * @property {Stats} stats
 * @property {boolean} closed
 */

/** @returns {Stats} */
export function newStats() {
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

/**
 * Push a value onto a bounded list of recent values (drops the oldest beyond `max`, in batches).
 * @template T
 * @param {T[]} list
 * @param {T} value
 * @param {number} [max]
 */
export function pushBounded(list, value, max = 10000) {
  list.push(value);
  if (list.length > max + max / 10) list.splice(0, list.length - max);
}

/**
 * Add one model's entry to `globalThis.__rtwidget.models`. `owner` (the per-model state) is
 * attached as a non-enumerable `record` for the console and the unit tests, so serializing the
 * list from a browser test stays cheap and acyclic; `closeDebug` lets go of it.
 * @param {Stats} stats
 * @param {object} owner
 * @returns {DebugEntry}
 */
export function registerDebug(stats, owner) {
  const g = /** @type {any} */ (globalThis);
  g.__rtwidget = g.__rtwidget || { models: [] };
  /** @type {DebugEntry} */
  const entry = { model_id: null, stats, closed: false };
  Object.defineProperty(entry, "record", { value: owner, enumerable: false, configurable: true });
  g.__rtwidget.models.push(entry);
  return entry;
}

/**
 * Mark a model's entry closed. Its stats stay for tests to read; its state is let go (the page
 * keeps the entries of every model it ever showed).
 * @param {DebugEntry} entry
 */
export function closeDebug(entry) {
  entry.closed = true;
  delete (/** @type {any} */ (entry).record);
}
