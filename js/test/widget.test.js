// The anywidget entry point with a fake DOM (fakedom.js): the factory, per-model state found by
// render, views drawn from it, and cleanups that leave no listener behind (DOM, model, timers,
// animation frames). What the page really shows is for the browser tests.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { turnModeLabel, turnModes } from "../../rtwidget/widget/static/controls.js";
import { repeatsLabel } from "../../rtwidget/widget/static/exceptions.js";
import widgetFactory, { createWidget } from "../../rtwidget/widget/static/widget.js";
import { FakeElement, domPerTest } from "./fakedom.js";
import { FakeModel, tick } from "./helpers.js";

const fresh = domPerTest();

/**
 * @param {FakeElement} el
 * @param {string} name
 * @returns {FakeElement}
 */
function rt(el, name) {
  const found = el.querySelector(`[data-rt="${name}"]`);
  assert.ok(found, `data-rt=${name}`);
  return found;
}

/**
 * The debug entry (and state) the newest initialize registered.
 * @returns {{stats: any, closed: boolean, record: any}}
 */
function newestDebug() {
  const models = /** @type {any} */ (globalThis).__rtwidget.models;
  return models[models.length - 1];
}

/**
 * One model through anywidget's life: the factory, initialize, then `views` renders.
 * @param {number} views
 * @param {Record<string, any>} [traits]
 */
function mount(views, traits = {}) {
  const model = new FakeModel(traits);
  const baseline = model.listenerCount();
  const def = createWidget();
  const closeModel = def.initialize({ model });
  const debug = newestDebug();
  const els = Array.from({ length: views }, () => new FakeElement("div"));
  const closeViews = els.map((el) => def.render({ model, el: /** @type {any} */ (el) }));
  return { model, baseline, debug, state: debug.record, els, closeViews, closeModel };
}

const ERROR = {
  source: "tool",
  name: "get_weather",
  error_type: "ValueError",
  message: "bad city",
  traceback: 'Traceback (most recent call last):\n  File "x.py", line 1\nValueError: bad city',
};

describe("the factory", () => {
  it("is the default export; each call gives a fresh {initialize, render}", () => {
    assert.equal(widgetFactory, createWidget);
    const a = widgetFactory();
    const b = widgetFactory();
    assert.deepEqual(Object.keys(a).sort(), ["initialize", "render"]);
    assert.notEqual(a.render, b.render);
  });

  it("two models with two views each: every view draws its own model; cleanups remove every listener", () => {
    const a = mount(2);
    const b = mount(2);
    assert.notEqual(a.state, b.state);
    for (const m of [a, b]) {
      const hellos = m.model.sentOf("hello");
      assert.equal(hellos.length, 2, "one hello per view");
      assert.notEqual(hellos[0].view, hellos[1].view);
      assert.equal(m.state.views.size, 2);
      assert.equal(m.debug.stats.views, 2);
      for (const el of m.els) assert.equal(el.querySelectorAll(".rtwidget-root").length, 1);
    }
    a.model.receive({ kind: "batch", items: [{ id: "i1", type: "message", role: "user", text: "hello a" }] });
    fresh.dom.runFrames();
    for (const el of a.els) assert.equal(el.querySelectorAll("[data-rt=item]").length, 1);
    for (const el of b.els) assert.equal(el.querySelectorAll("[data-rt=item]").length, 0, "B never saw A's item");
    assert.ok(fresh.dom.liveListeners() > 0);

    // Views go first: their DOM listeners, model listeners, timers and frames go with them.
    const modelLevel = a.model.listenerCount();
    a.closeViews[0]();
    assert.equal(a.els[0].children.length, 0, "the view left the page");
    assert.equal(a.state.views.size, 1);
    assert.equal(a.model.listenerCount(), modelLevel - 1, "the view's change listener is gone");
    for (const m of [a, b]) for (const close of m.closeViews) close();
    assert.equal(fresh.dom.liveListeners(), 0, "no DOM listener left");
    assert.equal(fresh.dom.pendingFrames(), 0, "no animation frame left");
    assert.equal(a.debug.stats.views, 0);
    for (const m of [a, b]) {
      assert.ok(m.model.listenerCount() > m.baseline, "the model state still listens");
      m.closeModel();
      assert.equal(m.model.listenerCount(), m.baseline, "no model listener left");
      assert.equal(m.debug.closed, true);
      assert.equal(m.debug.record, undefined, "the page lets go of a closed model's state");
    }
    a.model.receive({ kind: "notice", level: "info", text: "after close" });
    assert.equal(a.state.notices.length, 0);
  });

  it("follows the host's AbortSignals (anywidget >= 0.10 passes them to initialize and render)", () => {
    const model = new FakeModel();
    const baseline = model.listenerCount();
    const def = createWidget();
    const modelLife = new AbortController();
    const viewLife = new AbortController();
    def.initialize({ model, signal: modelLife.signal });
    const state = newestDebug().record;
    const el = new FakeElement("div");
    def.render({ model, el: /** @type {any} */ (el), signal: viewLife.signal });
    assert.equal(state.views.size, 1);
    viewLife.abort();
    assert.equal(el.children.length, 0);
    assert.equal(state.views.size, 0);
    assert.equal(fresh.dom.liveListeners(), 0);
    modelLife.abort();
    assert.equal(model.listenerCount(), baseline);
    assert.equal(state.disposed, true);
  });

  it("render without initialize (an older host) owns a state of its own, gone with the view", () => {
    const model = new FakeModel();
    const baseline = model.listenerCount();
    const close = createWidget().render({ model, el: /** @type {any} */ (new FakeElement("div")) });
    const debug = newestDebug();
    assert.equal(debug.record.views.size, 1);
    close();
    assert.equal(debug.closed, true);
    assert.equal(model.listenerCount(), baseline);
    assert.equal(fresh.dom.liveListeners(), 0);
  });
});

describe("a view", () => {
  it("sends what its controls say and sets the traits the browser owns", () => {
    const m = mount(1);
    const el = m.els[0];
    rt(el, "connect").click();
    rt(el, "text").value = "  hi there ";
    const enter = rt(el, "text").fire("keydown", { key: "Enter" });
    assert.equal(enter.defaultPrevented, true);
    rt(el, "interrupt").click();
    assert.deepEqual(
      m.model.sent.map((s) => s.content).filter((c) => c.kind !== "hello"),
      [{ kind: "connect" }, { kind: "text", text: "hi there" }, { kind: "interrupt" }],
    );
    rt(el, "mute").click();
    assert.equal(m.model.get("muted"), true);
    assert.equal(rt(el, "mute").textContent, "Muted");
    rt(el, "turn-mode").value = "push_to_talk";
    rt(el, "turn-mode").fire("change");
    assert.equal(m.model.get("turn_mode"), "push_to_talk");
    assert.equal(m.state.capture.sender.pushToTalk, true);
    assert.equal(rt(el, "ptt").disabled, false);
    m.closeViews[0]();
    m.closeModel();
  });

  it("offers the turn modes of the `turn_modes` trait, labelled, or the known ones without it", () => {
    assert.equal(turnModeLabel("semantic_vad"), "semantic VAD");
    assert.equal(turnModeLabel("brand_new_mode"), "brand_new_mode", "an unknown value is its own label");
    const old = mount(1);
    const options = () => rt(old.els[0], "turn-mode").options.map((o) => [o.value, o.textContent]);
    assert.deepEqual(options(), [
      ["server_vad", "server VAD"],
      ["semantic_vad", "semantic VAD"],
      ["push_to_talk", "push-to-talk"],
    ]);
    assert.deepEqual(turnModes(/** @type {any} */ (new FakeModel({ turn_modes: [] }))), [
      "server_vad",
      "semantic_vad",
      "push_to_talk",
    ]);
    old.model.set("turn_modes", ["server_vad", "brand_new_mode"]);
    assert.deepEqual(options(), [
      ["server_vad", "server VAD"],
      ["brand_new_mode", "brand_new_mode"],
    ]);
    old.model.set("turn_mode", "push_to_talk");
    assert.equal(options().length, 3, "the current mode stays selectable even when not offered");
    assert.equal(rt(old.els[0], "turn-mode").value, "push_to_talk");
    old.closeViews[0]();
    old.closeModel();
  });

  it("shows the kernel's exceptions under the widget, one collapsible block each, dismissable in every view", () => {
    const m = mount(2);
    const area = rt(m.els[0], "exceptions");
    assert.equal(area.hidden, true, "hidden while there is none");
    m.model.receive({ kind: "exception", error: ERROR });
    m.model.receive({ kind: "exception", error: { ...ERROR, source: "handler", name: "on_event", traceback: "" } });
    for (const el of m.els) {
      const blocks = el.querySelectorAll("[data-rt=exception]");
      assert.equal(blocks.length, 2);
      assert.equal(rt(el, "exceptions").hidden, false);
      const summary = blocks[0].querySelector("summary");
      assert.equal(summary?.textContent, "ValueError in tool get_weather: bad city");
      assert.equal(blocks[0].querySelector("details")?.tagName, "DETAILS");
      assert.equal(blocks[0].querySelector("pre")?.textContent, ERROR.traceback);
      assert.equal(blocks[1].querySelector("pre")?.textContent, "(no traceback)");
    }
    const drawn = m.els[0].querySelectorAll("[data-rt=exception]")[1];
    m.model.receive({ kind: "exception", error: { ...ERROR, message: "third" } });
    assert.equal(m.els[0].querySelectorAll("[data-rt=exception]")[1], drawn, "drawn blocks stay (an open one stays open)");
    rt(m.els[0], "exceptions").querySelectorAll("[data-rt=exception-dismiss]")[2].click();
    rt(m.els[1], "exception-dismiss").click();
    for (const el of m.els) {
      const left = el.querySelectorAll("[data-rt=exception]");
      assert.equal(left.length, 1, "dismissed in every view");
      assert.equal(left[0].querySelector("summary")?.textContent, "ValueError in handler on_event: bad city");
    }
    rt(m.els[0], "exception-dismiss").click();
    assert.equal(rt(m.els[0], "exceptions").hidden, true);
    for (const close of m.closeViews) close();
    m.closeModel();
    assert.equal(fresh.dom.liveListeners(), 0);
  });

  it("says how many failures like this one the kernel held back", () => {
    assert.equal(repeatsLabel(0), "");
    assert.equal(repeatsLabel(undefined), "");
    assert.equal(repeatsLabel("3"), "");
    assert.equal(repeatsLabel(12), " (and 12 more like it before)");
    const m = mount(1);
    m.model.receive({ kind: "exception", error: { ...ERROR, source: "handler", name: "on_event", repeats: 12 } });
    const summary = rt(m.els[0], "exception").querySelector("summary");
    assert.equal(summary?.textContent, "ValueError in handler on_event: bad city (and 12 more like it before)");
    m.closeViews[0]();
    m.closeModel();
    assert.equal(fresh.dom.liveListeners(), 0);
  });

  it("shows notices with a dismiss button, and the status line from the traits", async () => {
    const now = Date.now() / 1000;
    const m = mount(1, {
      status: "connected",
      endpoint: { kind: "local", label: "local server", model: "m1", dialect: "ga" },
      connected_at: now - 65,
      expires_at: 0,
      status_message: "",
    });
    const el = m.els[0];
    assert.equal(rt(el, "status").textContent, "Connected to the local server (offline stand-in) \u00b7 m1");
    assert.match(rt(el, "status").title, /Connected since .* \(1:05\)/);
    assert.equal(rt(el, "connect").disabled, true);
    assert.equal(rt(el, "disconnect").disabled, false);
    m.model.receive({ kind: "notice", level: "warning", text: "hold the key" });
    const notices = rt(el, "notice");
    assert.equal(notices.children.length, 1);
    assert.match(notices.textContent, /Warning:hold the key/);
    m.model.receive({ kind: "notice", level: "info", text: "No API key found" });
    const info = notices.children[1];
    assert.equal(info.className, "rtwidget-notice rtwidget-notice-info", "info is its own calm style");
    assert.equal(info.textContent, "No API key found\u00d7", "no level word before an info line");
    const close = notices.querySelector(".rtwidget-notice-close");
    assert.ok(close);
    close.click();
    await tick(); // a click also tries to start audio output (none in Node): its notice comes later
    assert.ok(!m.state.notices.some((/** @type {any} */ n) => n.text === "hold the key"));
    m.closeViews[0]();
    m.closeModel();
  });

  it("has one primary control that says its action: Start talking, then Stop; it connects first", () => {
    const m = mount(1, { status: "idle" });
    const el = m.els[0];
    const mic = rt(el, "mic");
    assert.equal(mic.textContent, "Start talking");
    assert.ok(mic.classList.contains("rtwidget-primary"));
    assert.match(mic.title, /^Connect, then/);
    m.state.capture.state = "on"; // what the capture says once the microphone runs (no microphone in Node)
    m.state.emit("mic");
    assert.equal(mic.textContent, "Stop");
    assert.ok(mic.classList.contains("rtwidget-primary-stop"));
    m.state.capture.state = "off";
    m.state.emit("mic");
    assert.equal(mic.textContent, "Start talking");
    mic.click(); // not connected: it asks the kernel to connect, and starts the microphone in the same gesture
    const kinds = m.model.sent.map((s) => s.content.kind).filter((k) => k !== "hello");
    // (Node has no microphone: the start it tried reports its failure as mic_state.)
    assert.deepEqual(kinds, ["connect", "mic_state"]);
    m.closeViews[0]();
    m.closeModel();
    assert.equal(fresh.dom.liveListeners(), 0);
  });

  it("draws the meters once a frame, in visible steps, restyling a bar only when its step changes", () => {
    const m = mount(1);
    const bar = /** @type {FakeElement} */ (rt(m.els[0], "out-meter").children[0]);
    /** @type {string[]} */
    const writes = [];
    let shown = "";
    Object.defineProperty(bar.style, "transform", {
      get: () => shown,
      set: (/** @type {string} */ v) => writes.push((shown = v)),
    });
    fresh.dom.runFrames();
    writes.length = 0;
    m.state.stats.outLevel = 0.1; // -20 dB: 2/3 of the bar
    for (let k = 0; k < 5; k++) m.state.emit("level");
    assert.equal(fresh.dom.runFrames(), 1, "five levels in one frame: one draw");
    assert.deepEqual(writes, [`scaleX(${20 / 30})`]);
    m.state.stats.outLevel = 0.101; // under a step (2 px of 60) away: nothing to restyle
    m.state.emit("level");
    fresh.dom.runFrames();
    assert.equal(writes.length, 1);
    m.state.stats.outLevel = 0;
    m.state.emit("level");
    fresh.dom.runFrames();
    assert.deepEqual(writes, [`scaleX(${20 / 30})`, "scaleX(0)"]);
    m.closeViews[0]?.();
    m.closeModel();
  });

  it("labels the meters, says echo cancellation in words, and has no instructions box in the bars", () => {
    const m = mount(1);
    const el = m.els[0];
    const levels = el.querySelectorAll(".rtwidget-level");
    assert.deepEqual(
      levels.map((g) => [g.textContent, !!g.querySelector("[data-rt=mic-meter]"), !!g.querySelector("[data-rt=out-meter]")]),
      [
        ["you", true, false],
        ["model", false, true],
      ],
    );
    const echo = el.querySelectorAll(".rtwidget-check").find((l) => l.querySelector("[data-rt=echo]"));
    assert.equal(echo?.textContent, "Echo cancellation");
    assert.match(echo?.title ?? "", /remove the model's voice/);
    const bars = el.querySelectorAll(".rtwidget-bar");
    assert.equal(bars.length, 3);
    assert.ok(bars.every((b) => b.querySelector("[data-rt=instructions]") === null), "instructions: the Session form");
    assert.doesNotMatch(el.textContent, /Mic off|echo cancel\b/);
    m.closeViews[0]();
    m.closeModel();
  });

  it("keeps text typed while disconnected until the session connects, and asks for clear and new session", () => {
    const m = mount(1, { status: "idle" });
    const el = m.els[0];
    rt(el, "text").value = "typed offline";
    rt(el, "send").click();
    assert.equal(rt(el, "text").value, "typed offline", "kept while not connected");
    m.model.set("status", "connecting");
    assert.equal(rt(el, "text").value, "typed offline");
    m.model.set("status", "connected"); // the kernel sent it as the session opened
    assert.equal(rt(el, "text").value, "");
    rt(el, "text").value = "sent at once";
    rt(el, "send").click();
    assert.equal(rt(el, "text").value, "", "connected: the box empties on send");
    m.model.set("status", "closed");
    rt(el, "text").value = "will fail";
    rt(el, "send").click();
    m.model.set("status", "error");
    m.model.set("status", "connected");
    assert.equal(rt(el, "text").value, "will fail", "a failed connect leaves the text for another try");
    rt(el, "clear").click();
    rt(el, "new-session").click();
    const kinds = m.model.sent.map((s) => s.content).filter((c) => c.kind !== "hello");
    assert.deepEqual(kinds, [
      { kind: "text", text: "typed offline" },
      { kind: "text", text: "sent at once" },
      { kind: "text", text: "will fail" },
      { kind: "clear" },
      { kind: "new_session" },
    ]);
    m.model.set("status", "idle");
    assert.equal(rt(el, "clear").disabled, true, "nothing to clear without a connection");
    m.closeViews[0]();
    m.closeModel();
  });

  it("hides a panel row once all its panels are hidden", () => {
    const m = mount(1);
    const el = m.els[0];
    const aux = el.querySelector(".rtwidget-row-aux");
    assert.ok(aux);
    rt(el, "tab-tools").click();
    assert.equal(rt(el, "panel-tools").hidden, true);
    assert.equal(aux.hidden, false);
    rt(el, "tab-session").click();
    assert.equal(aux.hidden, true);
    rt(el, "tab-session").click();
    assert.equal(aux.hidden, false);
    assert.equal(rt(el, "tab-tools").getAttribute("aria-pressed"), "false");
    m.closeViews[0]();
    m.closeModel();
  });
});
