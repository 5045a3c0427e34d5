// The event log's data and helpers: the bounded row store, filtered views, the virtual list's
// visible range and the formatting of rows.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { pushBounded } from "../../rtwidget/widget/static/debug.js";
import { dirArrow, formatBytes, formatClock, formatRelTime } from "../../rtwidget/widget/static/format.js";
import { visibleRange } from "../../rtwidget/widget/static/logview.js";
import { FilterView, RowStore } from "../../rtwidget/widget/static/rows.js";

/**
 * @param {number} id
 * @param {Partial<import("../../rtwidget/widget/static/rows.js").Row>} [extra]
 * @returns {import("../../rtwidget/widget/static/rows.js").Row}
 */
function row(id, extra = {}) {
  return {
    id,
    t: id / 10,
    dir: id % 2 ? "server" : "client",
    type: id % 2 ? "response.output_audio.delta" : "input_audio_buffer.append",
    size: 100,
    count: 1,
    text: "",
    ...extra,
  };
}

/**
 * @param {number} from
 * @param {number} n
 */
const rows = (from, n) => Array.from({ length: n }, (_, i) => row(from + i));

describe("RowStore", () => {
  it("keeps at most `limit` rows and counts the dropped ones", () => {
    const s = new RowStore(5);
    s.append(rows(0, 3));
    assert.equal(s.length, 3);
    assert.equal(s.dropped, 0);
    s.append(rows(3, 4));
    assert.equal(s.length, 5);
    assert.equal(s.dropped, 2);
    assert.equal(s.at(0)?.id, 2);
    assert.equal(s.at(4)?.id, 6);
    assert.equal(s.firstSeq, 2);
    assert.equal(s.byId(1), undefined, "dropped rows are forgotten");
    assert.equal(s.byId(6)?.id, 6);
  });

  it("stays bounded and consistent over many appends (compaction)", () => {
    const s = new RowStore(100);
    for (let i = 0; i < 5000; i++) s.append(rows(i * 7, 7));
    assert.equal(s.length, 100);
    assert.equal(s.dropped, 35000 - 100);
    assert.equal(s.at(0)?.id, 34900);
    assert.equal(s.at(99)?.id, 34999);
    assert.ok(s.buf.length < 2500, "the backing array is compacted");
    assert.equal(s.idToSeq.size, 100);
  });

  it("a row it already keeps is updated, not appended twice (snapshot, then the batch pending then)", () => {
    const s = new RowStore(10);
    s.reset(rows(1, 4));
    s.append([row(3, { count: 2 }), row(4), row(5)]);
    assert.deepEqual(
      Array.from({ length: s.length }, (_, i) => s.at(i)?.id),
      [1, 2, 3, 4, 5],
    );
    assert.equal(s.byId(3)?.count, 2);
  });

  it("merges updates by id (count, size, text, data replaced)", () => {
    const s = new RowStore(10);
    s.append([row(1, { type: "response.output_text.delta", text: "Hel", count: 1, size: 50 })]);
    const v = s.version;
    assert.equal(s.update([{ id: 1, count: 3, size: 150, text: "Hello", data: { delta: "lo" } }]), 1);
    assert.deepEqual(s.byId(1), {
      ...row(1),
      type: "response.output_text.delta",
      text: "Hello",
      count: 3,
      size: 150,
      data: { delta: "lo" },
    });
    assert.ok(s.version > v);
    assert.equal(s.update([{ id: 99, count: 2 }]), 0, "unknown rows are ignored");
  });

  it("finds a client event by event_id, and forgets it when dropped", () => {
    const s = new RowStore(3);
    s.append([row(0, { event_id: "evt_1" }), row(1), row(2, { type: "error", cause_id: "evt_1" })]);
    const seq = s.eventToSeq.get("evt_1");
    assert.equal(seq === undefined ? undefined : s.bySeq(seq)?.id, 0);
    s.append([row(3)]);
    assert.equal(s.eventToSeq.has("evt_1"), false);
  });

  it("reset replaces everything with a snapshot", () => {
    const s = new RowStore(10);
    s.append(rows(0, 8));
    const epoch = s.epoch;
    s.reset(rows(100, 3), 42);
    assert.equal(s.length, 3);
    assert.equal(s.dropped, 42);
    assert.equal(s.at(0)?.id, 100);
    assert.equal(s.byId(0), undefined);
    assert.ok(s.epoch > epoch);
  });

  it("setLimit trims at once", () => {
    const s = new RowStore(10);
    s.append(rows(0, 10));
    s.setLimit(4);
    assert.equal(s.length, 4);
    assert.equal(s.dropped, 6);
  });
});

describe("FilterView", () => {
  it("without a filter is the store itself", () => {
    const s = new RowStore(10);
    const v = new FilterView(s);
    s.append(rows(0, 4));
    v.sync();
    assert.equal(v.length, 4);
    assert.equal(v.at(2)?.id, 2);
    assert.equal(v.indexOfSeq(3), 3);
    assert.equal(v.indexOfSeq(9), -1);
  });

  it("filters by type substring (case-insensitive) and direction, incrementally", () => {
    const s = new RowStore(100);
    const v = new FilterView(s);
    v.setFilter("  AUDIO_BUFFER ", "");
    s.append(rows(0, 10));
    v.sync();
    assert.deepEqual(
      Array.from({ length: v.length }, (_, i) => v.at(i)?.id),
      [0, 2, 4, 6, 8],
    );
    s.append(rows(10, 4));
    v.sync();
    assert.equal(v.length, 7);
    v.setFilter("", "server");
    v.sync();
    assert.equal(v.length, 7);
    assert.ok(Array.from({ length: v.length }, (_, i) => v.at(i)?.dir).every((d) => d === "server"));
    v.setFilter("delta", "client");
    v.sync();
    assert.equal(v.length, 0);
  });

  it("drops rows the store dropped, and says how many (for scroll anchoring)", () => {
    const s = new RowStore(6);
    const v = new FilterView(s);
    v.setFilter("", "client");
    s.append(rows(0, 6)); // client: 0, 2, 4
    v.sync();
    assert.equal(v.length, 3);
    s.append(rows(6, 4)); // drops 0..3; client kept: 4, 6, 8
    assert.equal(v.sync(), 2);
    assert.deepEqual(
      Array.from({ length: v.length }, (_, i) => v.at(i)?.id),
      [4, 6, 8],
    );
    assert.equal(v.indexOfSeq(6), 1);
    assert.equal(v.indexOfSeq(5), -1);
    // Unfiltered views report trimming too.
    const all = new FilterView(s);
    all.sync();
    s.append(rows(10, 3));
    assert.equal(all.sync(), 3);
  });

  it("rescans after a store reset", () => {
    const s = new RowStore(10);
    const v = new FilterView(s);
    v.setFilter("", "server");
    s.append(rows(0, 4));
    v.sync();
    s.reset([row(21), row(23), row(24)]);
    v.sync();
    assert.deepEqual(
      Array.from({ length: v.length }, (_, i) => v.at(i)?.id),
      [21, 23],
    );
  });

  it("keeps up with 100k rows then 1000 rows/s in well under a frame", () => {
    const s = new RowStore(5000);
    const all = new FilterView(s);
    const filtered = new FilterView(s);
    filtered.setFilter("delta", "");
    let id = 0;
    for (let i = 0; i < 2000; i++) {
      s.append(rows(id, 50));
      id += 50;
    }
    all.sync();
    filtered.sync();
    /** @type {number[]} */
    const times = [];
    for (let frame = 0; frame < 300; frame++) {
      const t0 = performance.now();
      s.append(rows(id, 17)); // ~1000 rows/s at 60 frames/s
      id += 17;
      s.update([{ id: id - 1, count: 2, text: "merged" }]);
      all.sync();
      filtered.sync();
      for (let i = 0; i < 40; i++) filtered.at(filtered.length - 1 - i); // a screenful
      times.push(performance.now() - t0);
    }
    assert.equal(s.length, 5000);
    times.sort((a, b) => a - b);
    // The per-frame store work is tiny; p95 (not the max) so a GC pause or a busy machine does not flake.
    const p95 = times[Math.floor(times.length * 0.95)];
    assert.ok(p95 < 5, `store frame p95 ${p95.toFixed(2)} ms, max ${times[times.length - 1].toFixed(2)} ms`);
  });
});

describe("formatting", () => {
  it("visibleRange covers the viewport plus overscan, clamped", () => {
    assert.deepEqual(visibleRange(0, 100, 20, 1000, 2), { start: 0, end: 8 });
    assert.deepEqual(visibleRange(2000, 100, 20, 1000, 2), { start: 98, end: 108 });
    assert.deepEqual(visibleRange(19990, 100, 20, 1000, 2), { start: 997, end: 1000 });
    assert.deepEqual(visibleRange(0, 100, 20, 0), { start: 0, end: 0 });
  });

  it("dirArrow", () => {
    assert.equal(dirArrow("client"), "\u2192");
    assert.equal(dirArrow("server"), "\u2190");
    assert.equal(dirArrow("local"), "\u00b7");
  });

  it("formatBytes", () => {
    assert.equal(formatBytes(0), "0 B");
    assert.equal(formatBytes(999), "999 B");
    assert.equal(formatBytes(1500), "1.5 kB");
    assert.equal(formatBytes(2_345_678), "2.3 MB");
    assert.equal(formatBytes(-1), "");
  });

  it("formatRelTime", () => {
    assert.equal(formatRelTime(0), "0.000");
    assert.equal(formatRelTime(1.2345), "1.235");
    assert.equal(formatRelTime(59.9994), "59.999");
    assert.equal(formatRelTime(64.5), "1:04.500");
    assert.equal(formatRelTime(3723.25), "1:02:03.250");
    assert.equal(formatRelTime(-0.5), "-0.500");
    assert.equal(formatRelTime(NaN), "");
  });

  it("formatClock", () => {
    assert.equal(formatClock(5.9), "0:05");
    assert.equal(formatClock(754), "12:34");
    assert.equal(formatClock(3723), "1:02:03");
    assert.equal(formatClock(-3), "0:00");
    assert.equal(formatClock(NaN), "0:00");
  });

  it("pushBounded keeps the newest values", () => {
    /** @type {number[]} */
    const list = [];
    for (let i = 0; i < 2000; i++) pushBounded(list, i, 100);
    assert.ok(list.length <= 110 && list.length >= 100);
    assert.equal(list[list.length - 1], 1999);
  });
});
