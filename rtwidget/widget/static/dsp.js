// Pure audio helpers shared by the main thread and both AudioWorklets.
//
// This file is prepended to each worklet's source and concatenated into the widget module by
// rtwidget/widget/bundle.py, so it must not touch the DOM, window or any AudioWorklet global, and its
// top-level names must not collide with names in the other files.
//
// Audio on the wire is PCM16 little-endian, mono, 24 kHz. Int16Array uses the platform's byte
// order, which is little-endian on every platform a browser runs on.

/** The Realtime API's sample rate. */
export const API_RATE = 24000;

/**
 * Convert floats in [-1, 1] to Int16, clipping outside that range and rounding to nearest.
 * Negative values scale by 32768 and positive by 32767, so -1 -> -32768, 1 -> 32767 and the
 * conversion is the exact inverse of {@link int16ToFloat}.
 * @param {Float32Array} src
 * @param {Int16Array} [dst] written in place when given (must be at least src.length long)
 * @returns {Int16Array}
 */
export function floatToInt16(src, dst = new Int16Array(src.length)) {
  for (let i = 0; i < src.length; i++) {
    dst[i] = floatSampleToInt16(src[i]);
  }
  return dst;
}

/**
 * One float sample to Int16 (see {@link floatToInt16}); NaN becomes 0.
 * @param {number} s
 * @returns {number}
 */
export function floatSampleToInt16(s) {
  if (!(s > -1)) return s <= -1 ? -32768 : 0; // also catches NaN
  if (s >= 1) return 32767;
  return s < 0 ? Math.round(s * 32768) : Math.round(s * 32767);
}

/**
 * Convert Int16 samples to floats in [-1, 1] (the inverse of {@link floatToInt16}).
 * @param {Int16Array} src
 * @param {Float32Array} [dst]
 * @returns {Float32Array}
 */
export function int16ToFloat(src, dst = new Float32Array(src.length)) {
  for (let i = 0; i < src.length; i++) {
    const v = src[i];
    dst[i] = v < 0 ? v / 32768 : v / 32767;
  }
  return dst;
}

/**
 * Root mean square of float samples (0 for an empty array).
 * @param {Float32Array | number[]} samples
 * @returns {number}
 */
export function rms(samples) {
  if (samples.length === 0) return 0;
  let sum = 0;
  for (let i = 0; i < samples.length; i++) sum += samples[i] * samples[i];
  return Math.sqrt(sum / samples.length);
}

/**
 * Copy the PCM16 bytes a DataView points at into a fresh ArrayBuffer of whole samples.
 * Comm buffers arrive as DataViews into a larger buffer, possibly at an odd offset, so the
 * view's byteOffset and byteLength must be honoured and an Int16Array cannot alias it directly.
 * @param {ArrayBufferView | ArrayBuffer} view
 * @returns {ArrayBuffer}
 */
export function pcmBytes(view) {
  if (view instanceof ArrayBuffer) return view.slice(0, view.byteLength - (view.byteLength % 2));
  const len = view.byteLength - (view.byteLength % 2);
  const out = new Uint8Array(len);
  out.set(new Uint8Array(view.buffer, view.byteOffset, len));
  return out.buffer;
}

/**
 * Samples at the API rate in `ms` milliseconds.
 * @param {number} ms
 * @returns {number}
 */
export function msToSamples(ms) {
  return Math.max(0, Math.round((ms * API_RATE) / 1000));
}

/** Phases of the resampler's interpolation table (kernel positions between two input samples). */
const RESAMPLER_PHASES = 128;

/**
 * The resampler's kernel table: for each of `phases + 1` fractional offsets d = p / phases, the
 * 2 * half taps of a Blackman-windowed sinc low-pass, g(d - m) for m = -(half - 1) .. half,
 * each phase normalized to unit gain at DC.
 * @param {number} cutoff -6 dB frequency as a fraction of the input rate (0 < cutoff < 0.5)
 * @param {number} half taps on each side of the output position
 * @param {number} [phases]
 * @returns {Float32Array} (phases + 1) * 2 * half coefficients, phase-major
 */
export function sincTable(cutoff, half, phases = RESAMPLER_PHASES) {
  const width = 2 * half;
  const table = new Float32Array((phases + 1) * width);
  for (let p = 0; p <= phases; p++) {
    const d = p / phases;
    let sum = 0;
    for (let k = 0; k < width; k++) {
      const t = d - (k - (half - 1)); // distance from the output position to input sample m
      const x = 2 * cutoff * t;
      const sinc = x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x);
      const w = Math.abs(t) >= half ? 0 : 0.42 + 0.5 * Math.cos((Math.PI * t) / half) + 0.08 * Math.cos((2 * Math.PI * t) / half);
      const v = 2 * cutoff * sinc * w;
      table[p * width + k] = v;
      sum += v;
    }
    for (let k = 0; k < width; k++) table[p * width + k] /= sum;
  }
  return table;
}

/**
 * Streaming mono resampler (windowed-sinc interpolation).
 *
 * Each output sample is a weighted sum of the 2 x `half` input samples around its position, with
 * a Blackman-windowed sinc low-pass kernel looked up in a 128-phase table (linear interpolation
 * between neighbouring phases). The kernel's -6 dB point is at 0.45 x the lower of the two rates
 * (10.8 kHz for 48 kHz or 44.1 kHz -> 24 kHz), so speech up to about 8 kHz passes at full level
 * and what would alias when downsampling lands above 10.8 kHz, attenuated by about 70 dB.
 * The kernel is longer when the ratio is larger (56 taps at 48 kHz); the cost is about
 * 2 x taps multiply-adds per output sample. Equal rates pass samples through unchanged.
 *
 * State (the last input samples and the fractional read position) carries across calls, so
 * feeding a signal in blocks of any size gives the same output as feeding it at once. The
 * output lags the input by `half` input samples (0.6 ms at 48 kHz).
 */
export class Resampler {
  /**
   * @param {number} srcRate input sample rate (the AudioContext's rate)
   * @param {number} [dstRate] output sample rate
   */
  constructor(srcRate, dstRate = API_RATE) {
    if (!(srcRate > 0) || !(dstRate > 0)) throw new RangeError(`bad sample rates ${srcRate} -> ${dstRate}`);
    // Positions advance by srcRate / dstRate input samples per output, kept as an integer part and
    // a remainder over dstRate: exact, so block boundaries never shift the sampling grid.
    srcRate = Math.round(srcRate);
    dstRate = Math.round(dstRate);
    /** Input samples per output sample. */
    this.ratio = srcRate / dstRate;
    this.step = Math.floor(srcRate / dstRate);
    this.stepRem = srcRate % dstRate;
    this.den = dstRate;
    this.passThrough = srcRate === dstRate;
    // Long enough for a transition band of about 0.2 x the lower rate.
    this.half = Math.ceil(13.75 * Math.max(this.ratio, 2));
    const cutoff = (0.45 * Math.min(srcRate, dstRate)) / srcRate;
    this.table = this.passThrough ? new Float32Array(0) : sincTable(cutoff, this.half);
    const width = 2 * this.half;
    // Working buffer: the last `width` input samples (history), then the current block.
    this.work = new Float32Array(width + 1024);
    // Position of the next output sample: input index `idx` (relative to work[0]) plus rem / den.
    // Input sample k of the current block sits at work[width + k]; the first output is at input 0.
    this.idx = width;
    this.rem = 0;
    /** @type {Float32Array} */
    this.out = new Float32Array(1024);
  }

  /**
   * Resample one block. The returned array is a view into an internal buffer that the next call
   * overwrites: copy or consume it first.
   * @param {Float32Array} input
   * @returns {Float32Array}
   */
  process(input) {
    const len = input.length;
    if (this.passThrough) {
      if (this.out.length < len) this.out = new Float32Array(len);
      this.out.set(input);
      return this.out.subarray(0, len);
    }
    const half = this.half;
    const width = 2 * half;
    if (this.work.length < width + len) {
      const bigger = new Float32Array(width + len);
      bigger.set(this.work.subarray(0, width));
      this.work = bigger;
    }
    const w = this.work;
    w.set(input, width);
    const last = width + len - 1; // last valid index in w
    const maxOut = Math.ceil(len / this.ratio) + 2;
    if (this.out.length < maxOut) this.out = new Float32Array(maxOut);
    const out = this.out;
    const table = this.table;
    let count = 0;
    let i = this.idx;
    let rem = this.rem;
    // An output at i + rem / den needs input samples i - (half - 1) .. i + half.
    while (i + half <= last) {
      const phase = (rem / this.den) * RESAMPLER_PHASES;
      const p = Math.floor(phase);
      const f = phase - p;
      const a = p * width;
      const base = i - (half - 1);
      let acc = 0;
      if (f === 0) {
        for (let k = 0; k < width; k++) acc += table[a + k] * w[base + k];
      } else {
        const b = a + width;
        for (let k = 0; k < width; k++) acc += (table[a + k] + f * (table[b + k] - table[a + k])) * w[base + k];
      }
      out[count++] = acc;
      i += this.step;
      rem += this.stepRem;
      if (rem >= this.den) {
        rem -= this.den;
        i++;
      }
    }
    // Keep the last `width` samples as history and rebase the position onto the new work[0].
    w.copyWithin(0, len, len + width);
    this.idx = i - len;
    this.rem = rem;
    return out.subarray(0, count);
  }
}

/**
 * @typedef {object} Chunk
 * @property {Int16Array} pcm samples of one chunk (a fresh buffer, safe to transfer)
 * @property {number} rms level of the chunk, 0..1
 * @property {number} after samples that arrived in the same push after the chunk's last sample
 */

/**
 * Cuts a stream of float samples (already at 24 kHz) into Int16 chunks of a fixed length.
 */
export class ChunkBuilder {
  /** @param {number} size samples per chunk */
  constructor(size) {
    this.size = Math.max(1, Math.round(size));
    this.buf = new Int16Array(this.size);
    this.fill = 0;
    this.sumSq = 0;
  }

  /**
   * Change the chunk length; takes effect at once (a fuller buffer is emitted by the next push).
   * @param {number} size
   */
  setSize(size) {
    size = Math.max(1, Math.round(size));
    if (size === this.size) return;
    const bigger = new Int16Array(Math.max(size, this.fill));
    bigger.set(this.buf.subarray(0, this.fill));
    this.buf = bigger;
    this.size = size;
  }

  /**
   * Append samples; returns the chunks completed by them (usually none or one).
   * @param {Float32Array} samples
   * @returns {Chunk[]}
   */
  push(samples) {
    /** @type {Chunk[]} */
    const done = [];
    if (this.fill >= this.size) done.push(this.take(samples.length));
    for (let i = 0; i < samples.length; i++) {
      const v = floatSampleToInt16(samples[i]);
      this.buf[this.fill++] = v;
      this.sumSq += v * v;
      if (this.fill >= this.size) done.push(this.take(samples.length - 1 - i));
    }
    return done;
  }

  /**
   * Emit what is buffered as a (possibly short) chunk; null when empty.
   * @returns {Chunk | null}
   */
  flush() {
    return this.fill > 0 ? this.take(0) : null;
  }

  /** Drop what is buffered. */
  reset() {
    this.fill = 0;
    this.sumSq = 0;
  }

  /**
   * @param {number} after
   * @returns {Chunk}
   */
  take(after) {
    const pcm = this.buf.slice(0, this.fill);
    const level = Math.sqrt(this.sumSq / this.fill) / 32768;
    if (this.buf.length !== this.size) this.buf = new Int16Array(this.size);
    this.reset();
    return { pcm, rms: level, after };
  }
}

/**
 * @typedef {object} QueuedChunk
 * @property {string} itemId
 * @property {number} seq
 * @property {number} t kernel receive time of the chunk (epoch ms)
 * @property {Int16Array} pcm
 * @property {number} offset samples of pcm already played
 */

/**
 * @typedef {{type: "started", item_id: string, seq: number, t: number}
 *   | {type: "ended", item_id: string, samples: number}} QueueEvent
 */

/**
 * The playback queue behind the playback worklet: Int16 chunks tagged by item id and seq, a start
 * threshold against network jitter, a flush that drops everything queued, and an exact count of
 * samples played per item. Pure (no worklet globals) so it can be tested directly.
 *
 * States: idle (nothing to play, or buffering below the threshold) and playing. Playback starts
 * once `startSamples` are queued, or once no chunk has arrived for `pauseSamples` of render time
 * (a short reply whose stream already ended). It goes back to idle when the queue runs dry.
 */
export class PlaybackQueue {
  /**
   * @param {{startSamples?: number, pauseSamples?: number, keepItems?: number}} [opts]
   */
  constructor(opts = {}) {
    this.startSamples = opts.startSamples ?? msToSamples(60);
    this.pauseSamples = opts.pauseSamples ?? msToSamples(100);
    this.keepItems = opts.keepItems ?? 256;
    /** @type {QueuedChunk[]} */
    this.chunks = [];
    this.head = 0; // index of the chunk playing or next to play
    this.queued = 0; // samples queued and not yet played
    this.playing = false;
    this.idleSamples = 0; // render time since the last push, counted while not playing
    /** Item whose audio is playing, or was played last. @type {string | null} */
    this.current = null;
    /** Samples played per item (cumulative, bounded to the last keepItems items). @type {Map<string, number>} */
    this.played = new Map();
    /** Items dropped by a flush: their late chunks are ignored. @type {Set<string>} */
    this.flushed = new Set();
  }

  /**
   * Queue one chunk. Chunks of an item that was flushed are dropped (returns false).
   * @param {string} itemId
   * @param {number} seq
   * @param {Int16Array} pcm
   * @param {number} [t]
   * @returns {boolean}
   */
  push(itemId, seq, pcm, t = 0) {
    if (this.flushed.has(itemId)) return false;
    if (pcm.length === 0) return true;
    this.chunks.push({ itemId, seq, t, pcm, offset: 0 });
    this.queued += pcm.length;
    this.idleSamples = 0;
    if (!this.played.has(itemId)) this.remember(itemId, 0);
    return true;
  }

  /**
   * Drop everything queued. Returns the item that was playing (else the next one queued, else the
   * last one played; null if none) with its played count: the basis of the final `played` report.
   * @returns {{item_id: string | null, samples: number}}
   */
  flush() {
    const head = this.chunks[this.head];
    const itemId = this.playing || !head ? this.current : head.itemId;
    for (let i = this.head; i < this.chunks.length; i++) this.markFlushed(this.chunks[i].itemId);
    if (this.current !== null) this.markFlushed(this.current);
    this.chunks = [];
    this.head = 0;
    this.queued = 0;
    this.playing = false;
    this.idleSamples = 0;
    if (itemId !== null) this.current = itemId;
    return { item_id: itemId, samples: itemId === null ? 0 : this.played.get(itemId) ?? 0 };
  }

  /**
   * Render one block of output (floats) and return what happened during it.
   * @param {Float32Array} out filled completely (silence where nothing plays)
   * @returns {QueueEvent[]}
   */
  render(out) {
    /** @type {QueueEvent[]} */
    const events = [];
    let i = 0;
    if (!this.playing) {
      if (this.queued > 0 && (this.queued >= this.startSamples || this.idleSamples >= this.pauseSamples)) {
        this.playing = true;
      } else {
        this.idleSamples += out.length;
        out.fill(0);
        return events;
      }
    }
    while (i < out.length && this.head < this.chunks.length) {
      const c = this.chunks[this.head];
      if (c.offset === 0) {
        if (this.current !== null && this.current !== c.itemId) {
          events.push({ type: "ended", item_id: this.current, samples: this.played.get(this.current) ?? 0 });
        }
        this.current = c.itemId;
        events.push({ type: "started", item_id: c.itemId, seq: c.seq, t: c.t });
      }
      const n = Math.min(out.length - i, c.pcm.length - c.offset);
      for (let k = 0; k < n; k++) {
        const v = c.pcm[c.offset + k];
        out[i + k] = v < 0 ? v / 32768 : v / 32767;
      }
      i += n;
      c.offset += n;
      this.queued -= n;
      this.remember(c.itemId, (this.played.get(c.itemId) ?? 0) + n);
      if (c.offset >= c.pcm.length) this.head++;
    }
    if (this.head >= this.chunks.length) {
      // Ran dry: the current item's audio ran out (for now); wait for the threshold again.
      this.chunks = [];
      this.head = 0;
      this.playing = false;
      this.idleSamples = out.length - i;
      if (this.current !== null) {
        events.push({ type: "ended", item_id: this.current, samples: this.played.get(this.current) ?? 0 });
      }
    } else if (this.head > 64) {
      this.chunks = this.chunks.slice(this.head);
      this.head = 0;
    }
    out.fill(0, i);
    return events;
  }

  /**
   * @param {string} itemId
   * @param {number} samples
   */
  remember(itemId, samples) {
    this.played.set(itemId, samples);
    if (this.played.size > this.keepItems) {
      const oldest = this.played.keys().next().value;
      if (oldest !== undefined && oldest !== itemId) this.played.delete(oldest);
    }
  }

  /** @param {string} itemId */
  markFlushed(itemId) {
    this.flushed.add(itemId);
    if (this.flushed.size > this.keepItems) {
      const oldest = this.flushed.values().next().value;
      if (oldest !== undefined) this.flushed.delete(oldest);
    }
  }
}
