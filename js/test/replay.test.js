import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatClock } from "../../rtwidget/widget/static/format.js";
import { ReplayBar, replayState } from "../../rtwidget/widget/static/replay.js";
import { domPerTest } from "./fakedom.js";
import { FakeModel } from "./helpers.js";

/**
 * Fire a DOM event on a fake element.
 * @param {any} el
 * @param {string} type
 */
function fire(el, type) {
  el.fire(type);
}

const REPLAYING = { name: "lesson.cassette", duration: 75.5, position: 12.3, speed: 1, playing: true, epoch: 0 };

describe("the replay bar", () => {
  domPerTest();

  /** @param {Record<string, any>} replay */
  function bar(replay) {
    const model = new FakeModel({ replay });
    /** @type {any[]} */
    const sent = [];
    let resyncs = 0;
    const b = new ReplayBar(model, (m) => sent.push(m), () => (resyncs += 1));
    const root = document.createElement("div");
    b.bind(new AbortController().signal);
    b.draw(root);
    return { model, b, root, sent, resyncs: () => resyncs };
  }

  it("is hidden on a live widget and shown, with the position and the name, in a replay", () => {
    const live = bar({});
    assert.equal(live.b.el.hidden, true);
    assert.equal(live.root.classList.contains("rtwidget-replaying"), false);
    const { b, root } = bar(REPLAYING);
    assert.equal(b.el.hidden, false);
    assert.equal(root.classList.contains("rtwidget-replaying"), true, "the live-only controls are hidden");
    assert.equal(b.time.textContent, "0:12 / 1:15");
    assert.equal(b.name.textContent, "lesson.cassette");
    assert.equal(b.play.textContent, "Pause");
    assert.equal(b.slider.max, "75.5");
    assert.equal(b.slider.value, "12.3");
    assert.match(b.speed.title, /not played/);
  });

  it("sends play, pause, seek and speed", () => {
    const { model, b, root, sent } = bar(REPLAYING);
    b.play.click();
    model.set("replay", { ...REPLAYING, playing: false });
    b.draw(root);
    assert.equal(b.play.textContent, "Play");
    b.play.click();
    b.slider.value = "30";
    fire(b.slider, "input");
    assert.equal(b.time.textContent, "0:30 / 1:15", "the time follows the drag");
    model.set("replay", { ...REPLAYING, position: 13 });
    b.draw(root);
    assert.equal(b.slider.value, "30", "the kernel's position does not move a slider being dragged");
    fire(b.slider, "change");
    b.speed.value = "instant";
    fire(b.speed, "change");
    b.speed.value = "2";
    fire(b.speed, "change");
    assert.deepEqual(sent, [
      { kind: "replay", action: "pause" },
      { kind: "replay", action: "play" },
      { kind: "replay", action: "seek", value: 30 },
      { kind: "replay", action: "speed", value: "instant" },
      { kind: "replay", action: "speed", value: 2 },
    ]);
  });

  it("asks for a fresh snapshot when the kernel starts over (a new epoch), once", () => {
    const { model, b, root, resyncs } = bar(REPLAYING);
    assert.equal(resyncs(), 0);
    model.set("replay", { ...REPLAYING, epoch: 1 });
    b.draw(root);
    b.draw(root);
    assert.equal(resyncs(), 1);
  });

  it("reads the trait safely and writes m:ss", () => {
    assert.equal(replayState({}), null);
    assert.equal(replayState(null), null);
    assert.equal(replayState({ duration: 3, speed: "instant" })?.speed, "instant");
    assert.equal(formatClock(0), "0:00");
    assert.equal(formatClock(61.9), "1:01");
    assert.equal(formatClock(Number.NaN), "0:00");
  });
});
