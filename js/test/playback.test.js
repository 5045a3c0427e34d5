// The playback controller and its playhead, driven by the real playback worklet (dsp.js + worklet,
// as shipped) through a fake port: the played position the kernel truncates to on barge-in comes
// from the worklet's reports, never from the debug stats.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { newStats } from "../../rtwidget/widget/static/debug.js";
import { Playback, Playhead } from "../../rtwidget/widget/static/playback.js";
import { FakeModel, loadWorklet } from "./helpers.js";

/**
 * A Playback whose worklet node is the real playback processor, connected by fake ports.
 * @param {{startMs?: number, answerFlush?: boolean}} [opts] answerFlush: false drops flushes (a stuck context)
 */
async function rig(opts = {}) {
  const w = await loadWorklet("playback", { sampleRate: 24000 });
  const proc = new w.Processor({ processorOptions: { startMs: opts.startMs ?? 0 } });
  /** @type {any[]} */
  const sent = [];
  const stats = newStats();
  const owner = {
    model: /** @type {any} */ (new FakeModel()),
    stats,
    send: (/** @type {any} */ content) => sent.push(content),
    emit() {},
    notice() {},
    heard: () => true,
  };
  const playback = new Playback(owner);
  const port = {
    postMessage(/** @type {any} */ msg, /** @type {any[] | undefined} */ transfer) {
      if (msg.type === "flush" && opts.answerFlush === false) return;
      proc.port.deliver(structuredClone(msg, transfer ? { transfer } : undefined));
    },
  };
  // As if create() had run: the context exists and the worklet is loaded.
  playback.ready = Promise.resolve();
  playback.node = /** @type {any} */ ({ port, disconnect() {} });
  const pump = () => {
    for (const m of proc.port.take()) playback.onWorklet(m);
  };
  /** @param {number} quanta render this many 128-frame quanta, then hand the reports to the controller */
  const render = (quanta) => {
    for (let i = 0; i < quanta; i++) proc.process([], [[new Float32Array(128)]], {});
    pump();
  };
  /**
   * @param {string} item
   * @param {number} seq
   * @param {number} samples
   */
  const audio = (item, seq, samples) =>
    playback.enqueue({ item_id: item, seq, t: Date.now() }, new DataView(new Int16Array(samples).fill(2000).buffer));
  const played = () => sent.filter((m) => m.kind === "played");
  return { playback, stats, render, pump, audio, played };
}

describe("Playhead", () => {
  it("follows started and played reports, mirrors counts into the stats", () => {
    /** @type {Record<string, number>} */
    const mirror = {};
    const p = new Playhead(mirror);
    assert.deepEqual(p.position(), { item_id: null, samples: 0 });
    p.started("a");
    assert.deepEqual(p.position(), { item_id: "a", samples: 0 });
    p.heard("a", 2400);
    p.heard("a", 4800);
    p.started("b");
    assert.deepEqual(p.position(), { item_id: "b", samples: 0 });
    p.heard("b", 100);
    assert.deepEqual(p.position(), { item_id: "b", samples: 100 });
    assert.equal(p.samplesOf("a"), 4800);
    assert.equal(p.samplesOf("zzz"), 0);
    assert.equal(p.samplesOf(null), 0);
    assert.deepEqual(mirror, { a: 4800, b: 100 });
    p.skipped("c");
    assert.deepEqual(p.position(), { item_id: "c", samples: 0 });
  });

  it("remembers a bounded number of items, newest kept", () => {
    const p = new Playhead();
    for (let i = 0; i < 300; i++) p.heard(`i${i}`, i);
    assert.ok(p.played.size <= 256);
    assert.equal(p.samplesOf("i299"), 299);
    assert.equal(p.samplesOf("i0"), 0, "the oldest were forgotten");
  });
});

describe("Playback with the playback worklet", () => {
  it("reports played samples from the worklet, and the final report on a kernel flush", async () => {
    const r = await rig();
    for (let k = 0; k < 10; k++) r.audio("a", k, 2400);
    r.render(25); // 3200 samples rendered; progress reported after 2432
    assert.deepEqual(r.played(), [{ kind: "played", item_id: "a", samples: 2432, final: false }]);
    assert.deepEqual(r.playback.playhead.position(), { item_id: "a", samples: 2432 });
    assert.equal(r.stats.playedSamples.a, 2432, "the stats mirror the playhead");
    assert.equal(r.stats.playStarts.length, 2, "one start per chunk begun");
    r.playback.flush(true);
    r.pump();
    assert.deepEqual(r.played().at(-1), { kind: "played", item_id: "a", samples: 3200, final: true });
    assert.deepEqual(r.playback.playhead.position(), { item_id: "a", samples: 3200 });
    r.render(10);
    assert.equal(r.played().length, 2, "nothing plays after the flush");
    r.audio("a", 10, 2400); // late audio of the flushed item
    r.render(30);
    assert.equal(r.playback.playhead.samplesOf("a"), 3200);
    r.playback.teardown();
  });

  it("with the mic sending, progress reports ride with its chunks; the final report still leaves at once", async () => {
    const r = await rig();
    r.playback.canRide = () => true;
    for (let k = 0; k < 10; k++) r.audio("a", k, 2400);
    r.render(25); // progress after 2432 samples
    assert.deepEqual(r.played(), [], "no message of its own while the mic sends");
    assert.deepEqual(r.playback.takeRiding(), { item_id: "a", samples: 2432 });
    assert.equal(r.playback.takeRiding(), null, "taken once");
    r.render(19); // progress after 4864 samples: the newest report replaces an untaken one
    r.render(19);
    assert.deepEqual(r.playback.riding, { item_id: "a", samples: 7296 });
    r.playback.flush(true);
    r.pump();
    assert.deepEqual(r.played(), [{ kind: "played", item_id: "a", samples: r.playback.playhead.samplesOf("a"), final: true }]);
    assert.equal(r.playback.riding, null, "the final report supersedes the riding one");
    r.playback.teardown();
  });

  it("without the worklet's answer the final report is the playhead's, not the debug stats'", async (t) => {
    t.mock.timers.enable({ apis: ["setTimeout"] });
    const r = await rig({ answerFlush: false });
    for (let k = 0; k < 4; k++) r.audio("b", k, 2400);
    r.render(20); // 2560 rendered, 2432 reported
    r.stats.playedSamples.b = 999999; // debug figures are not the source of truth
    r.playback.flush(true);
    assert.equal(r.played().filter((m) => m.final).length, 0, "waits for the worklet first");
    t.mock.timers.tick(500);
    assert.deepEqual(r.played().at(-1), { kind: "played", item_id: "b", samples: 2432, final: true });
    r.playback.teardown();
  });

  it("an item's end is reported with its exact count; a local interrupt sends no final report", async () => {
    const r = await rig();
    r.audio("a", 0, 1000);
    r.audio("b", 1, 777);
    r.render(20);
    const reports = r.played().map((m) => [m.item_id, m.samples, m.final]);
    assert.deepEqual(reports.at(-1), ["b", 777, false]);
    assert.ok(reports.some(([item, samples]) => item === "a" && samples === 1000));
    const before = r.played().length;
    r.playback.flush(false);
    r.pump();
    assert.equal(r.played().length, before);
    r.playback.teardown();
  });

  it("before the worklet is loaded, a flush names the first queued item with 0 samples", async () => {
    const r = await rig();
    r.playback.node = null; // still loading: chunks wait in `pending`
    r.audio("c", 0, 480);
    r.audio("d", 1, 480);
    r.playback.flush(true);
    assert.deepEqual(r.played(), [{ kind: "played", item_id: "c", samples: 0, final: true }]);
    r.audio("c", 2, 480);
    assert.equal(r.playback.pending.length, 0, "late audio of a flushed item is dropped");
    r.playback.teardown();
  });
});
