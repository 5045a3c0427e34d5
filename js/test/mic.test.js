// The microphone's pure parts in Node (no Web Audio): why a microphone cannot start, and which
// chunks go out in push-to-talk, in which order.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MicSender, micError } from "../../rtwidget/widget/static/mic.js";
import { tick } from "./helpers.js";

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

  it("a chunk carries the report riding with it; flowing only while on (and held in push-to-talk)", () => {
    const { sender, out } = make();
    /** @type {any[]} */
    const reports = [{ item_id: "a", samples: 2400 }, null];
    sender.rider = () => reports.shift() ?? null;
    sender.chunk(new ArrayBuffer(4800), 1000);
    sender.chunk(new ArrayBuffer(4800), 1100);
    assert.deepEqual(out, [
      { kind: "mic", seq: 0, t: 1000, played: { item_id: "a", samples: 2400 }, bytes: 4800 },
      { kind: "mic", seq: 1, t: 1100, bytes: 4800 },
    ]);
    assert.equal(sender.flowing(), false, "off");
    sender.on = true;
    assert.equal(sender.flowing(), true);
    sender.pushToTalk = true;
    assert.equal(sender.flowing(), false, "push-to-talk, not held");
    sender.held = true;
    assert.equal(sender.flowing(), true);
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
