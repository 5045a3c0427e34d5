// Both worklet files, loaded for real: the text rtwidget/widget/bundle.py ships (dsp.js + worklet, import-stripped)
// evaluated as a module in a vm context that fakes the AudioWorkletGlobalScope, then driven with
// 128-frame render quanta.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import { estimateFrequency, loadWorklet, rmsOf, sine, workletSource } from "./helpers.js";

/**
 * Feed a mono signal to a capture processor in 128-frame quanta.
 * @param {any} proc
 * @param {Float32Array} x
 * @param {number} [channels]
 */
function feed(proc, x, channels = 1) {
  for (let i = 0; i + 128 <= x.length; i += 128) {
    const block = x.slice(i, i + 128);
    /** @type {Float32Array[]} */
    const input = Array.from({ length: channels }, () => block);
    assert.equal(proc.process([input], [[new Float32Array(128)]], {}), true);
  }
}

/**
 * Render n quanta from a playback processor; returns the output samples.
 * @param {any} proc
 * @param {number} n
 * @returns {number[]}
 */
function pull(proc, n) {
  /** @type {number[]} */
  const out = [];
  for (let i = 0; i < n; i++) {
    const ch = new Float32Array(128);
    assert.equal(proc.process([], [[ch]], {}), true);
    out.push(...ch);
  }
  return out;
}

describe("worklet sources", () => {
  it("match what rtwidget/widget/bundle.py ships (when python3 is available)", (t) => {
    const bundlePath = fileURLToPath(new URL("../../rtwidget/widget/bundle.py", import.meta.url));
    const code = [
      "import importlib.util, json, sys",
      `spec = importlib.util.spec_from_file_location("rt_bundle", ${JSON.stringify(bundlePath)})`,
      "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)",
      'print(json.dumps({n: m.worklet_source(n) for n in ("capture", "playback")}))',
    ].join("\n");
    const py = spawnSync("python3", ["-c", code], { encoding: "utf8" });
    if (py.error || py.status !== 0) {
      t.skip(`python3 unavailable: ${py.error?.message ?? py.stderr}`);
      return;
    }
    const shipped = JSON.parse(py.stdout);
    assert.equal(shipped.capture, workletSource("capture"));
    assert.equal(shipped.playback, workletSource("playback"));
    assert.doesNotMatch(shipped.capture, /^import /m);
    assert.doesNotMatch(shipped.playback, /^import /m);
  });
});

describe("capture worklet", () => {
  for (const rate of [48000, 44100]) {
    it(`at ${rate} Hz posts 100 ms chunks of 24 kHz Int16 with level and time`, async () => {
      const w = await loadWorklet("capture", { sampleRate: rate });
      assert.equal(w.name, "rtwidget-capture");
      const proc = new w.Processor({ processorOptions: { chunkMs: 100 } });
      const before = Date.now();
      feed(proc, sine(1000, rate, rate, 0.5));
      const sent = proc.port.sent;
      const chunks = sent.filter((/** @type {any} */ s) => s.data.type === "chunk");
      assert.ok(chunks.length >= 9 && chunks.length <= 10, `${chunks.length} chunks`);
      /** @type {number[]} */
      const all = [];
      for (const { data, transfer } of chunks) {
        assert.equal(data.pcm.byteLength, 2400 * 2, "100 ms at 24 kHz, 16 bit");
        assert.equal(transfer?.length, 1);
        assert.equal(transfer[0].byteLength, 0, "the buffer was transferred (detached on the worklet side)");
        assert.equal(data.partial, false);
        assert.ok(Math.abs(data.rms - 0.5 / Math.SQRT2) < 0.01, `rms ${data.rms}`);
        assert.ok(data.t >= before - 1000 && data.t <= Date.now() + 1);
        all.push(...new Int16Array(data.pcm));
      }
      const f = estimateFrequency(all.slice(100), 24000);
      assert.ok(Math.abs(f - 1000) < 1, `frequency ${f}`);
      assert.ok(Math.abs((rmsOf(all, 100) / 32768) * Math.SQRT2 - 0.5) < 0.002);
    });
  }

  it("downmixes several channels, follows a chunk-size change, flushes the partial chunk in order", async () => {
    const w = await loadWorklet("capture", { sampleRate: 48000 });
    const proc = new w.Processor({ processorOptions: { chunkMs: 100 } });
    proc.port.deliver({ type: "config", chunkMs: 20 });
    feed(proc, sine(500, 48000, 48000 / 10, 0.25), 2); // 100 ms of stereo
    let msgs = proc.port.take();
    assert.ok(msgs.length >= 4);
    for (const m of msgs) assert.equal(new Int16Array(m.pcm).length, 480, "20 ms chunks");
    assert.ok(Math.abs(msgs[1].rms - 0.25 / Math.SQRT2) < 0.01, "stereo copies average to the same level");
    feed(proc, sine(500, 48000, 128 * 3, 0.25));
    proc.port.deliver({ type: "flush", id: 7 });
    msgs = proc.port.take();
    const last = msgs[msgs.length - 1];
    assert.deepEqual(last, { type: "flushed", id: 7 });
    const partial = msgs[msgs.length - 2];
    assert.equal(partial.type, "chunk");
    assert.equal(partial.partial, true);
    assert.ok(new Int16Array(partial.pcm).length < 480);
    proc.port.deliver({ type: "flush", id: 8 });
    assert.deepEqual(proc.port.take(), [{ type: "flushed", id: 8 }], "nothing left to flush");
  });

  it("reset drops the partial chunk; no input keeps the node alive", async () => {
    const w = await loadWorklet("capture", { sampleRate: 24000 });
    const proc = new w.Processor({ processorOptions: { chunkMs: 100 } });
    feed(proc, sine(500, 24000, 1280));
    proc.port.deliver({ type: "reset" });
    proc.port.deliver({ type: "flush", id: 1 });
    assert.deepEqual(proc.port.take(), [{ type: "flushed", id: 1 }]);
    assert.equal(proc.process([[]], [[new Float32Array(128)]], {}), true);
    assert.equal(proc.process([], [], {}), true);
  });
});

describe("playback worklet", () => {
  /**
   * @param {any} proc
   * @param {string} item
   * @param {number} seq
   * @param {number} n
   * @param {number} [value]
   */
  const chunk = (proc, item, seq, n, value = 1000) =>
    proc.port.deliver({ type: "chunk", item_id: item, seq, t: 1000 + seq, pcm: new Int16Array(n).fill(value).buffer });

  it("waits for the start threshold, plays in order, reports start, progress and end", async () => {
    const w = await loadWorklet("playback", { sampleRate: 24000 });
    assert.equal(w.name, "rtwidget-playback");
    const proc = new w.Processor({ processorOptions: { startMs: 60 } }); // 1440 samples
    chunk(proc, "a", 0, 1200);
    let out = pull(proc, 4);
    assert.ok(out.every((v) => v === 0), "below the threshold: silence");
    chunk(proc, "a", 1, 1200);
    chunk(proc, "a", 2, 2400, -2000);
    out = pull(proc, 50); // 6400 samples: all 4800 queued, then silence
    assert.equal(out.filter((v) => v !== 0).length, 4800);
    assert.equal(out[0], Math.fround(1000 / 32767));
    assert.equal(out[2400], Math.fround(-2000 / 32768));
    const msgs = proc.port.take();
    const started = msgs.filter((/** @type {any} */ m) => m.type === "started");
    assert.deepEqual(
      started.map((/** @type {any} */ m) => [m.item_id, m.seq, m.t]),
      [
        ["a", 0, 1000],
        ["a", 1, 1001],
        ["a", 2, 1002],
      ],
    );
    const progress = msgs.filter((/** @type {any} */ m) => m.type === "progress");
    assert.ok(progress.length >= 2, "progress every 100 ms");
    assert.ok(progress[0].rms > 0.02);
    for (let i = 1; i < progress.length; i++) assert.ok(progress[i].samples >= progress[i - 1].samples);
    const ended = msgs.filter((/** @type {any} */ m) => m.type === "ended");
    assert.deepEqual(ended, [{ type: "ended", item_id: "a", samples: 4800 }]);
    assert.deepEqual(msgs[msgs.length - 1], { type: "level", rms: 0 }, "the meter drops when output stops");
  });

  it("a flush overtakes queued audio before the next quantum and reports the played count", async () => {
    const w = await loadWorklet("playback", { sampleRate: 24000 });
    const proc = new w.Processor({ processorOptions: { startMs: 0 } });
    for (let i = 0; i < 10; i++) chunk(proc, "a", i, 2400);
    pull(proc, 7); // 896 samples played
    proc.port.take();
    proc.port.deliver({ type: "flush", id: 3, report: true });
    const [flushed] = proc.port.take();
    assert.deepEqual(flushed, { type: "flushed", id: 3, report: true, item_id: "a", samples: 896 });
    const out = pull(proc, 3);
    assert.ok(out.every((v) => v === 0), "nothing queued survives the flush");
    chunk(proc, "a", 10, 2400); // late audio of the flushed item
    chunk(proc, "b", 0, 128);
    pull(proc, 2);
    const msgs = proc.port.take();
    assert.ok(msgs.some((/** @type {any} */ m) => m.type === "started" && m.item_id === "b"));
    assert.ok(!msgs.some((/** @type {any} */ m) => m.type === "started" && m.item_id === "a"));
  });

  it("accounts played samples exactly across items and partial quanta", async () => {
    const w = await loadWorklet("playback", { sampleRate: 24000 });
    const proc = new w.Processor({ processorOptions: { startMs: 0 } });
    chunk(proc, "a", 0, 1000);
    chunk(proc, "a", 1, 333);
    chunk(proc, "b", 2, 777);
    pull(proc, 20);
    const ended = proc.port.take().filter((/** @type {any} */ m) => m.type === "ended");
    assert.deepEqual(
      ended.map((/** @type {any} */ m) => [m.item_id, m.samples]),
      [
        ["a", 1333],
        ["b", 777],
      ],
    );
    proc.port.deliver({ type: "flush", id: 1, report: false });
    assert.deepEqual(proc.port.take(), [{ type: "flushed", id: 1, report: false, item_id: "b", samples: 777 }]);
  });

  it("applies a new start threshold", async () => {
    const w = await loadWorklet("playback", { sampleRate: 24000 });
    const proc = new w.Processor({ processorOptions: { startMs: 1000 } });
    proc.port.deliver({ type: "config", startMs: 10 });
    chunk(proc, "a", 0, 480);
    const out = pull(proc, 1);
    assert.ok(out[0] !== 0);
  });
});
