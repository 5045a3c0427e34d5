import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  ChunkBuilder,
  PlaybackQueue,
  Resampler,
  floatToInt16,
  int16ToFloat,
  sincTable,
  msToSamples,
  pcmBytes,
  rms,
} from "../../rtwidget/widget/static/dsp.js";
import { estimateFrequency, rmsOf, sine } from "./helpers.js";

/**
 * Feed a signal through a fresh resampler in blocks of the given sizes (cycled).
 * @param {number} src
 * @param {Float32Array} x
 * @param {number[]} blocks
 * @returns {Float32Array}
 */
function resampleInBlocks(src, x, blocks) {
  const r = new Resampler(src, 24000);
  /** @type {number[]} */
  const out = [];
  let i = 0;
  let b = 0;
  while (i < x.length) {
    const n = Math.min(blocks[b++ % blocks.length], x.length - i);
    out.push(...r.process(x.subarray(i, i + n)));
    i += n;
  }
  return Float32Array.from(out);
}

describe("floatToInt16 / int16ToFloat", () => {
  it("scales, rounds to nearest and clips", () => {
    const input = Float32Array.from([0, 1, -1, 1.5, -1.5, 0.5, -0.5, 1e-6, -1e-6, 0.25, NaN, Infinity, -Infinity]);
    const out = floatToInt16(input);
    assert.deepEqual(Array.from(out), [0, 32767, -32768, 32767, -32768, 16384, -16384, 0, 0, 8192, 0, 32767, -32768]);
  });

  it("rounds half-sample values to the nearest integer", () => {
    // 100.4 / 32767 -> 100, 100.6 / 32767 -> 101
    const out = floatToInt16(Float32Array.from([100.4 / 32767, 100.6 / 32767, -100.4 / 32768, -100.6 / 32768]));
    assert.deepEqual(Array.from(out), [100, 101, -100, -101]);
  });

  it("writes into a given array", () => {
    const dst = new Int16Array(4);
    const ret = floatToInt16(Float32Array.from([0.5, -0.5]), dst);
    assert.equal(ret, dst);
    assert.deepEqual(Array.from(dst), [16384, -16384, 0, 0]);
  });

  it("int16ToFloat maps the full range into [-1, 1]", () => {
    const f = int16ToFloat(Int16Array.from([-32768, 0, 32767, 16384]));
    assert.deepEqual(Array.from(f), [-1, 0, 1, Math.fround(16384 / 32767)]);
  });

  it("round-trips every Int16 value exactly", () => {
    const all = new Int16Array(65536);
    for (let i = 0; i < all.length; i++) all[i] = i - 32768;
    const back = floatToInt16(int16ToFloat(all));
    assert.deepEqual(back, all);
  });
});

describe("pcmBytes", () => {
  it("copies exactly the bytes a DataView covers, even at an odd offset", () => {
    const raw = new Uint8Array([9, 1, 0, 2, 0, 0xff, 0x7f, 9, 9]);
    const view = new DataView(raw.buffer, 1, 6);
    const pcm = new Int16Array(pcmBytes(view));
    assert.deepEqual(Array.from(pcm), [1, 2, 32767]);
  });

  it("drops a trailing odd byte", () => {
    const view = new DataView(new Uint8Array([1, 0, 7]).buffer);
    assert.equal(pcmBytes(view).byteLength, 2);
  });

  it("accepts an ArrayBuffer", () => {
    assert.deepEqual(Array.from(new Int16Array(pcmBytes(Int16Array.from([5, -5]).buffer))), [5, -5]);
  });
});

describe("Resampler", () => {
  it("has a unit-gain, symmetric kernel table", () => {
    const half = 28;
    const table = sincTable(0.225, half, 8);
    assert.equal(table.length, 9 * 2 * half);
    for (let p = 0; p <= 8; p++) {
      const row = table.subarray(p * 2 * half, (p + 1) * 2 * half);
      assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-5);
    }
    // Phase 0 peaks on the output position; phase 1/2 is symmetric around it.
    const p0 = Array.from(table.subarray(0, 2 * half));
    assert.equal(p0.indexOf(Math.max(...p0)), half - 1);
    const mid = table.subarray(4 * 2 * half, 5 * 2 * half);
    for (let k = 0; k < half; k++) assert.ok(Math.abs(mid[k] - mid[2 * half - 1 - k]) < 1e-6);
  });

  for (const [src, freq] of [
    [48000, 1000],
    [48000, 440],
    [44100, 1000],
    [44100, 3000],
    [96000, 2000],
    [16000, 1000],
    [24000, 1000],
  ]) {
    it(`${src} Hz -> 24 kHz keeps length, frequency and amplitude (${freq} Hz sine)`, () => {
      const x = sine(freq, src, src); // one second, amplitude 0.5
      const y = resampleInBlocks(src, x, [128]);
      // All but the look-ahead (half the kernel) comes out: 24000 samples per second.
      const held = src === 24000 ? 0 : new Resampler(src).half / (src / 24000);
      assert.ok(Math.abs(y.length - (24000 - held)) <= 2, `length ${y.length}, expected ${24000 - held}`);
      const skip = 200; // filter warm-up
      const f = estimateFrequency(y.subarray(skip), 24000);
      assert.ok(Math.abs(f - freq) < freq * 0.001, `frequency ${f}`);
      const a = rmsOf(y, skip, y.length - 10) * Math.SQRT2;
      assert.ok(Math.abs(a - 0.5) < 0.001, `amplitude ${a}`);
    });
  }

  it("gives the same output whatever the block sizes (state carries across blocks)", () => {
    for (const src of [48000, 44100, 16000]) {
      const x = sine(700, src, 20000, 0.8, 0.3);
      const whole = resampleInBlocks(src, x, [x.length]);
      const small = resampleInBlocks(src, x, [128]);
      const odd = resampleInBlocks(src, x, [1, 7, 128, 333, 2, 1000]);
      assert.equal(small.length, whole.length);
      assert.equal(odd.length, whole.length);
      let maxDiff = 0;
      for (let i = 0; i < whole.length; i++) {
        maxDiff = Math.max(maxDiff, Math.abs(whole[i] - small[i]), Math.abs(whole[i] - odd[i]));
      }
      assert.ok(maxDiff < 1e-6, `${src}: blocks differ by ${maxDiff}`);
    }
  });

  it("has no discontinuity at block boundaries", () => {
    const x = sine(1000, 44100, 44100, 0.5);
    const y = resampleInBlocks(44100, x, [128]);
    // A 1 kHz sine of amplitude 0.5 at 24 kHz changes by at most 2*pi*1000/24000*0.5 per sample.
    const bound = ((2 * Math.PI * 1000) / 24000) * 0.5 * 1.02;
    for (let i = 200; i < y.length; i++) {
      assert.ok(Math.abs(y[i] - y[i - 1]) <= bound, `jump ${Math.abs(y[i] - y[i - 1])} at ${i}`);
    }
  });

  it("suppresses what would alias when downsampling", () => {
    for (const [src, freq] of [
      [48000, 15000],
      [48000, 20000],
      [44100, 14000],
    ]) {
      const y = resampleInBlocks(src, sine(freq, src, src, 0.5), [128]);
      const a = rmsOf(y, 200) * Math.SQRT2;
      assert.ok(a < 0.005, `${freq} Hz at ${src} leaks amplitude ${a}`);
    }
  });

  it("rejects bad rates", () => {
    assert.throws(() => new Resampler(0, 24000), RangeError);
  });
});

describe("ChunkBuilder", () => {
  it("cuts fixed-size chunks, counts the samples after each, keeps the rest", () => {
    const b = new ChunkBuilder(4);
    assert.deepEqual(b.push(Float32Array.from([0.5, 0.5, 0.5])), []);
    const done = b.push(Float32Array.from([0.5, -0.5, -0.5, -0.5, -0.5, 0, 0]));
    assert.equal(done.length, 2);
    assert.deepEqual(Array.from(done[0].pcm), [16384, 16384, 16384, 16384]);
    assert.equal(done[0].after, 6);
    assert.deepEqual(Array.from(done[1].pcm), [-16384, -16384, -16384, -16384]);
    assert.equal(done[1].after, 2);
    assert.ok(Math.abs(done[0].rms - 0.5) < 1e-3);
    const rest = b.flush();
    assert.ok(rest);
    assert.deepEqual(Array.from(rest.pcm), [0, 0]);
    assert.equal(b.flush(), null);
  });

  it("gives each chunk its own buffer (safe to transfer)", () => {
    const b = new ChunkBuilder(2);
    const [c1, c2] = b.push(Float32Array.from([0.1, 0.2, 0.3, 0.4]));
    assert.notEqual(c1.pcm.buffer, c2.pcm.buffer);
    assert.equal(c1.pcm.buffer.byteLength, 4);
  });

  it("reset drops the partial chunk; setSize applies to the next chunk", () => {
    const b = new ChunkBuilder(4);
    b.push(Float32Array.from([0.1, 0.1]));
    b.reset();
    assert.equal(b.flush(), null);
    b.push(Float32Array.from([0.1, 0.1, 0.1]));
    b.setSize(2);
    const done = b.push(Float32Array.from([0.2, 0.2, 0.2]));
    assert.deepEqual(
      done.map((c) => c.pcm.length),
      [3, 2],
    );
    assert.equal(b.flush()?.pcm.length, 1);
  });

  it("msToSamples is at 24 kHz", () => {
    assert.equal(msToSamples(100), 2400);
    assert.equal(msToSamples(20), 480);
    assert.equal(msToSamples(-5), 0);
  });
});

/**
 * Render n blocks of `size` frames; returns the concatenated output and all events.
 * @param {PlaybackQueue} q
 * @param {number} n
 * @param {number} [size]
 */
function renderBlocks(q, n, size = 128) {
  /** @type {number[]} */
  const out = [];
  /** @type {any[]} */
  const events = [];
  const block = new Float32Array(size);
  for (let i = 0; i < n; i++) {
    events.push(...q.render(block));
    out.push(...block);
  }
  return { out, events };
}

/**
 * @param {number} n
 * @param {number} [value]
 */
const pcm = (n, value = 1000) => new Int16Array(n).fill(value);

describe("PlaybackQueue", () => {
  it("waits for the start threshold, then plays", () => {
    const q = new PlaybackQueue({ startSamples: 1440, pauseSamples: 2400 });
    q.push("a", 0, pcm(480));
    let r = renderBlocks(q, 2);
    assert.ok(r.out.every((v) => v === 0), "silent below the threshold");
    assert.equal(q.played.get("a"), 0);
    q.push("a", 1, pcm(480));
    q.push("a", 2, pcm(480)); // 1440 queued: start
    r = renderBlocks(q, 1);
    assert.equal(q.playing, true);
    assert.equal(r.out[0], Math.fround(1000 / 32767));
    assert.deepEqual(r.events, [{ type: "started", item_id: "a", seq: 0, t: 0 }]);
    assert.equal(q.played.get("a"), 128);
  });

  it("starts below the threshold once the stream has paused", () => {
    const q = new PlaybackQueue({ startSamples: 1440, pauseSamples: 2400 });
    q.push("a", 0, pcm(300));
    renderBlocks(q, 18); // 2304 samples of waiting: not yet
    assert.equal(q.played.get("a"), 0);
    renderBlocks(q, 1); // 2432 >= 2400: the short reply plays
    const r = renderBlocks(q, 3);
    assert.equal(q.played.get("a"), 300);
    assert.ok(r.events.some((e) => e.type === "ended" && e.item_id === "a" && e.samples === 300));
  });

  it("counts played samples exactly across chunks, items and partial quanta", () => {
    const q = new PlaybackQueue({ startSamples: 0 });
    q.push("a", 0, pcm(100, 1));
    q.push("a", 1, pcm(250, 2));
    q.push("b", 2, pcm(77, 3));
    const first = renderBlocks(q, 1); // 128: a0 (100) + 28 of a1
    assert.equal(q.played.get("a"), 128);
    assert.equal(first.out[99], Math.fround(1 / 32767));
    assert.equal(first.out[100], Math.fround(2 / 32767));
    const r = renderBlocks(q, 3); // 384 more: the rest of a (222), all of b (77), then silence
    assert.equal(q.played.get("a"), 350);
    assert.equal(q.played.get("b"), 77);
    const types = [...first.events, ...r.events].map((e) => `${e.type}:${e.item_id}:${e.seq ?? e.samples}`);
    assert.deepEqual(types, ["started:a:0", "started:a:1", "ended:a:350", "started:b:2", "ended:b:77"]);
    const all = [...first.out, ...r.out];
    assert.equal(all.filter((v) => v !== 0).length, 427, "every queued sample was played once");
    assert.equal(q.playing, false);
  });

  it("flush drops queued audio at once and reports the item that was playing", () => {
    const q = new PlaybackQueue({ startSamples: 0 });
    q.push("a", 0, pcm(1000));
    q.push("a", 1, pcm(1000));
    renderBlocks(q, 3); // 384 played
    const report = q.flush();
    assert.deepEqual(report, { item_id: "a", samples: 384 });
    const r = renderBlocks(q, 2);
    assert.ok(r.out.every((v) => v === 0), "nothing plays after the flush");
    assert.deepEqual(r.events, []);
    assert.equal(q.queued, 0);
    // Late chunks of the flushed item are ignored; a new item plays.
    assert.equal(q.push("a", 2, pcm(500)), false);
    assert.equal(q.push("b", 3, pcm(128)), true);
    renderBlocks(q, 1);
    assert.equal(q.played.get("b"), 128);
    assert.equal(q.played.get("a"), 384);
  });

  it("flush before playback started reports the queued item with 0", () => {
    const q = new PlaybackQueue({ startSamples: 10000 });
    q.push("x", 0, pcm(500));
    renderBlocks(q, 2);
    assert.deepEqual(q.flush(), { item_id: "x", samples: 0 });
  });

  it("flush after an item finished reports it whole; with nothing ever played, null", () => {
    const q = new PlaybackQueue({ startSamples: 0 });
    assert.deepEqual(q.flush(), { item_id: null, samples: 0 });
    q.push("a", 0, pcm(200));
    renderBlocks(q, 4);
    assert.deepEqual(q.flush(), { item_id: "a", samples: 200 });
  });

  it("re-buffers to the threshold after running dry", () => {
    const q = new PlaybackQueue({ startSamples: 256, pauseSamples: 100000 });
    q.push("a", 0, pcm(256));
    renderBlocks(q, 2);
    assert.equal(q.played.get("a"), 256);
    q.push("a", 1, pcm(128)); // below the threshold again
    renderBlocks(q, 2);
    assert.equal(q.played.get("a"), 256);
    q.push("a", 2, pcm(128));
    renderBlocks(q, 2);
    assert.equal(q.played.get("a"), 512);
  });

  it("keeps bounded per-item bookkeeping", () => {
    const q = new PlaybackQueue({ startSamples: 0, keepItems: 4 });
    for (let i = 0; i < 10; i++) {
      q.push(`i${i}`, i, pcm(10));
      renderBlocks(q, 1);
    }
    assert.ok(q.played.size <= 5);
    assert.equal(q.played.get("i9"), 10);
  });

  it("rms helper", () => {
    assert.equal(rms([]), 0);
    assert.ok(Math.abs(rms(sine(100, 8000, 8000, 1)) - Math.SQRT1_2) < 1e-3);
  });
});
