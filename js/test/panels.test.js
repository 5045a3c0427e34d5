import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatSeconds, heardLabel, levelToFraction, prettyJson, usageSummary } from "../../rtwidget/widget/static/format.js";
import { PanelState } from "../../rtwidget/widget/static/panelstate.js";

describe("PanelState", () => {
  it("keeps items in arrival order and merges updates by id", () => {
    const s = new PanelState();
    s.apply({
      items: [
        { id: "i1", type: "message", role: "user", text: "hi" },
        { id: "i2", type: "message", role: "assistant", text: "He", status: "in_progress" },
      ],
    });
    const v = s.version;
    s.apply({ items: [{ id: "i2", text: "Hello", status: "completed" }] });
    assert.deepEqual(s.items.order, ["i1", "i2"]);
    assert.deepEqual(s.items.map.get("i2"), {
      id: "i2",
      type: "message",
      role: "assistant",
      text: "Hello",
      status: "completed",
    });
    assert.ok(s.version > v);
    assert.equal(s.items.rev.get("i2"), s.version, "the changed item carries the new revision");
    assert.ok((s.items.rev.get("i1") ?? 0) < s.version);
  });

  it("orders the default lane by index (an item can be inserted before others), out of band by arrival", () => {
    const s = new PanelState();
    s.apply({
      items: [
        { id: "u1", index: 0, lane: "default" },
        { id: "a1", index: 1, lane: "default" },
        { id: "o1", index: null, lane: "out_of_band" },
        { id: "x", lane: "default" },
      ],
    });
    // An item inserted after u1 arrives later, and a1 moves down.
    s.apply({ items: [{ id: "u2", index: 1, lane: "default" }, { id: "a1", index: 2 }, { id: "o2", lane: "out_of_band" }] });
    assert.deepEqual(s.orderedItems(), { main: ["u1", "u2", "a1", "x"], oob: ["o1", "o2"] });
  });

  it("removes deleted items", () => {
    const s = new PanelState();
    s.apply({ items: [{ id: "a" }, { id: "b" }, { id: "c" }] });
    s.apply({ items: [{ id: "b", deleted: true }] });
    assert.deepEqual(s.items.order, ["a", "c"]);
    assert.equal(s.items.map.has("b"), false);
  });

  it("tracks tools by call_id and responses by id; empty batches change nothing", () => {
    const s = new PanelState();
    assert.equal(s.apply({}), false);
    assert.equal(s.apply({ items: [], tools: [] }), false);
    s.apply({
      tools: [{ call_id: "c1", name: "weather", status: "running" }],
      responses: [{ id: "r1", status: "in_progress", lane: "default", usage: null }],
    });
    s.apply({ tools: [{ call_id: "c1", status: "done", output: "{}", duration_ms: 12 }] });
    assert.equal(s.tools.map.get("c1")?.status, "done");
    assert.equal(s.tools.map.get("c1")?.name, "weather");
    assert.equal(s.responses.map.get("r1")?.status, "in_progress");
  });

  it("reset replaces everything (a snapshot)", () => {
    const s = new PanelState();
    s.apply({ items: [{ id: "old" }] });
    const epoch = s.epoch;
    s.reset({ items: [{ id: "new" }], tools: [{ call_id: "c" }], responses: [] });
    assert.deepEqual(s.items.order, ["new"]);
    assert.deepEqual(s.tools.order, ["c"]);
    assert.ok(s.epoch > epoch);
  });
});

describe("panel formatting", () => {
  it("heardLabel marks truncated items", () => {
    assert.equal(heardLabel({ id: "a", heard_ms: 1234, audio_ms: 3400 }), "heard 1.2 s of 3.4 s");
    assert.equal(heardLabel({ id: "a", heard_ms: 0, audio_ms: 800 }), "heard 0.0 s of 0.8 s");
    assert.equal(heardLabel({ id: "a", heard_ms: null, audio_ms: 3400 }), "");
    assert.equal(heardLabel({ id: "a" }), "");
    assert.equal(formatSeconds(undefined), "?");
  });

  it("usageSummary reads a response.done usage object", () => {
    const usage = {
      total_tokens: 330,
      input_tokens: 200,
      output_tokens: 130,
      input_token_details: { text_tokens: 120, audio_tokens: 80, cached_tokens: 64 },
      output_token_details: { text_tokens: 30, audio_tokens: 100 },
    };
    assert.deepEqual(usageSummary(usage), {
      input_text: 120,
      input_audio: 80,
      output_text: 30,
      output_audio: 100,
      cached: 64,
      total: 330,
    });
    assert.equal(usageSummary(null), null);
    assert.deepEqual(usageSummary({ input_tokens: 3, output_tokens: 4 }), {
      input_text: 0,
      input_audio: 0,
      output_text: 0,
      output_audio: 0,
      cached: 0,
      total: 7,
    });
  });

  it("prettyJson indents JSON text and objects, passes other text through", () => {
    assert.equal(prettyJson('{"a":1}'), '{\n  "a": 1\n}');
    assert.equal(prettyJson({ b: [1] }), '{\n  "b": [\n    1\n  ]\n}');
    assert.equal(prettyJson("not json {"), "not json {");
    assert.equal(prettyJson(null), "");
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
