// The event log's flow view (ladder.js) on the fake DOM: order and direction of the arrows, merged rows,
// a function call's rows linked (with the response.create after its outputs), bounded and incremental drawing.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { LADDER_MAX_ROWS, LadderView, ladderCallOf } from "../../rtwidget/widget/static/ladder.js";
import { RowStore } from "../../rtwidget/widget/static/rows.js";
import { installDom } from "./fakedom.js";

const dom = installDom();
after(() => dom.uninstall());

/** @typedef {import("../../rtwidget/widget/static/rows.js").Row} Row */

let nextId = 1;

/**
 * @param {string} dir
 * @param {string} type
 * @param {Partial<Row>} [extra]
 * @returns {Row}
 */
function row(dir, type, extra = {}) {
  const id = nextId++;
  return { id, t: id / 100, dir, type, size: 10, count: 1, text: "", item_id: null, data: {}, ...extra };
}

/** The rows of a tool call as the local server and rtwidget log them (see the protocol doc). */
function toolCallRows(callId = "call_A", name = "get_weather") {
  const item = { id: `item_${callId}`, type: "function_call", call_id: callId, name };
  return [
    row("server", "response.output_item.added", { data: { item } }),
    row("server", "response.function_call_arguments.delta", { count: 2, data: { call_id: callId, delta: "}" } }),
    row("server", "response.function_call_arguments.done", { data: { call_id: callId, name, arguments: "{}" } }),
    row("server", "response.done", {
      text: "completed",
      data: { response: { status: "completed", output: [item, { type: "message", call_id: "not a call" }] } },
    }),
    row("local", "rtwidget.tool.started", { text: name, data: { name, call_id: callId } }),
    row("local", "rtwidget.tool.done", { text: name, data: { name, call_id: callId, ok: true } }),
    row("client", "conversation.item.create", {
      text: "function_call_output",
      data: { item: { type: "function_call_output", call_id: callId, output: "{}" } },
    }),
  ];
}

/**
 * @param {number} [limit]
 * @returns {{store: RowStore, view: LadderView, controller: AbortController}}
 */
function make(limit = 5000) {
  const store = new RowStore(limit);
  const controller = new AbortController();
  return { store, view: new LadderView(store, controller.signal), controller };
}

/**
 * @param {LadderView} view
 * @returns {any[]} the row elements, top to bottom
 */
const rowEls = (view) => /** @type {any} */ (view.el).querySelectorAll("[data-rt=ladder-row]");

/**
 * @param {LadderView} view
 * @param {string} selector
 * @returns {any} the first element of the view that matches (a fake element)
 */
const q = (view, selector) => view.el.querySelector(selector);

/**
 * @param {any} el a row element
 * @param {string} cls
 * @returns {string}
 */
const part = (el, cls) => el.querySelector(`.rtwidget-ladder-${cls}`)?.textContent ?? "";

describe("LadderView", () => {
  it("draws one row per event in time order, each an arrow in its direction (local: a mark)", () => {
    const { store, view } = make();
    const rows = [
      row("server", "session.created"),
      row("client", "session.update"),
      row("local", "rtwidget.state", { text: "open" }),
      row("server", "input_audio_buffer.speech_started"),
      row("server", "response.output_audio_transcript.delta"),
    ];
    store.append(rows);
    view.draw();
    const els = rowEls(view);
    assert.deepEqual(
      els.map((e) => [e.dataset.type, e.dataset.dir, Number(e.dataset.id)]),
      rows.map((r) => [r.type, r.dir, r.id]),
    );
    for (const e of els) {
      const local = e.dataset.dir === "local";
      assert.equal(!!e.querySelector(".rtwidget-ladder-arrow"), !local, e.dataset.type);
      assert.equal(!!e.querySelector(".rtwidget-ladder-mark"), local, e.dataset.type);
      assert.ok(e.classList.contains(`rtwidget-ladder-${e.dataset.dir}`));
    }
    assert.ok(els[1].classList.contains("rtwidget-fam-session"), "coloured by family");
    assert.ok(els[3].classList.contains("rtwidget-fam-input"));
    assert.equal(part(els[0], "time"), "0.010");
  });

  it("shows the full event type, breakable after each dot but never cut", () => {
    const { store, view } = make();
    const type = "response.output_audio_transcript.delta";
    store.append([row("server", type)]);
    view.draw();
    const typeEl = rowEls(view)[0].querySelector(".rtwidget-ladder-type");
    assert.equal(typeEl.textContent, type);
    assert.equal(typeEl.querySelectorAll("wbr").length, 2);
  });

  it("draws a merged row once, labelled ×N, and updates it in place while it grows", () => {
    const { store, view } = make();
    const audio = row("server", "response.output_audio.delta", { count: 3, text: "0.30 s of audio" });
    store.append([row("server", "response.created"), audio]);
    view.draw();
    const [, merged] = rowEls(view);
    assert.equal(part(merged, "count"), "\u00d73");
    assert.equal(part(merged, "detail"), "0.30 s of audio");
    store.update([{ id: Number(merged.dataset.id), count: 7, text: "0.70 s of audio" }]);
    view.draw();
    assert.equal(rowEls(view).length, 2, "no new row for an update");
    assert.equal(rowEls(view)[1], merged, "the same element");
    assert.equal(part(merged, "count"), "\u00d77");
    assert.equal(part(merged, "detail"), "0.70 s of audio");
    assert.equal(part(rowEls(view)[0], "count"), "", "a single event has no count");
  });

  it("links a function call, its output and the one response.create: bracket, details and highlight", () => {
    const { store, view } = make();
    const before = row("client", "conversation.item.create", { text: "user", data: { item: { type: "message" } } });
    const call = toolCallRows("call_A", "get_weather");
    const create = row("client", "response.create");
    const between = row("server", "rate_limits.updated");
    const later = row("server", "response.created");
    store.append([before, ...call, between, create, later]);
    view.draw();
    const els = rowEls(view);
    const byId = (/** @type {number} */ id) => els.find((e) => Number(e.dataset.id) === id);
    const linked = els.filter((e) => e.classList.contains("rtwidget-ladder-linked")).map((e) => Number(e.dataset.id));
    const expected = [...call, create].map((r) => r.id);
    assert.deepEqual(linked, expected, "every row of the call, and the response.create after its output");
    for (const id of expected) assert.equal(byId(id).dataset.calls, "call_A");
    // The bracket runs from the first row of the call to the response.create, through the unrelated rows between.
    assert.ok(byId(call[0].id).classList.contains("rtwidget-ladder-call-first"));
    for (const r of call.slice(1)) assert.ok(byId(r.id).classList.contains("rtwidget-ladder-call-on"), r.type);
    assert.equal(part(byId(call[3].id), "detail"), "completed: 1 function call", "the response that made the call");
    assert.ok(byId(between.id).classList.contains("rtwidget-ladder-call-through"));
    assert.ok(!byId(between.id).classList.contains("rtwidget-ladder-linked"));
    assert.ok(byId(create.id).classList.contains("rtwidget-ladder-call-end"));
    assert.ok(!byId(call[6].id).classList.contains("rtwidget-ladder-call-end"), "only the newest row ends it");
    assert.ok(!byId(later.id).classList.contains("rtwidget-ladder-call-through"), "nothing after the end");
    assert.ok(!byId(before.id).classList.contains("rtwidget-ladder-linked"));
    // Details that teach: the tool and its call_id, the output's call, how many outputs response.create follows.
    assert.equal(part(byId(call[2].id), "detail"), "get_weather call_A");
    assert.equal(part(byId(call[6].id), "detail"), "output of get_weather call_A");
    assert.equal(part(byId(create.id), "detail"), "after 1 function_call_output");
    assert.equal(part(byId(before.id), "detail"), "user");
    // Clicking one row of the call highlights all of them, selects it and shows its JSON.
    byId(call[6].id).querySelector(".rtwidget-ladder-type").click();
    const lit = els.filter((e) => e.classList.contains("rtwidget-ladder-hl")).map((e) => Number(e.dataset.id));
    assert.deepEqual(lit, expected);
    assert.ok(byId(call[6].id).classList.contains("rtwidget-selected"));
    const detail = q(view, "[data-rt=ladder-detail]");
    assert.equal(detail.hidden, false);
    const json = /^conversation\.item\.create {2}t=.*\n\{\n {2}"item": \{\n {4}"type": "function_call_output"/;
    assert.match(detail.textContent, json);
    // A click on the selected row unselects it.
    byId(call[6].id).click();
    assert.equal(detail.hidden, true);
    assert.equal(els.filter((e) => e.classList.contains("rtwidget-ladder-hl")).length, 0);
  });

  it("links a response.create to every output created since the previous one (parallel calls)", () => {
    const { store, view } = make();
    const a = toolCallRows("call_A", "get_weather");
    const b = toolCallRows("call_B", "get_time");
    const create = row("client", "response.create");
    const next = toolCallRows("call_C", "get_weather");
    const create2 = row("client", "response.create");
    store.append([...a, ...b, create, ...next, create2]);
    view.draw();
    const els = rowEls(view);
    const first = els.find((e) => Number(e.dataset.id) === create.id);
    const second = els.find((e) => Number(e.dataset.id) === create2.id);
    assert.equal(first.dataset.calls, "call_A call_B");
    assert.equal(part(first, "detail"), "after 2 function_call_outputs");
    assert.equal(second.dataset.calls, "call_C", "outputs before the previous response.create do not count");
    // Hovering a row of call B lights B's rows and the response.create, not A's.
    els.find((e) => e.dataset.calls === "call_B" && e.dataset.type === "rtwidget.tool.done").fire("mouseover");
    const lit = els.filter((e) => e.classList.contains("rtwidget-ladder-hl"));
    assert.equal(lit.length, 8);
    assert.ok(lit.every((e) => e.dataset.calls.split(" ").includes("call_B")));
    /** @type {any} */ (view.rowsEl).fire("mouseleave");
    assert.equal(els.filter((e) => e.classList.contains("rtwidget-ladder-hl")).length, 0);
  });

  it("links an error to the client event that caused it", () => {
    const { store, view } = make();
    const bad = row("client", "conversation.item.delete", { event_id: "evt_7", data: { item_id: "nope" } });
    const other = row("server", "rate_limits.updated");
    const err = row("server", "error", { text: "item not found", cause_id: "evt_7" });
    const orphan = row("server", "error", { text: "lost", cause_id: "evt_gone" });
    store.append([bad, other, err, orphan]);
    view.draw();
    const [badEl, otherEl, errEl, orphanEl] = rowEls(view);
    assert.equal(badEl.dataset.calls, "cause:evt_7");
    assert.equal(errEl.dataset.calls, "cause:evt_7");
    assert.ok(badEl.classList.contains("rtwidget-ladder-call-first"));
    assert.ok(otherEl.classList.contains("rtwidget-ladder-call-through"));
    assert.ok(errEl.classList.contains("rtwidget-ladder-call-end"));
    assert.equal(part(errEl, "detail"), "item not found");
    assert.equal(orphanEl.dataset.calls, undefined, "a cause no longer drawn links nothing");
    errEl.click();
    assert.ok(badEl.classList.contains("rtwidget-ladder-hl"), "selecting the error lights its cause");
  });

  it("shows an error's message and a server-created call item's tool", () => {
    const { store, view } = make();
    store.append([
      row("server", "error", { text: "invalid_request_error: Unknown parameter: 'foo'." }),
      row("server", "conversation.item.done", {
        text: "function_call get_weather",
        data: { item: { type: "function_call", call_id: "call_Z", name: "get_weather" } },
      }),
    ]);
    view.draw();
    const [err, item] = rowEls(view);
    assert.equal(part(err, "detail"), "invalid_request_error: Unknown parameter: 'foo'.");
    assert.ok(err.classList.contains("rtwidget-fam-error"));
    assert.equal(part(item, "detail"), "get_weather call_Z");
    assert.deepEqual(ladderCallOf(row("server", "x", { data: { item: { type: "message", call_id: "no" } } })), null);
  });

  it(`keeps only the newest ${LADDER_MAX_ROWS} rows in the DOM, and only rows the store keeps`, () => {
    const { store, view } = make();
    for (let i = 0; i < 10; i++) {
      store.append(Array.from({ length: 100 }, () => row("server", "response.created")));
      view.draw();
    }
    const els = rowEls(view);
    assert.equal(els.length, LADDER_MAX_ROWS);
    assert.equal(Number(els.at(-1).dataset.id), store.at(store.length - 1)?.id);
    assert.equal(Number(els[0].dataset.id), store.at(store.length - LADDER_MAX_ROWS)?.id);
    assert.equal(view.entries.length, LADDER_MAX_ROWS);
    assert.equal(view.byEl.size, LADDER_MAX_ROWS, "dropped rows are forgotten");
    // A store that keeps fewer rows than the ladder could show: rows it drops leave the ladder too.
    const small = make(20);
    small.store.append(Array.from({ length: 15 }, () => row("client", "session.update")));
    small.view.draw();
    small.store.append(Array.from({ length: 10 }, () => row("client", "session.update")));
    small.view.draw();
    assert.deepEqual(
      rowEls(small.view).map((e) => Number(e.dataset.id)),
      Array.from({ length: 20 }, (_, i) => /** @type {Row} */ (small.store.at(i)).id),
    );
  });

  it("draws incrementally: nothing if the store did not change, only the new rows, all after a reset", () => {
    const { store, view } = make();
    store.append([row("server", "session.created"), row("client", "session.update")]);
    view.draw();
    const first = rowEls(view);
    view.draw();
    assert.deepEqual(rowEls(view), first, "an unchanged store leaves the DOM alone");
    store.append([row("server", "session.updated")]);
    view.draw();
    const second = rowEls(view);
    assert.equal(second.length, 3);
    assert.equal(second[0], first[0], "earlier rows are kept, not rebuilt");
    assert.equal(second[1], first[1]);
    const kept = [row("server", "session.created")];
    store.reset(kept);
    view.draw();
    assert.deepEqual(
      rowEls(view).map((e) => Number(e.dataset.id)),
      kept.map((r) => r.id),
      "a snapshot replaces the ladder",
    );
    assert.notEqual(rowEls(view)[0], first[0]);
  });

  it("follows the newest row at the bottom; scrolled up it counts new events until the pill jumps back", () => {
    const { store, view } = make();
    const sc = /** @type {any} */ (view.scroller);
    sc.scrollHeight = 1000;
    store.append([row("server", "session.created")]);
    view.draw();
    assert.equal(sc.scrollTop, 1000, "at the bottom");
    sc.scrollTop = 100;
    sc.fire("scroll");
    store.append([row("server", "response.created"), row("server", "response.done")]);
    view.draw();
    assert.equal(sc.scrollTop, 100, "stays where the reader is");
    const pill = q(view, "[data-rt=ladder-new-pill]");
    assert.equal(pill.hidden, false);
    assert.equal(pill.textContent, "2 new events \u2193");
    pill.click();
    assert.equal(sc.scrollTop, 1000);
    assert.equal(pill.hidden, true);
    store.append([row("server", "response.created")]);
    view.draw();
    assert.equal(pill.hidden, true, "following again");
  });

  it("hides the local events on demand, and its listeners go with the signal", () => {
    const before = dom.liveListeners();
    const { store, view, controller } = make();
    store.append([row("local", "rtwidget.state")]);
    view.draw();
    const toggle = q(view, "[data-rt=ladder-local]");
    assert.equal(toggle.checked, true);
    toggle.checked = false;
    toggle.fire("change");
    assert.ok(view.el.classList.contains("rtwidget-ladder-hide-local"));
    assert.ok(dom.liveListeners() > before);
    controller.abort();
    assert.equal(dom.liveListeners(), before);
  });
});
