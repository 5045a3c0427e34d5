import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatSeconds, heardLabel, levelToFraction, prettyJson, usageSummary } from "../../rtwidget/widget/static/format.js";
import { PanelState } from "../../rtwidget/widget/static/panelstate.js";
import { ConversationView, needsTranscriptionHint } from "../../rtwidget/widget/static/conversation.js";
import { costText, SessionView, ToolsView } from "../../rtwidget/widget/static/panels.js";
import { toolSignature } from "../../rtwidget/widget/static/toolcards.js";
import { domPerTest } from "./fakedom.js";
import { FakeModel } from "./helpers.js";

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

// ---------------------------------------------------------------- the panels' DOM (fake DOM)

describe("panel views", () => {
  const fresh = domPerTest();

  const CHOICES = { transcription_models: ["gpt-4o-mini-transcribe", "whisper-1"], eagerness: ["auto", "low", "medium", "high"] };
  const CONFIG = {
    type: "realtime",
    instructions: "Be brief.",
    output_modalities: ["audio"],
    audio: {
      input: {
        turn_detection: {
          type: "server_vad",
          threshold: 0.5,
          prefix_padding_ms: 300,
          silence_duration_ms: 800,
          create_response: true,
          interrupt_response: false,
        },
        transcription: null,
      },
      output: { voice: "marin" },
    },
  };

  /** @param {Record<string, any>} [state] */
  function sessionView(state = {}) {
    const model = new FakeModel({
      session_config: CONFIG,
      voices: ["alloy", "marin", "verse"],
      voice: "marin",
      voice_locked: false,
      form_choices: CHOICES,
      ...state,
    });
    /** @type {any[]} */
    const sent = [];
    const view = new SessionView(new PanelState(), /** @type {any} */ (model), (m) => sent.push(m), fresh.signal);
    view.draw();
    const el = /** @type {any} */ (view.el);
    return { model, sent, view, rt: (/** @type {string} */ name) => el.querySelector(`[data-rt="${name}"]`) };
  }

  it("the session form shows the effective config", () => {
    const { rt } = sessionView();
    assert.equal(rt("form-turn-type").value, "server_vad");
    assert.equal(rt("form-threshold").value, "0.5");
    assert.equal(rt("form-prefix-padding").value, "300");
    assert.equal(rt("form-silence-duration").value, "800");
    assert.equal(rt("form-create-response").checked, true);
    assert.equal(rt("form-interrupt-response").checked, false);
    assert.equal(rt("form-eagerness").closest(".rtwidget-form-field").hidden, true, "eagerness is semantic_vad's");
    assert.equal(rt("form-transcription").checked, false);
    assert.equal(rt("form-transcription-model").value, "gpt-4o-mini-transcribe");
    assert.equal(rt("form-voice").value, "marin");
    assert.equal(rt("form-voice").disabled, false);
    assert.equal(rt("form-modalities").value, "audio");
    assert.equal(rt("instructions").value, "Be brief.");
    assert.match(rt("session-json").textContent, /"silence_duration_ms": 800/);
  });

  it("a changed field goes to the kernel as one config message", () => {
    const { rt, sent } = sessionView();
    rt("form-silence-duration").value = "1200";
    rt("form-silence-duration").fire("change");
    assert.deepEqual(sent.pop(), {
      kind: "config",
      session: {
        turn_detection: {
          type: "server_vad",
          threshold: 0.5,
          prefix_padding_ms: 300,
          silence_duration_ms: 1200,
          create_response: true,
          interrupt_response: false,
        },
      },
    });
    rt("form-turn-type").value = "semantic_vad";
    rt("form-turn-type").fire("change");
    assert.deepEqual(sent.pop(), { kind: "config", session: { turn_detection: { type: "semantic_vad" } } });
    assert.equal(rt("form-eagerness").closest(".rtwidget-form-field").hidden, false);
    assert.equal(rt("form-silence-duration").closest(".rtwidget-form-field").hidden, true);
    rt("form-turn-type").value = "push_to_talk";
    rt("form-turn-type").fire("change");
    assert.deepEqual(sent.pop(), { kind: "config", session: { turn_detection: null } });
    rt("form-transcription").checked = true;
    rt("form-transcription").fire("change");
    assert.deepEqual(sent.pop(), { kind: "config", session: { transcription: { model: "gpt-4o-mini-transcribe" } } });
    rt("form-modalities").value = "text";
    rt("form-modalities").fire("change");
    assert.deepEqual(sent.pop(), { kind: "config", session: { output_modalities: ["text"] } });
    rt("form-voice").value = "verse";
    rt("form-voice").fire("change");
    assert.deepEqual(sent.pop(), { kind: "config", session: { voice: "verse" } });
    assert.equal(sent.length, 0);
  });

  it("a change the kernel refuses reverts to the effective config; typed instructions stay", () => {
    const { rt, view } = sessionView();
    rt("form-silence-duration").value = "99999";
    rt("form-silence-duration").fire("change");
    rt("instructions").value = "draft";
    rt("instructions").fire("input");
    view.draw(); // no session.updated came: nothing changes yet
    assert.equal(rt("form-silence-duration").value, "99999");
    view.form.revert(); // what the timer does
    assert.equal(rt("form-silence-duration").value, "800");
    assert.equal(rt("instructions").value, "draft");
  });

  it("a number being typed is not overwritten by a session.updated about something else", () => {
    const { rt, view, model } = sessionView();
    rt("form-threshold").value = "0.7";
    fresh.dom.document.activeElement = rt("form-threshold");
    model.set("session_config", { ...CONFIG, tools: [{ type: "function", name: "t" }] });
    view.draw();
    assert.equal(rt("form-threshold").value, "0.7");
    assert.equal(rt("form-silence-duration").value, "800");
    fresh.dom.document.activeElement = null;
  });

  it("the voice is disabled once the model spoke", () => {
    const { rt } = sessionView({ voice_locked: true });
    assert.equal(rt("form-voice").disabled, true);
    assert.match(rt("form-voice").title, /cannot change/);
  });

  it("instructions: Apply sends them, 'applied' shows once session.updated has them; typed text is kept", () => {
    const { rt, sent, model, view } = sessionView();
    rt("instructions").value = "Answer in French.";
    rt("instructions").fire("input");
    assert.equal(rt("instructions-state").textContent, "not applied yet");
    model.set("voices", ["alloy", "marin"]); // any redraw keeps what was typed
    view.draw();
    assert.equal(rt("instructions").value, "Answer in French.");
    rt("instructions-apply").click();
    assert.deepEqual(sent.pop(), { kind: "config", session: { instructions: "Answer in French." } });
    assert.equal(rt("instructions-state").textContent, "applying\u2026");
    model.set("session_config", { ...CONFIG, instructions: "Answer in French." });
    view.draw();
    assert.equal(rt("instructions-state").textContent, "\u2713 applied");
    assert.ok(rt("instructions-state").classList.contains("rtwidget-form-applied"));
    // Ctrl+Enter applies too.
    rt("instructions").value = "Shorter.";
    rt("instructions").fire("input");
    rt("instructions").fire("keydown", { key: "Enter", ctrlKey: true });
    assert.deepEqual(sent.pop(), { kind: "config", session: { instructions: "Shorter." } });
  });

  it("the usage table's rows agree with the total, with each response's cost (\u2014 when unknown)", () => {
    const usage = { input_token_details: { text_tokens: 5, cached_tokens: 2 }, output_token_details: { audio_tokens: 7 }, total_tokens: 12 };
    const { view, model, rt } = sessionView({ usage: { responses: 1, input_text: 5, output_audio: 7, total_tokens: 12 } });
    view.state.apply({
      responses: [
        { id: "resp_1", status: "completed", lane: "default", usage, cost_usd: 0.000451 },
        { id: "resp_2", status: "in_progress", lane: "default", usage: null, cost_usd: null },
      ],
    });
    const trait = { responses: 1, input_text: 5, input_audio: 0, cached_text: 2, cached_audio: 0, cached_image: 0 };
    model.set("usage", { ...trait, output_text: 0, output_audio: 7, total_tokens: 12 });
    view.draw();
    const rows = /** @type {any} */ (view.usageTable).querySelectorAll("tr");
    const cells = rows.map((/** @type {any} */ r) => r.children.map((/** @type {any} */ c) => c.textContent));
    assert.equal(cells.length, 4, "head, two responses, the total");
    assert.deepEqual(cells[0].slice(-3), ["out audio", "total", "cost"]);
    assert.deepEqual(cells[1].slice(2), ["5", "0", "2", "0", "7", "12", "$0.00045"]);
    assert.equal(cells[2].at(-1), "\u2014", "no cost yet: a dash, not $0");
    assert.deepEqual(cells[3].slice(2, -1), ["5", "0", "2", "0", "7", "12"], "the totals row: the session's counts");
    assert.deepEqual(cells[3].slice(0, 2), ["total", "1 response"]);
    assert.equal(cells[3].at(-1), "", "no cost fields in the trait: no total cost");
    assert.equal(rt("usage-cost").textContent, "", "no cost fields: no cost line");
    model.set("usage", { ...trait, total_tokens: 12, cost_usd: 0.0035, billed: false, cost_note: "local server: nothing is billed", prices_as_of: "2026-11-28" });
    view.draw();
    assert.equal(rt("usage-cost").textContent, "cost: $0.0035, prices of 2026-11-28 (local server: nothing is billed)");
    assert.equal(/** @type {any} */ (view.usageTable).querySelectorAll("tr")[3].children.at(-1).textContent, "$0.0035");
    model.set("usage", { responses: 2, total_tokens: 20, cost_usd: null, billed: true, cost_note: "no price for model 'x'" });
    view.draw();
    assert.equal(rt("usage-cost").textContent, "cost: unknown (no price for model 'x')");
    assert.equal(/** @type {any} */ (view.usageTable).querySelectorAll("tr")[3].children.at(-1).textContent, "\u2014");
  });

  it("the latency line gives p50/p95 of each step from the turn's start, a step never measured as a dash", () => {
    const { view, model, rt } = sessionView();
    assert.equal(rt("usage-latency").textContent, "", "no turn measured: no line");
    const step = (/** @type {number} */ n, /** @type {number | null} */ p50, /** @type {number | null} */ p95) => ({ n, p50_ms: p50, p95_ms: p95 });
    model.set("usage", {
      responses: 3,
      latency: {
        trigger_to_created: step(3, 210.4, 379.6),
        created_to_first_audio: step(3, 200, 300),
        trigger_to_first_audio: step(3, 420, 700),
        trigger_to_audible: step(0, null, null),
        trigger_to_done: step(3, 900, 1200.5),
      },
    });
    view.draw();
    assert.equal(
      rt("usage-latency").textContent,
      "latency p50/p95 (3 turns): created 210/380 ms \u00b7 first audio 420/700 ms \u00b7 audible \u2014 \u00b7 done 900/1201 ms",
    );
  });

  it("costText shows dollars to a sensible precision", () => {
    assert.equal(costText({ cost_usd: 12.345, prices_as_of: "" }), "cost: $12.35");
    assert.equal(costText({ cost_usd: 0.25 }), "cost: $0.2500");
    assert.equal(costText({ cost_usd: 0.000123 }), "cost: $0.00012");
    assert.equal(costText({ cost_usd: 0 }), "cost: $0.0000");
    assert.equal(costText(null), "");
  });

  /** @param {Record<string, any>} [state] */
  function conversation(state = {}) {
    const model = new FakeModel({ session_config: CONFIG, form_choices: CHOICES, ...state });
    /** @type {any[]} */
    const sent = [];
    const panels = new PanelState();
    const view = new ConversationView(panels, /** @type {any} */ (model), (m) => sent.push(m), fresh.signal);
    const el = /** @type {any} */ (view.el);
    return { model, sent, view, panels, rt: (/** @type {string} */ name) => el.querySelector(`[data-rt="${name}"]`) };
  }

  it("a spoken turn without words shows the transcription hint, whose button turns transcription on", () => {
    const { rt, sent, view, panels, model } = conversation();
    panels.apply({ items: [{ id: "u1", type: "message", role: "user", text: "", audio_ms: 2000, index: 0 }] });
    view.draw();
    assert.equal(rt("transcription-hint").hidden, false);
    assert.match(rt("transcription-hint").textContent, /turn on input transcription in the Session panel/);
    rt("transcription-enable").click();
    assert.deepEqual(sent, [{ kind: "config", session: { transcription: { model: "gpt-4o-mini-transcribe" } } }]);
    const on = { ...CONFIG, audio: { ...CONFIG.audio, input: { ...CONFIG.audio.input, transcription: { model: "whisper-1" } } } };
    model.set("session_config", on);
    view.draw();
    assert.equal(rt("transcription-hint").hidden, true);
  });

  it("no hint for typed turns or spoken turns with words", () => {
    const { rt, view, panels } = conversation();
    panels.apply({
      items: [
        { id: "t", type: "message", role: "user", text: "hi", audio_ms: 0 },
        { id: "s", type: "message", role: "user", text: "what is the weather", audio_ms: 1800 },
      ],
    });
    view.draw();
    assert.equal(rt("transcription-hint").hidden, true);
    assert.equal(needsTranscriptionHint([{ id: "x", type: "message", role: "user", audio_ms: 10 }], {}), true);
  });

  it("the out-of-band lane takes space only while it has items, and folds", () => {
    const { rt, view, panels } = conversation();
    panels.apply({ items: [{ id: "a", type: "message", role: "assistant", text: "hi", index: 0, lane: "default" }] });
    view.draw();
    assert.equal(rt("oob-lane").hidden, true);
    panels.apply({ items: [{ id: "o", type: "message", role: "assistant", text: "side", lane: "out_of_band" }] });
    view.draw();
    const lane = rt("oob-lane");
    assert.equal(lane.hidden, false);
    assert.ok(lane.classList.contains("rtwidget-lane-open"));
    assert.match(rt("oob-toggle").textContent, /out of band \(1\)/);
    rt("oob-toggle").click();
    assert.ok(!lane.classList.contains("rtwidget-lane-open"), "folded");
    assert.equal(/** @type {any} */ (view.oobItems).hidden, true);
    panels.apply({ items: [{ id: "o2", type: "message", role: "assistant", text: "more", lane: "out_of_band" }] });
    view.draw();
    assert.ok(!lane.classList.contains("rtwidget-lane-open"), "stays folded as the user chose");
    assert.match(rt("oob-toggle").textContent, /\(2\)/);
    rt("oob-toggle").click();
    assert.ok(lane.classList.contains("rtwidget-lane-open"));
    panels.reset({ items: [{ id: "n", type: "message", role: "user", text: "new", index: 0 }] });
    view.draw();
    assert.equal(lane.hidden, true, "a new conversation without side responses: no lane");
  });

  it("the tools panel lists registered tools with their schemas before any call, and a failed call's traceback", () => {
    const schema = { type: "object", properties: { city: { type: "string" }, days: { type: "integer" } }, required: ["city"] };
    const model = new FakeModel({
      registered_tools: [{ name: "get_weather", description: "The weather in a city.", parameters: schema, reply: true, timeout: 30 }],
    });
    const panels = new PanelState();
    const view = new ToolsView(panels, /** @type {any} */ (model));
    view.draw();
    const el = /** @type {any} */ (view.el);
    const entry = el.querySelector('[data-rt="registered-tool"]');
    assert.equal(entry.dataset.name, "get_weather");
    assert.match(entry.textContent, /get_weather\(city: string, days\?: integer\)/);
    assert.match(entry.textContent, /The weather in a city\./);
    assert.deepEqual(JSON.parse(el.querySelector('[data-rt="tool-schema"]').textContent), schema);
    assert.equal(el.querySelectorAll('[data-rt="tool-row"]').length, 0);
    panels.apply({ tools: [{ call_id: "c1", name: "get_weather", arguments: '{"city":"Paris"}', status: "running" }] });
    view.draw();
    const row = el.querySelector('[data-rt="tool-row"]');
    assert.equal(row.querySelector('[data-rt="tool-traceback"]').hidden, true);
    const tb = 'Traceback (most recent call last):\n  File "<cell>", line 3\nValueError: no such city';
    panels.apply({ tools: [{ call_id: "c1", status: "error", error: "ValueError: no such city", output: "", traceback: tb }] });
    view.draw();
    const trace = row.querySelector('[data-rt="tool-traceback"]');
    assert.equal(trace.hidden, false);
    assert.match(trace.textContent, /ValueError: no such city \(traceback\)/);
    assert.ok(trace.textContent.includes(tb));
    assert.equal(toolSignature({ name: "ping" }), "ping()");
    model.set("registered_tools", []);
    view.draw();
    assert.equal(el.querySelectorAll('[data-rt="registered-tool"]').length, 0);
    const empty = () => /** @type {any} */ (view.registered.empty);
    assert.match(empty().textContent, /add one with @session\.tool/);
    model.set("replay", { name: "lesson.cassette", duration: 3, position: 0, speed: 1, playing: false });
    view.draw();
    assert.match(empty().textContent, /A replay runs no tool/, "a replay gives no advice to register tools");
    assert.doesNotMatch(empty().textContent, /@session\.tool/);
  });
});
