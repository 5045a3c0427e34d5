// The doctor's hints in the event log and the flow view: a hint row reads as a hint (its level's class, its
// what as the summary, fix and url in the tooltip), and selecting it marks the rows of its event ids.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { hintEventIds, hintLevel, hintTitle } from "../../rtwidget/widget/static/families.js";
import { LadderView } from "../../rtwidget/widget/static/ladder.js";
import { LogView } from "../../rtwidget/widget/static/logview.js";
import { RowStore } from "../../rtwidget/widget/static/rows.js";
import { installDom } from "./fakedom.js";

const dom = installDom();
after(() => dom.uninstall());

/** @typedef {import("../../rtwidget/widget/static/rows.js").Row} Row */

const HINT_DATA = {
  rule: "silent-after-output",
  level: "error",
  what: "The model will stay silent.",
  fix: "Send one response.create.",
  event_ids: ["evt_2"],
  url: "docs/doctor.md#silent-after-output",
};

/** @returns {Row[]} a client event, another, and a hint about the second */
function rows() {
  return [
    { id: 1, t: 0.1, dir: "client", type: "session.update", size: 9, count: 1, text: "", event_id: "evt_1", data: {} },
    { id: 2, t: 0.2, dir: "client", type: "conversation.item.create", size: 9, count: 1, text: "function_call_output",
      event_id: "evt_2", data: {} },
    { id: 3, t: 0.3, dir: "local", type: "rtwidget.hint", size: 0, count: 1, text: HINT_DATA.what,
      data: { type: "rtwidget.hint", ...HINT_DATA } },
  ];
}

describe("hint rows", () => {
  it("read their level, event ids and tooltip from the hint; other rows have none", () => {
    const [plain, , hint] = rows();
    assert.equal(hintLevel(hint), "error");
    assert.equal(hintLevel({ ...hint, data: { level: "odd" } }), "warning");
    assert.equal(hintLevel(plain), "");
    assert.deepEqual([...hintEventIds(hint)], ["evt_2"]);
    assert.deepEqual([...hintEventIds(plain)], []);
    assert.deepEqual([...hintEventIds(undefined)], []);
    const title = hintTitle(hint);
    assert.match(title, /^The model will stay silent\.\nFix: Send one response\.create\./);
    assert.match(title, /See docs\/doctor\.md#silent-after-output \(rule silent-after-output\)/);
  });

  it("in the table: the hint's class and summary; selecting it marks the rows it is about", () => {
    const store = new RowStore(100);
    const ctl = new AbortController();
    const log = new LogView(store, { frameTimes: [] }, ctl.signal);
    store.append(rows());
    log.invalidate(true);
    dom.runFrames();
    const els = () => /** @type {HTMLElement[]} */ ([...log.el.querySelectorAll("[data-rt=log-row]")]);
    const hintEl = els()[2];
    assert.ok(hintEl.className.includes("rtwidget-log-hint rtwidget-log-hint-error"), hintEl.className);
    assert.equal(/** @type {HTMLElement} */ (hintEl.children[5]).textContent, HINT_DATA.what);
    assert.match(/** @type {HTMLElement} */ (hintEl.children[5]).title, /Fix: Send one response\.create\./);
    assert.ok(!els().some((el) => el.className.includes("rtwidget-log-marked")));
    log.select(3);
    dom.runFrames();
    assert.deepEqual(els().map((el) => el.className.includes("rtwidget-log-marked")), [false, true, false]);
    log.select(1);
    dom.runFrames();
    assert.ok(!els().some((el) => el.className.includes("rtwidget-log-marked")));
    ctl.abort();
  });

  it("in the flow view: a mark of the hint's level on the client lane, kept when local events are hidden", () => {
    const store = new RowStore(100);
    const ctl = new AbortController();
    const ladder = new LadderView(store, ctl.signal);
    store.append(rows());
    ladder.draw();
    const hintEl = /** @type {HTMLElement} */ (ladder.el.querySelector("[data-type='rtwidget.hint']"));
    assert.ok(hintEl.classList.contains("rtwidget-ladder-local"));
    assert.ok(hintEl.classList.contains("rtwidget-ladder-hint-error"));
    assert.ok(hintEl.querySelector(".rtwidget-ladder-mark"));
    assert.match(hintEl.title, /See docs\/doctor\.md#silent-after-output/);
    ctl.abort();
  });
});
