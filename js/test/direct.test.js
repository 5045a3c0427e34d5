// The direct channel's page side: the frame format (read back here as the kernel reads it, see
// rtwidget/widget/direct.py), when the page tries the socket, and the comm as the path whenever
// the socket is not open.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { DirectLink, encodeFrame } from "../../rtwidget/widget/static/direct.js";
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
    assert.equal(new DirectLink({ hostname: "hub.example.org" }).possible(), false);
    const remote = new DirectLink({ hostname: "hub.example.org" });
    remote.connect("ws://127.0.0.1:4000/t");
    assert.equal(FakeSocket.made.length, 0);
    const link = new DirectLink({ hostname: "localhost" });
    assert.equal(link.possible(), true);
    link.connect("ws://evil.example:80/t");
    link.connect(42);
    assert.equal(FakeSocket.made.length, 0);
    link.connect("ws://127.0.0.1:4000/t");
    link.connect("ws://127.0.0.1:4000/t"); // the same offer again (a second view): one socket
    assert.equal(FakeSocket.made.length, 1);
  });

  it("carries the model's messages while open, the comm otherwise; a hello says whether it could", () => {
    const model = new FakeModel();
    const cleanup = createWidget().initialize({ model });
    const models = /** @type {any} */ (globalThis).__rtwidget.models;
    const state = models[models.length - 1].record;
    state.direct = new DirectLink({ hostname: "127.0.0.1" });
    state.send({ kind: "hello", view: "v1" });
    assert.deepEqual(model.sentOf("hello"), [{ kind: "hello", view: "v1", direct: true }]);
    model.receive({ kind: "direct", url: "ws://127.0.0.1:4000/tok" });
    const ws = FakeSocket.made[0];
    assert.equal(ws.url, "ws://127.0.0.1:4000/tok");
    state.send({ kind: "mic", seq: 0, t: 1 }, [new ArrayBuffer(8)]); // not open yet: the comm
    assert.equal(model.sentOf("mic").length, 1);
    ws.readyState = 1;
    state.send({ kind: "mic", seq: 1, t: 2 }, [new ArrayBuffer(8)]); // open, but the kernel has not greeted
    ws.deliver("rtwidget-direct someone-else");
    state.send({ kind: "mic", seq: 2, t: 2 }, [new ArrayBuffer(8)]); // a greeting without the token: not it
    assert.equal(model.sentOf("mic").length, 3);
    ws.deliver("rtwidget-direct tok");
    state.send({ kind: "mic", seq: 3, t: 2 }, [new ArrayBuffer(8)]);
    state.send({ kind: "ptt", down: false }); // every kind, so the order holds
    assert.equal(model.sentOf("mic").length, 3);
    assert.deepEqual(
      ws.frames.map((f) => decode(f).content.kind),
      ["mic", "ptt"],
    );
    ws.close(); // the kernel went away: back to the comm
    state.send({ kind: "mic", seq: 4, t: 3 }, [new ArrayBuffer(8)]);
    assert.equal(model.sentOf("mic").length, 4);
    cleanup();
  });
});
