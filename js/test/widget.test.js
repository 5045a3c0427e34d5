// widget.js in Node: no DOM and no Web Audio, so this covers the message router, the per-model
// record, the debug hook, mic error messages and push-to-talk ordering. Rendering is for the
// browser tests.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MicSender, micError } from "../../rtwidget/widget/static/audio.js";
import widget, { levelToFraction } from "../../rtwidget/widget/static/widget.js";

/** A stand-in for anywidget's model proxy (Backbone-style events). */
class FakeModel {
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
  save_changes() {}
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
    for (const cb of this.handlers.get(name) ?? []) cb(...args);
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

/** @param {FakeModel} model */
function init(model) {
  const cleanup = widget.initialize({ model });
  const models = /** @type {any} */ (globalThis).__rtwidget.models;
  const debug = models[models.length - 1];
  return { cleanup, debug, rec: debug.record };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

describe("initialize", () => {
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
    const { cleanup, rec } = init(model);
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
    assert.equal(rec.rows.length, 2);
    assert.equal(rec.rows.byId(2).text, "Hello");
    assert.equal(rec.rows.byId(2).count, 2);
    assert.deepEqual(rec.panels.items.order, ["it1"]);
    assert.equal(rec.panels.tools.map.get("c1").status, "running");
    cleanup();
  });

  it("applies a snapshot only when it is addressed to one of its views", () => {
    const model = new FakeModel();
    const { cleanup, rec } = init(model);
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
    assert.equal(rec.rows.at(0).id, 1, "ignored");
    let updates = 0;
    rec.views.set("v1", { id: "v1", update: (/** @type {string} */ what) => (updates += what === "panels" ? 1 : 0) });
    model.receive({ ...snapshot, view: "v1" });
    assert.equal(rec.rows.length, 1);
    assert.equal(rec.rows.at(0).id, 50);
    assert.equal(rec.rows.dropped, 49);
    assert.deepEqual(rec.panels.items.order, ["a"]);
    assert.equal(updates, 1, "views are told to redraw");
    rec.views.clear();
    cleanup();
  });

  it("shows notices, bounded", () => {
    const model = new FakeModel();
    const { cleanup, rec } = init(model);
    for (let i = 0; i < 8; i++) model.receive({ kind: "notice", level: "warning", text: `n${i}` });
    assert.equal(rec.notices.length, 5);
    assert.equal(rec.notices[4].text, "n7");
    rec.dismiss(rec.notices[4].id);
    assert.equal(rec.notices.length, 4);
    cleanup();
  });

  it("without Web Audio: audio does not crash, a flush still gets its final played report", async () => {
    const model = new FakeModel();
    const { cleanup, rec, debug } = init(model);
    const pcm = new DataView(new Int16Array(480).buffer);
    model.receive({ kind: "audio", item_id: "item_1", response_id: "r", seq: 0, t: Date.now() }, [pcm]);
    await tick();
    assert.equal(debug.stats.audioChunks, 1);
    assert.ok(rec.notices.some((/** @type {any} */ n) => /Audio output unavailable/.test(n.text)));
    model.receive({ kind: "flush", reason: "speech_started" });
    assert.equal(debug.stats.flushes, 1);
    assert.deepEqual(model.sentOf("played"), [{ kind: "played", item_id: "item_1", samples: 0, final: true }]);
    model.receive({ kind: "stop" });
    model.receive({ kind: "no-such-kind" });
    cleanup();
  });

  it("the mic reports why it cannot start, and nothing crashes", async () => {
    const model = new FakeModel();
    const { cleanup, rec } = init(model);
    await rec.capture.start();
    const [state] = model.sentOf("mic_state");
    assert.equal(state.on, false);
    assert.match(state.error, /Microphone unavailable/);
    assert.match(state.error, /Text still works/);
    assert.equal(rec.capture.state, "off");
    assert.equal(rec.notices.length, 1);
    cleanup();
  });

  it("follows turn_mode, and the cleanup removes its listeners and marks the record closed", () => {
    const model = new FakeModel();
    const before = model.listenerCount();
    const { cleanup, rec, debug } = init(model);
    assert.equal(rec.capture.sender.pushToTalk, false);
    model.set("turn_mode", "push_to_talk");
    assert.equal(rec.capture.sender.pushToTalk, true);
    cleanup();
    assert.equal(model.listenerCount(), before);
    assert.equal(debug.closed, true);
    model.receive({ kind: "notice", level: "info", text: "after close" });
    assert.equal(rec.notices.length, 0);
  });
});

describe("micError", () => {
  const env = { secure: true, hasMediaDevices: true, host: "example.org" };

  it("explains an insecure page", () => {
    const e = micError(null, { ...env, secure: false, host: "10.0.0.5" });
    assert.equal(e.name, "InsecureContext");
    assert.match(e.message, /plain http from 10\.0\.0\.5/);
    assert.match(e.message, /https or localhost/);
    assert.match(e.message, /Text still works/);
  });

  it("explains a browser without media devices", () => {
    assert.equal(micError(null, { ...env, hasMediaDevices: false }).name, "NoMediaDevices");
  });

  it("explains denied, missing and busy devices", () => {
    const denied = micError(Object.assign(new Error("x"), { name: "NotAllowedError" }), env);
    assert.match(denied.message, /permission was denied/);
    const missing = micError(Object.assign(new Error("x"), { name: "NotFoundError" }), env);
    assert.match(missing.message, /No microphone found/);
    const busy = micError(Object.assign(new Error("x"), { name: "NotReadableError" }), env);
    assert.match(busy.message, /could not be opened/);
    const other = micError(new TypeError("boom"), env);
    assert.match(other.message, /TypeError: boom/);
  });
});

describe("MicSender", () => {
  /** @returns {{sender: MicSender, out: any[]}} */
  function make() {
    /** @type {any[]} */
    const out = [];
    const stats = /** @type {any} */ ({ micChunks: 0 });
    const sender = new MicSender((content, buffers) => out.push({ ...content, bytes: buffers?.[0]?.byteLength }), stats);
    return { sender, out };
  }

  it("sends every chunk with increasing seq outside push-to-talk", () => {
    const { sender, out } = make();
    assert.equal(sender.chunk(new ArrayBuffer(4800), 1000.4), true);
    sender.chunk(new ArrayBuffer(4800), 1100);
    assert.deepEqual(out, [
      { kind: "mic", seq: 0, t: 1000, bytes: 4800 },
      { kind: "mic", seq: 1, t: 1100, bytes: 4800 },
    ]);
    assert.equal(sender.stats.micChunks, 2);
  });

  it("in push-to-talk sends only while held, and the partial chunk before the release", async () => {
    const { sender, out } = make();
    sender.pushToTalk = true;
    assert.equal(sender.chunk(new ArrayBuffer(4800), 1), false, "not held: dropped");
    sender.press();
    assert.equal(sender.press(), false, "already down");
    sender.chunk(new ArrayBuffer(4800), 2);
    await sender.release(async () => {
      // The worklet answers a flush with its partial chunk first.
      await tick();
      sender.chunk(new ArrayBuffer(1000), 3);
    });
    sender.chunk(new ArrayBuffer(4800), 4);
    assert.deepEqual(
      out.map((m) => (m.kind === "mic" ? `mic:${m.bytes}` : `ptt:${m.down}`)),
      ["ptt:true", "mic:4800", "mic:1000", "ptt:false"],
    );
    await sender.release(async () => {});
    assert.equal(out.length, 4, "a second release sends nothing");
  });
});

describe("levelToFraction", () => {
  it("maps -60..0 dBFS to 0..1", () => {
    assert.equal(levelToFraction(0), 0);
    assert.equal(levelToFraction(1), 1);
    assert.ok(Math.abs(levelToFraction(0.001)) < 1e-9);
    assert.ok(Math.abs(levelToFraction(0.0316) - 0.5) < 0.01);
    assert.equal(levelToFraction(NaN), 0);
  });
});
