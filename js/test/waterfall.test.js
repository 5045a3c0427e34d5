import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConversationView, waterfallHosts } from "../../rtwidget/widget/static/conversation.js";
import { formatUsd } from "../../rtwidget/widget/static/format.js";
import { PanelState } from "../../rtwidget/widget/static/panelstate.js";
import { formatMs, latencyText, waterfallLayout } from "../../rtwidget/widget/static/waterfall.js";
import { domPerTest } from "./fakedom.js";
import { FakeModel } from "./helpers.js";

describe("waterfall layout", () => {
  it("a spoken turn: segments between the moments in time order, each step's figure from the start", () => {
    const layout = waterfallLayout({ trigger: "speech", start: "trigger", created: 200, first_audio: 500, audible: 600, done: 1000 });
    assert.ok(layout);
    assert.equal(layout.start, "speech stopped");
    assert.equal(layout.total, 1000);
    assert.deepEqual(
      layout.segments.map((s) => [s.step, s.from, s.to, s.left, s.width]),
      [
        ["created", 0, 200, 0, 20],
        ["first_audio", 200, 500, 20, 30],
        ["audible", 500, 600, 50, 10],
        ["done", 600, 1000, 60, 40],
      ],
    );
    assert.equal(layout.segments[2].title, "first audio \u2192 audible: 100 ms (600 ms after speech stopped)");
    assert.deepEqual(
      layout.figures.map((f) => f.text),
      ["created 200 ms", "first audio 500 ms", "audible 600 ms", "done 1000 ms"],
    );
    assert.match(layout.figures[2].title, /browser played the first sample, 600 ms after speech stopped/);
  });

  it("done before audible (audio faster than real time): the bar follows time, the figures the steps", () => {
    const layout = waterfallLayout({ trigger: "text", start: "trigger", created: 10, first_audio: 30, audible: 480, done: 150 });
    assert.ok(layout);
    assert.equal(layout.start, "text sent");
    assert.deepEqual(layout.segments.map((s) => s.step), ["created", "first_audio", "done", "audible"]);
    assert.equal(layout.segments[3].title, "done \u2192 audible: 330 ms (480 ms after text sent)");
    assert.deepEqual(layout.figures.map((f) => f.step), ["created", "first_audio", "audible", "done"]);
    const widths = layout.segments.reduce((sum, s) => sum + s.width, 0);
    assert.ok(Math.abs(widths - 100) < 1e-9, "the segments fill the bar once");
  });

  it("missing steps are missing, not 0 ms, and say why", () => {
    const text = waterfallLayout({ trigger: "text", start: "trigger", created: 12.4, first_audio: null, audible: null, done: 95.6 });
    assert.ok(text);
    assert.deepEqual(text.figures.map((f) => f.ms), [12.4, null, null, 95.6]);
    assert.deepEqual(text.figures.map((f) => f.text), ["created 12 ms", "first audio \u2014", "audible \u2014", "done 96 ms"]);
    assert.equal(text.figures[1].title, "first audio: no audio in this response");
    assert.deepEqual(text.segments.map((s) => s.step), ["created", "done"]);
    const waiting = waterfallLayout({ trigger: "speech", start: "trigger", created: 100, first_audio: 300, audible: null, done: 700 });
    assert.equal(waiting?.figures[2].title, "audible: not played yet (no playback report from the browser)");
    const running = waterfallLayout({ trigger: "tool", start: "trigger", created: 40, first_audio: null, audible: null, done: null });
    assert.deepEqual(running?.figures.map((f) => f.title.split(": ")[1]), [
      "response.created, 40 ms after tool output sent",
      "no audio yet",
      "no audio yet",
      "not done yet",
    ]);
    // The trigger's time unknown: times from response.created, whose own step is missing (not a 0 ms bar).
    const unknown = waterfallLayout({ trigger: "other", start: "created", created: 0, first_audio: 80, audible: null, done: 200 });
    assert.ok(unknown);
    assert.equal(unknown.start, "response.created");
    assert.equal(unknown.figures[0].ms, null);
    assert.deepEqual(unknown.segments.map((s) => [s.step, s.from, s.to]), [["first_audio", 0, 80], ["done", 80, 200]]);
    assert.equal(waterfallLayout(null), null);
  });

  it("formats ms, dollars and the latency line", () => {
    assert.equal(formatMs(209.6), "210 ms");
    assert.equal(formatMs(null), "\u2014");
    assert.equal(formatUsd(0.000451), "$0.00045");
    assert.equal(formatUsd(1.5), "$1.50");
    assert.equal(formatUsd(null), "\u2014");
    assert.equal(latencyText(null), "");
    assert.equal(latencyText({ trigger_to_created: { n: 0, p50_ms: null, p95_ms: null } }), "");
    assert.equal(
      latencyText({ trigger_to_created: { n: 1, p50_ms: 5, p95_ms: 5 }, trigger_to_done: { n: 1, p50_ms: 90, p95_ms: 90 } }),
      "latency p50/p95 (1 turn): created 5/5 ms \u00b7 first audio \u2014 \u00b7 audible \u2014 \u00b7 done 90/90 ms",
    );
  });
});

describe("waterfall in the conversation", () => {
  const fresh = domPerTest();

  function conversation() {
    const model = new FakeModel({ session_config: {}, form_choices: {} });
    const panels = new PanelState();
    const view = new ConversationView(panels, /** @type {any} */ (model), () => {}, fresh.signal);
    return { view, panels, el: /** @type {any} */ (view.el) };
  }

  it("sits under the response's first item, and follows the response's updates (the audible report)", () => {
    const { view, panels, el } = conversation();
    panels.apply({
      items: [
        { id: "u1", type: "message", role: "user", text: "hi", index: 0, response_id: null },
        { id: "c1", type: "function_call", role: null, index: 1, response_id: "r1", call_id: "call_1", name: "f" },
        { id: "a1", type: "message", role: "assistant", text: "Hello", index: 2, response_id: "r1" },
        { id: "o1", type: "message", role: "assistant", lane: "out_of_band", response_id: "r2" },
      ],
      responses: [
        { id: "r1", status: "completed", latency: { trigger: "text", start: "trigger", created: 20, first_audio: 60, audible: null, done: 300 } },
        { id: "r2", status: "completed", lane: "out_of_band", latency: null },
      ],
    });
    view.draw();
    const items = el.querySelectorAll('[data-rt="item"]');
    assert.deepEqual(items.map((/** @type {any} */ i) => i.dataset.id), ["u1", "c1", "a1", "o1"], "items keep data-rt and data-id");
    const shown = el.querySelectorAll('[data-rt="waterfall"]').filter((/** @type {any} */ w) => !w.hidden);
    assert.equal(shown.length, 1, "one waterfall: r1's, none for the user's item or the out-of-band response");
    assert.equal(shown[0].closest('[data-rt="item"]').dataset.id, "c1", "under the response's first item");
    const figs = () => shown[0].querySelectorAll(".rtwidget-wf-fig").map((/** @type {any} */ f) => f.textContent);
    assert.deepEqual(figs(), ["created 20 ms", "first audio 60 ms", "audible \u2014", "done 300 ms"]);
    assert.ok(shown[0].querySelectorAll(".rtwidget-wf-fig")[2].classList.contains("rtwidget-wf-missing"));
    const segs = shown[0].querySelectorAll(".rtwidget-wf-seg");
    assert.deepEqual(segs.map((/** @type {any} */ s) => [s.dataset.step, s.style.left, s.style.width]), [
      ["created", "0.00%", "6.67%"],
      ["first_audio", "6.67%", "13.33%"],
      ["done", "20.00%", "80.00%"],
    ]);
    // The browser's playback report reached the kernel: only the response changes, the waterfall follows.
    panels.apply({ responses: [{ id: "r1", latency: { trigger: "text", start: "trigger", created: 20, first_audio: 60, audible: 150, done: 300 } }] });
    view.draw();
    assert.deepEqual(figs(), ["created 20 ms", "first audio 60 ms", "audible 150 ms", "done 300 ms"]);
    assert.equal(shown[0].querySelectorAll(".rtwidget-wf-seg").length, 4);
  });

  it("waterfallHosts picks the first item of each response in display order", () => {
    const s = new PanelState();
    s.apply({
      items: [{ id: "a", response_id: "r1" }, { id: "b", response_id: "r1" }, { id: "c", response_id: "r3" }],
      responses: [{ id: "r1", latency: { created: 1 } }, { id: "r3", latency: null }],
    });
    assert.deepEqual([...waterfallHosts(s, ["b", "a", "c"]).keys()], ["b"]);
  });
});
