// The event-log table's pure parts (search, JSONL, the longest type, follow state, the type column's width)
// and the LogView on the fake DOM: headings, the "N new events" pill, search, copy, download, Table/Flow.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { JSONL_FIELDS, FilterView, FollowState, LongestType, RowStore, jsonlFileName, rowContains, rowsJsonl }
  from "../../rtwidget/widget/static/rows.js";
import { copyText, typeColumnWidth } from "../../rtwidget/widget/static/logparts.js";
import { LOG_ROW_HEIGHT, LogView } from "../../rtwidget/widget/static/logview.js";
import { installDom } from "./fakedom.js";

const dom = installDom();
after(() => dom.uninstall());

/** @typedef {import("../../rtwidget/widget/static/rows.js").Row} Row */

/**
 * @param {number} id
 * @param {Partial<Row>} [extra]
 * @returns {Row}
 */
function row(id, extra = {}) {
  return { id, t: id / 10, dir: "server", type: "response.created", size: 10, count: 1, text: "", data: {}, ...extra };
}

/** @param {FilterView} v */
const ids = (v) => Array.from({ length: v.length }, (_, i) => v.at(i)?.id);

describe("search in type, summary and payload", () => {
  it("rowContains matches type, text and the data's JSON, any case; the JSON cache follows a replaced data", () => {
    const r = row(1, { type: "conversation.item.create", text: "function_call_output", data: { out: "Zanzibar" } });
    assert.ok(rowContains(r, ""));
    assert.ok(rowContains(r, "item.create"));
    assert.ok(rowContains(r, "call_output"));
    assert.ok(rowContains(r, "zanzibar"));
    assert.ok(rowContains(r, '"out":"zanzibar"'), "the JSON itself, keys included");
    assert.equal(rowContains(r, "paris"), false);
    r.data = { out: "Paris" }; // a merged row's data is replaced by its latest delta
    assert.ok(rowContains(r, "paris"));
    assert.equal(rowContains(r, "zanzibar"), false);
  });

  it("FilterView's search narrows incrementally and combines with the type and direction filters", () => {
    const s = new RowStore(100);
    const v = new FilterView(s);
    s.append([row(1, { data: { w: "alpha" } }), row(2, { dir: "client", data: { w: "alpha" } }), row(3)]);
    v.setFilter("", "", "  ALPHA ");
    v.sync();
    assert.deepEqual(ids(v), [1, 2]);
    s.append([row(4, { text: "alpha in text" }), row(5)]);
    v.sync();
    assert.deepEqual(ids(v), [1, 2, 4]);
    v.setFilter("", "client", "alpha");
    v.sync();
    assert.deepEqual(ids(v), [2]);
    v.setFilter("nope", "", "alpha");
    v.sync();
    assert.deepEqual(ids(v), []);
  });

  it("a merged row whose text grows into a match is inserted in order (and a view that fell behind rescans)", () => {
    const s = new RowStore(10_000);
    const v = new FilterView(s);
    v.setFilter("", "", "paris");
    s.append([row(1, { text: "Paris" }), row(2, { type: "response.output_text.delta", text: "Pa" }), row(3)]);
    v.sync();
    assert.deepEqual(ids(v), [1]);
    s.append([row(4, { text: "paris again" })]);
    s.update([{ id: 2, text: "Paris", count: 2 }]);
    v.sync();
    assert.deepEqual(ids(v), [1, 2, 4], "row 2 in its place, not at the end");
    s.update([{ id: 2, text: "Paris!", count: 3 }]);
    v.sync();
    assert.deepEqual(ids(v), [1, 2, 4], "no duplicate");
    // More updates than the store remembers: the view rescans and still finds the row.
    s.append([row(5, { type: "response.output_text.delta", text: "" })]);
    for (let i = 0; i < 5000; i++) s.update([{ id: 4, count: i }]);
    s.update([{ id: 5, text: "to paris" }]);
    assert.ok(s.touched.length <= 2048 && s.touchedBase > 0);
    v.sync();
    assert.deepEqual(ids(v), [1, 2, 4, 5]);
  });
});

describe("JSONL download", () => {
  it("one JSON object per row with the documented fields, missing ones null, oldest first", () => {
    const s = new RowStore(3);
    assert.equal(rowsJsonl(s), "");
    s.append([row(1), row(2, { dir: "client", event_id: "evt_1" }), row(3), row(4, { count: 4, text: "{}" })]);
    const text = rowsJsonl(s);
    assert.ok(text.endsWith("\n"));
    const lines = text.trimEnd().split("\n").map((l) => JSON.parse(l));
    assert.equal(lines.length, 3, "the rows the store keeps");
    assert.deepEqual(Object.keys(lines[0]), [...JSONL_FIELDS]);
    assert.equal(lines[0].event_id, "evt_1");
    assert.equal(lines[1].cause_id, null);
    assert.deepEqual(lines[2], { t: 0.4, dir: "server", type: "response.created", size: 10, count: 4,
      event_id: null, cause_id: null, text: "{}", data: {} });
  });

  it("names the file by local date and time", () => {
    assert.equal(jsonlFileName(new Date(2026, 0, 2, 3, 4, 5)), "rtwidget-events-2026-01-02-030405.jsonl");
  });
});

describe("type column", () => {
  it("LongestType grows with longer types only, and starts again after a reset", () => {
    const s = new RowStore(100);
    const l = new LongestType(s);
    assert.equal(l.sync(), false);
    s.append([row(1, { type: "session.created" }), row(2, { type: "input_audio_buffer.speech_started" })]);
    assert.equal(l.sync(), true);
    assert.equal(l.value, "input_audio_buffer.speech_started");
    s.append([row(3, { type: "error" })]);
    assert.equal(l.sync(), false);
    s.reset([row(9, { type: "response.done" })]);
    assert.equal(l.sync(), true);
    assert.equal(l.value, "response.done");
  });

  it("typeColumnWidth measures in the row's font on a canvas, else counts characters (ch)", () => {
    assert.equal(typeColumnWidth("response.done", ""), "14ch");
    assert.equal(typeColumnWidth("ab", ""), "5ch", "never narrower than the heading 'type'");
    const g = /** @type {any} */ (globalThis);
    const create = g.document.createElement;
    /** @type {string[]} */
    const fonts = [];
    g.document.createElement = () => ({
      getContext: () => ({
        /** @param {string} f */
        set font(f) {
          fonts.push(f);
        },
        measureText: (/** @type {string} */ t) => ({ width: t.length * 7.25 }),
      }),
    });
    try {
      assert.equal(typeColumnWidth("response.done", "12px mono"), `${Math.ceil(13 * 7.25) + 4}px`);
      assert.deepEqual(fonts, ["12px mono"]);
    } finally {
      g.document.createElement = create;
    }
  });
});

describe("copyText", () => {
  it("falls back to a selected textarea and execCommand('copy') when the Clipboard API refuses", async () => {
    const g = /** @type {any} */ (globalThis);
    const nav = Object.getOwnPropertyDescriptor(globalThis, "navigator");
    /** @type {string[]} */
    const copied = [];
    Object.defineProperty(globalThis, "navigator", {
      value: { clipboard: { writeText: async () => Promise.reject(new Error("denied")) } },
      configurable: true,
    });
    const create = g.document.createElement;
    g.document.createElement = (/** @type {string} */ tag) => {
      const e = create(tag);
      if (tag === "textarea") e.select = () => (e.selected = true);
      return e;
    };
    g.document.execCommand = (/** @type {string} */ cmd) => {
      const area = g.document.body.children.find((/** @type {any} */ c) => c.tagName === "TEXTAREA");
      copied.push(`${cmd}:${area?.value}:${area?.selected}`);
      return true;
    };
    try {
      assert.equal(await copyText('{"a": 1}'), true);
    } finally {
      if (nav) Object.defineProperty(globalThis, "navigator", nav);
      delete g.document.execCommand;
      g.document.createElement = create;
    }
    assert.deepEqual(copied, ['copy:{"a": 1}:true']);
    assert.equal(g.document.body.children.length, 0, "the textarea is removed again");
  });
});

describe("FollowState", () => {
  it("counts rows that arrive while scrolled up (trimmed ones too), and forgets them on resume", () => {
    const f = new FollowState();
    f.drawn(10, 0);
    assert.equal(f.unseen, 0);
    f.scrolled(false);
    f.drawn(13, 0);
    assert.equal(f.unseen, 3);
    f.drawn(13, 2); // at the store's limit: two dropped at the head, two new at the tail
    assert.equal(f.unseen, 5);
    f.drawn(4, 0); // a shorter list (a reset) adds nothing
    assert.equal(f.unseen, 5);
    f.scrolled(true);
    assert.equal(f.unseen, 0);
    assert.equal(f.follow, true);
    f.scrolled(false);
    f.drawn(6, 0);
    f.resume();
    assert.deepEqual([f.follow, f.unseen], [true, 0]);
  });
});

/** A LogView on the fake DOM with `n` rows drawn; the viewport is 200 px high (fakedom). */
function logView(n = 30) {
  const store = new RowStore(1000);
  const ctl = new AbortController();
  const log = new LogView(store, { frameTimes: [] }, ctl.signal);
  store.append(Array.from({ length: n }, (_, i) => row(i + 1, { type: i % 2 ? "response.created" : "session.updated" })));
  log.invalidate(true);
  dom.runFrames();
  return { store, log, ctl };
}

/**
 * @param {LogView} log
 * @param {string} rt
 */
const byRt = (log, rt) => /** @type {HTMLElement} */ (log.el.querySelector(`[data-rt=${rt}]`));

describe("LogView", () => {
  it("has headings over the columns and a legend of directions and families", () => {
    const { log, ctl } = logView(3);
    const head = byRt(log, "log-head");
    assert.deepEqual(
      Array.from(head.children, (c) => c.textContent),
      ["\u21c4", "time", "type", "size", "\u00d7n", "summary", ""],
    );
    assert.match(/** @type {HTMLElement} */ (head.children[0]).title, /client \u2192 server/);
    const legend = byRt(log, "log-legend").textContent;
    for (const words of ["client \u2192 server", "server \u2192 client", "local (rtwidget.*)", "conversation.item"]) {
      assert.ok(legend.includes(words), words);
    }
    const typeCell = /** @type {HTMLElement} */ (log.el.querySelector("[data-rt=log-row]")?.children[2]);
    assert.equal(typeCell.style.width, "17ch", "the longest type kept (response.created) plus one");
    assert.equal(/** @type {HTMLElement} */ (head.children[2]).style.width, "17ch");
    ctl.abort();
  });

  it("follows the newest row; scrolled up, the pill counts new rows and jumps back down", () => {
    const { store, log, ctl } = logView(30);
    const v = log.viewport;
    const pill = byRt(log, "log-new-pill");
    assert.equal(v.scrollTop, 30 * LOG_ROW_HEIGHT - 200, "at the bottom");
    assert.equal(pill.hidden, true);
    v.scrollTop = 0;
    /** @type {any} */ (v).scrollHeight = 30 * LOG_ROW_HEIGHT;
    /** @type {any} */ (v).fire("scroll");
    dom.runFrames();
    store.append([row(31), row(32), row(33)]);
    log.invalidate();
    dom.runFrames();
    assert.equal(v.scrollTop, 0, "stays where the reader is");
    assert.equal(pill.hidden, false);
    assert.equal(pill.textContent, "\u2193 3 new events");
    pill.click();
    dom.runFrames();
    assert.equal(v.scrollTop, 33 * LOG_ROW_HEIGHT - 200);
    assert.equal(pill.hidden, true);
    ctl.abort();
  });

  it("the search box filters by payload; Copy JSON copies the selected event; Download makes JSONL", async () => {
    const { store, log, ctl } = logView(5);
    store.append([row(6, { type: "conversation.item.create", data: { output: "zanzibar" } })]);
    const search = /** @type {HTMLInputElement} */ (byRt(log, "log-search"));
    search.value = "Zanzibar";
    /** @type {any} */ (search).fire("input");
    dom.runFrames();
    const rows = log.el.querySelectorAll("[data-rt=log-row]");
    assert.equal(rows.length, 1);
    const copy = /** @type {HTMLButtonElement} */ (byRt(log, "log-copy"));
    assert.equal(copy.disabled, true);
    /** @type {any} */ (rows[0]).click();
    dom.runFrames();
    assert.equal(copy.disabled, false);
    /** @type {string[]} */
    const copied = [];
    const nav = Object.getOwnPropertyDescriptor(globalThis, "navigator");
    Object.defineProperty(globalThis, "navigator", {
      value: { clipboard: { writeText: async (/** @type {string} */ t) => void copied.push(t) } },
      configurable: true,
    });
    try {
      await log.copySelected();
    } finally {
      if (nav) Object.defineProperty(globalThis, "navigator", nav);
    }
    assert.deepEqual(copied.map((t) => JSON.parse(t)), [{ output: "zanzibar" }]);
    assert.equal(log.copyStatus.textContent, "copied");
    assert.match(byRt(log, "log-download").title, /the last 1000 \(the widget's log_limit\)/);
    ctl.abort();
  });

  it("Table and Flow switch between the table and the ladder (aria-pressed), the filters with the table", () => {
    const { log, ctl } = logView(4);
    const [table, flow] = [byRt(log, "log-mode-table"), byRt(log, "log-mode-flow")];
    assert.equal(table.getAttribute("aria-pressed"), "true");
    flow.click();
    dom.runFrames();
    assert.equal(flow.getAttribute("aria-pressed"), "true");
    assert.equal(table.getAttribute("aria-pressed"), "false");
    assert.ok(log.ladder, "the ladder is made when first shown");
    assert.equal(log.ladder?.el.hidden, false);
    assert.equal(log.table.hidden, true);
    assert.equal(byRt(log, "log-filter-type").hidden, true);
    assert.ok(log.stage.contains(/** @type {any} */ (log.ladder?.el)));
    table.click();
    dom.runFrames();
    assert.equal(log.ladder?.el.hidden, true);
    assert.equal(log.table.hidden, false);
    ctl.abort();
  });
});
