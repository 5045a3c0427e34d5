// The per-model state in Node (no DOM, no Web Audio): the message router, the debug hook, notices,
// exceptions, audio without Web Audio, the microphone's refusal and turn_mode. Views are in
// widget.test.js, rendering for real in the browser tests.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createWidget } from "../../rtwidget/widget/static/widget.js";
import { FakeModel, tick } from "./helpers.js";

/**
 * Initialize a model the way anywidget does; returns its cleanup, debug entry and state.
 * @param {FakeModel} model
 */
function init(model) {
  const cleanup = createWidget().initialize({ model });
  const models = /** @type {any} */ (globalThis).__rtwidget.models;
  const debug = models[models.length - 1];
  return { cleanup, debug, state: debug.record };
}

describe("the model state", () => {
  it("registers a debug record with the contract's stats", () => {
    const model = new FakeModel();
    const { cleanup, debug } = init(model);
    for (const key of ["playedSamples", "playStarts", "micChunks", "flushes", "frameTimes"]) {
      assert.ok(key in debug.stats, key);
    }
    assert.equal(debug.closed, false);
    assert.deepEqual(Object.keys(debug), ["model_id", "stats", "closed"], "the record itself is not enumerable");
    model.set("status", "connecting");
    cleanup();
  });

  it("routes batch rows, row updates and panel updates into the per-model state", () => {
    const model = new FakeModel();
    const { cleanup, state } = init(model);
    model.receive({
      kind: "batch",
      rows: [
        { id: 1, t: 0, dir: "client", type: "session.update", size: 10, count: 1, text: "", event_id: "e1" },
        { id: 2, t: 0.1, dir: "server", type: "response.output_text.delta", size: 5, count: 1, text: "He" },
      ],
      items: [{ id: "it1", type: "message", role: "assistant", text: "He" }],
      tools: [{ call_id: "c1", name: "f", status: "running" }],
      responses: [{ id: "r1", status: "in_progress", lane: "default", usage: null }],
    });
    model.receive({ kind: "batch", row_updates: [{ id: 2, count: 2, size: 10, text: "Hello" }] });
    assert.equal(state.rows.length, 2);
    assert.equal(state.rows.byId(2).text, "Hello");
    assert.equal(state.rows.byId(2).count, 2);
    assert.deepEqual(state.panels.items.order, ["it1"]);
    assert.equal(state.panels.tools.map.get("c1").status, "running");
    cleanup();
  });

  it("applies a snapshot only when it is addressed to one of its views", () => {
    const model = new FakeModel();
    const { cleanup, state } = init(model);
    model.receive({ kind: "batch", rows: [{ id: 1, t: 0, dir: "local", type: "x", size: 0, count: 1, text: "" }] });
    const snapshot = {
      kind: "snapshot",
      rows: [{ id: 50, t: 1, dir: "server", type: "y", size: 0, count: 1, text: "" }],
      rows_dropped: 49,
      items: [{ id: "a" }],
      tools: [],
      responses: [],
    };
    model.receive({ ...snapshot, view: "someone-else" });
    assert.equal(state.rows.at(0).id, 1, "ignored");
    let updates = 0;
    state.addView({ id: "v1", update: (/** @type {string} */ what) => (updates += what === "panels" ? 1 : 0) });
    model.receive({ ...snapshot, view: "v1" });
    assert.equal(state.rows.length, 1);
    assert.equal(state.rows.at(0).id, 50);
    assert.equal(state.rows.dropped, 49);
    assert.deepEqual(state.panels.items.order, ["a"]);
    assert.equal(updates, 1, "views are told to redraw");
    assert.equal(state.removeView("v1"), 0);
    cleanup();
  });

  it("shows notices, bounded", () => {
    const model = new FakeModel();
    const { cleanup, state } = init(model);
    for (let i = 0; i < 8; i++) model.receive({ kind: "notice", level: "warning", text: `n${i}` });
    assert.equal(state.notices.length, 5);
    assert.equal(state.notices[4].text, "n7");
    state.dismiss(state.notices[4].id);
    assert.equal(state.notices.length, 4);
    cleanup();
  });

  it("without Web Audio: audio does not crash, a flush still gets its final played report", async () => {
    const model = new FakeModel();
    const { cleanup, state, debug } = init(model);
    const pcm = new DataView(new Int16Array(480).buffer);
    model.receive({ kind: "audio", item_id: "item_1", response_id: "r", seq: 0, t: Date.now() }, [pcm]);
    await tick();
    assert.equal(debug.stats.audioChunks, 1);
    assert.ok(state.notices.some((/** @type {any} */ n) => /Audio output unavailable/.test(n.text)));
    model.receive({ kind: "flush", reason: "speech_started" });
    assert.equal(debug.stats.flushes, 1);
    assert.deepEqual(model.sentOf("played"), [{ kind: "played", item_id: "item_1", samples: 0, final: true }]);
    model.receive({ kind: "stop" });
    model.receive({ kind: "no-such-kind" });
    cleanup();
  });

  it("an audio message carries several chunks (one buffer each) and the panel batch that rode along", async () => {
    const model = new FakeModel();
    const { cleanup, state, debug } = init(model);
    const pcm = (/** @type {number} */ n) => new DataView(new Int16Array(n).buffer);
    const t = Date.now();
    const enqueued = /** @type {any[]} */ ([]);
    const enqueue = state.playback.enqueue.bind(state.playback);
    state.playback.enqueue = (/** @type {any} */ c, /** @type {any} */ b) => {
      enqueued.push([c.item_id, c.seq, b.byteLength]);
      enqueue(c, b);
    };
    const chunks = [
      { item_id: "item_1", response_id: "r", seq: 1, t },
      { item_id: "item_1", response_id: "r", seq: 2, t },
      { item_id: "item_1", response_id: "r", seq: 3, t },
    ];
    const batch = { rows: [{ id: 7, t: 0, dir: "server", type: "response.created", size: 9, count: 1, text: "" }] };
    model.receive({ kind: "audio", chunks, batch }, [pcm(480), pcm(960), pcm(240)]);
    await tick();
    assert.deepEqual(enqueued, [["item_1", 1, 960], ["item_1", 2, 1920], ["item_1", 3, 480]], "each chunk its own buffer, in order");
    assert.equal(debug.stats.audioChunks, 3);
    assert.equal(state.rows.byId(7).type, "response.created", "the batch that rode along is applied");
    model.receive({ kind: "audio", item_id: "item_2", response_id: "r", seq: 4, t }, [pcm(480)]);
    assert.deepEqual(enqueued.at(-1), ["item_2", 4, 960], "one chunk without `chunks` (the older form)");
    cleanup();
  });

  it("the mic reports why it cannot start, and nothing crashes", async () => {
    const model = new FakeModel();
    const { cleanup, state } = init(model);
    await state.capture.start();
    const [micState] = model.sentOf("mic_state");
    assert.equal(micState.on, false);
    assert.match(micState.error, /Microphone unavailable/);
    assert.match(micState.error, /Text still works/);
    assert.equal(state.capture.state, "off");
    assert.equal(state.notices.length, 1);
    cleanup();
  });

  it("keeps the kernel's exceptions, bounded; a snapshot replaces them, an older kernel's keeps them", () => {
    const model = new FakeModel();
    const { cleanup, state } = init(model);
    /** @type {string[]} */
    const updates = [];
    state.addView({ id: "v1", update: (/** @type {string} */ what) => updates.push(what) });
    const error = { source: "tool", name: "get_weather", error_type: "ValueError", message: "bad city", traceback: "Traceback..." };
    model.receive({ kind: "exception", error });
    assert.deepEqual(state.exceptions.items, [{ ...error, id: 1 }]);
    assert.ok(updates.includes("exceptions"));
    for (let i = 0; i < 30; i++) model.receive({ kind: "exception", error: { ...error, message: `m${i}` } });
    assert.equal(state.exceptions.items.length, 20);
    assert.equal(state.exceptions.items.at(-1).message, "m29");
    model.receive({ kind: "exception" }); // no error object: ignored
    assert.equal(state.exceptions.items.length, 20);
    state.dismissException(state.exceptions.items[0].id);
    assert.equal(state.exceptions.items.length, 19);
    const snapshot = { kind: "snapshot", view: "v1", rows: [], items: [], tools: [], responses: [] };
    model.receive(snapshot);
    assert.equal(state.exceptions.items.length, 19, "a snapshot without `exceptions` (older kernel) keeps them");
    model.receive({ ...snapshot, exceptions: [error, { ...error, name: "other" }] });
    assert.deepEqual(
      state.exceptions.items.map((/** @type {any} */ e) => e.name),
      ["get_weather", "other"],
    );
    state.removeView("v1");
    cleanup();
  });

  it("follows turn_mode, and the cleanup removes its listeners and marks the record closed", () => {
    const model = new FakeModel();
    const before = model.listenerCount();
    const { cleanup, state, debug } = init(model);
    assert.equal(state.capture.sender.pushToTalk, false);
    model.set("turn_mode", "push_to_talk");
    assert.equal(state.capture.sender.pushToTalk, true);
    cleanup();
    assert.equal(model.listenerCount(), before);
    assert.equal(debug.closed, true);
    model.receive({ kind: "notice", level: "info", text: "after close" });
    assert.equal(state.notices.length, 0);
  });
});
