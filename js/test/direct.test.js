// The direct channel's page side: the frame format (read back here as the kernel reads it, see
// rtwidget/widget/direct.py), when the page tries the socket, and the comm as the path whenever
// the socket is not open, and the order of the page's messages across the switch and back.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { ACK_MS, DirectLink, MAX_HELD, encodeFrame } from "../../rtwidget/widget/static/direct.js";
import { createWidget } from "../../rtwidget/widget/static/widget.js";
import { FakeModel } from "./helpers.js";

/** @param {ArrayBuffer} frame */
function decode(frame) {
  const view = new DataView(frame);
  const n = view.getUint32(0, true);
  const content = JSON.parse(new TextDecoder().decode(new Uint8Array(frame, 4, n)));
  let at = 4 + n;
  const buffers = content.buffers.map((/** @type {number} */ len) => {
    const b = new Uint8Array(frame, at, len);
    at += len;
    return Array.from(b);
  });
  delete content.buffers;
  return { content, buffers, rest: frame.byteLength - at };
}

class FakeSocket {
  /** @type {FakeSocket[]} */
  static made = [];
  /** @param {string} url */
  constructor(url) {
    this.url = url;
    this.readyState = 0;
    /** @type {ArrayBuffer[]} */
    this.frames = [];
    /** @type {Record<string, ((e?: any) => void)[]>} */
    this.listeners = {};
    FakeSocket.made.push(this);
  }
  /** @param {any} data a frame from the server */
  deliver(data) {
    for (const fn of this.listeners.message ?? []) fn({ data });
  }
  /** @param {string} type @param {(e?: any) => void} fn */
  addEventListener(type, fn) {
    (this.listeners[type] ??= []).push(fn);
  }
  /** @param {ArrayBuffer} frame */
  send(frame) {
    this.frames.push(frame);
  }
  close() {
    this.readyState = 3;
    for (const fn of this.listeners.close ?? []) fn();
  }
}

describe("the direct channel", () => {
  /** @type {any} */
  let saved;
  beforeEach(() => {
    saved = /** @type {any} */ (globalThis).WebSocket;
    /** @type {any} */ (globalThis).WebSocket = FakeSocket;
    FakeSocket.made = [];
  });
  afterEach(() => {
    /** @type {any} */ (globalThis).WebSocket = saved;
  });

  it("frames a message: length, JSON with the buffer lengths, then the bytes", () => {
    const pcm = new Int16Array([1, -1, 300]);
    const frame = encodeFrame({ kind: "mic", seq: 3, t: 5 }, [pcm.buffer, new DataView(new ArrayBuffer(2))]);
    const { content, buffers, rest } = decode(frame);
    assert.deepEqual(content, { kind: "mic", seq: 3, t: 5 });
    assert.deepEqual(buffers, [Array.from(new Uint8Array(pcm.buffer)), [0, 0]]);
    assert.equal(rest, 0);
  });

  it("is tried only from a page served by this machine, and only for a kernel-local URL", () => {
    assert.equal(new DirectLink(() => {}, { hostname: "hub.example.org" }).possible(), false);
    const remote = new DirectLink(() => {}, { hostname: "hub.example.org" });
    remote.connect("ws://127.0.0.1:4000/t");
    assert.equal(FakeSocket.made.length, 0);
    const link = new DirectLink(() => {}, { hostname: "localhost" });
    assert.equal(link.possible(), true);
    link.connect("ws://evil.example:80/t");
    link.connect(42);
    assert.equal(FakeSocket.made.length, 0);
    link.connect("ws://127.0.0.1:4000/t");
    link.connect("ws://127.0.0.1:4000/t"); // the same offer again (a second view): one socket
    assert.equal(FakeSocket.made.length, 1);
  });

  it("carries the model's messages once the kernel confirmed the switch, the comm otherwise", () => {
    const { model, state, cleanup } = localWidget();
    state.send({ kind: "hello", view: "v1" });
    assert.deepEqual(model.sentOf("hello"), [{ kind: "hello", view: "v1", direct: true }]);
    model.receive({ kind: "direct", url: "ws://127.0.0.1:4000/tok" });
    const ws = FakeSocket.made[0];
    assert.equal(ws.url, "ws://127.0.0.1:4000/tok");
    state.send({ kind: "mic", seq: 0, t: 1 }, [new ArrayBuffer(8)]); // not open yet: the comm
    ws.readyState = 1;
    state.send({ kind: "mic", seq: 1, t: 2 }, [new ArrayBuffer(8)]); // open, but the kernel has not greeted
    ws.deliver("rtwidget-direct someone-else");
    state.send({ kind: "mic", seq: 2, t: 2 }, [new ArrayBuffer(8)]); // a greeting without the token: not it
    assert.deepEqual(seqs(model.sentOf("mic")), [0, 1, 2]);
    assert.equal(model.sentOf("direct_ready").length, 0);
    ws.deliver("rtwidget-direct tok");
    const [marker] = model.sentOf("direct_ready"); // after everything the comm carried
    assert.equal(model.sent.at(-1)?.content, marker);
    assert.ok(typeof marker.n === "string" && marker.n.length > 0);
    state.send({ kind: "mic", seq: 3, t: 2 }, [new ArrayBuffer(8)]); // held: neither path yet
    state.send({ kind: "ptt", down: false });
    assert.equal(model.sentOf("mic").length, 3);
    assert.equal(ws.frames.length, 0);
    model.receive({ kind: "direct_ready", n: "another page's" }); // every page hears every answer
    assert.equal(ws.frames.length, 0);
    model.receive({ kind: "direct_ready", n: marker.n });
    state.send({ kind: "mic", seq: 4, t: 3 }, [new ArrayBuffer(8)]);
    state.send({ kind: "hello", view: "v2" }); // a hello too: one order
    assert.deepEqual(
      ws.frames.map((f) => decode(f).content),
      [
        { kind: "mic", seq: 3, t: 2 },
        { kind: "ptt", down: false },
        { kind: "mic", seq: 4, t: 3 },
        { kind: "hello", view: "v2", direct: true },
      ],
    );
    assert.equal(model.sentOf("mic").length, 3);
    ws.close(); // the kernel went away: back to the comm
    state.send({ kind: "mic", seq: 5, t: 3 }, [new ArrayBuffer(8)]);
    assert.deepEqual(seqs(model.sentOf("mic")), [0, 1, 2, 5]);
    cleanup();
  });

  it("falls back in order when the socket closes, or no answer comes, or too much is held", (t) => {
    const spies = ["error", "warn"].map((m) => t.mock.method(console, /** @type {"error" | "warn"} */ (m)));
    t.mock.timers.enable({ apis: ["setTimeout"] });
    // The socket closes (kernel restarted, widget closed) while messages are held: the comm, in order.
    let { model, state, cleanup } = localWidget();
    let ws = greeted(model);
    state.send({ kind: "mic", seq: 1, t: 1 }, [new ArrayBuffer(4)]);
    state.send({ kind: "ptt", down: false });
    ws.close();
    state.send({ kind: "mic", seq: 2, t: 1 }, [new ArrayBuffer(4)]);
    assert.deepEqual(kinds(model).slice(-4), ["direct_ready", "mic", "ptt", "mic"]);
    assert.deepEqual(seqs(model.sentOf("mic")), [1, 2]);
    cleanup();
    // No answer within ACK_MS: what was held goes over the comm, and the socket is given up.
    ({ model, state, cleanup } = localWidget());
    ws = greeted(model);
    state.send({ kind: "mic", seq: 1, t: 1 }, [new ArrayBuffer(4)]);
    t.mock.timers.tick(ACK_MS - 1);
    assert.equal(model.sentOf("mic").length, 0);
    t.mock.timers.tick(1);
    assert.deepEqual(seqs(model.sentOf("mic")), [1]);
    assert.equal(ws.readyState, 3);
    const late = model.sentOf("direct_ready")[0].n;
    model.receive({ kind: "direct_ready", n: late }); // a late answer changes nothing
    state.send({ kind: "mic", seq: 2, t: 1 }, [new ArrayBuffer(4)]);
    assert.deepEqual(seqs(model.sentOf("mic")), [1, 2]);
    assert.equal(ws.frames.length, 0);
    cleanup();
    // More than MAX_HELD held: the comm.
    ({ model, state, cleanup } = localWidget());
    ws = greeted(model);
    for (let i = 0; i <= MAX_HELD; i++) state.send({ kind: "mic", seq: i, t: 1 }, [new ArrayBuffer(2)]);
    assert.deepEqual(
      seqs(model.sentOf("mic")),
      Array.from({ length: MAX_HELD + 1 }, (_, i) => i),
    );
    assert.equal(ws.readyState, 3);
    cleanup();
    // Disposed while holding: nothing is sent after the model went, and no timer is left.
    ({ model, state, cleanup } = localWidget());
    greeted(model);
    state.send({ kind: "mic", seq: 1, t: 1 }, [new ArrayBuffer(4)]);
    cleanup();
    state.dispose();
    t.mock.timers.tick(ACK_MS);
    assert.equal(model.sentOf("mic").length, 0);
    assert.equal(state.direct.timer, null);
    for (const spy of spies) assert.equal(spy.mock.callCount(), 0, "falling back is quiet");
  });
});

/** A widget in a page served by this machine, and its model state. */
function localWidget() {
  const model = new FakeModel();
  const cleanup = createWidget().initialize({ model });
  const models = /** @type {any} */ (globalThis).__rtwidget.models;
  const state = models[models.length - 1].record;
  state.direct = new DirectLink((/** @type {any} */ c, /** @type {any} */ b) => state.viaComm(c, b), {
    hostname: "127.0.0.1",
  });
  return { model, state, cleanup };
}

/**
 * The kernel offers a socket, it opens and greets: the page has sent its marker and holds what follows.
 * @param {FakeModel} model
 */
function greeted(model) {
  model.receive({ kind: "direct", url: "ws://127.0.0.1:4000/tok" });
  const ws = FakeSocket.made.at(-1);
  assert.ok(ws);
  ws.readyState = 1;
  ws.deliver("rtwidget-direct tok");
  return ws;
}

/** @param {any[]} mics */
function seqs(mics) {
  return mics.map((m) => m.seq);
}

/** @param {FakeModel} model */
function kinds(model) {
  return model.sent.map((/** @type {any} */ s) => s.content.kind);
}
