// The event log's flow view, for teaching: a ladder diagram with a client lane (the kernel) and a server
// lane, one arrow per row in time order. Rows of one function call (its item, arguments, output and the
// response.create that follows the outputs) share a call link: a bracket in the gutter and a common
// highlight. Only the newest LADDER_MAX_ROWS rows are in the DOM; each draw appends the new rows.
import { h, hRt, listen } from "./dom.js";
import { familyClass, hintLevel, hintTitle } from "./families.js";
import { formatRelTime, prettyJson } from "./format.js";

/** Rows the flow view keeps in the DOM (the newest ones). */
export const LADDER_MAX_ROWS = 300;

/** Longest detail text shown beside a type (the table and its JSON pane show the rest). */
const LADDER_DETAIL_MAX = 80;

/**
 * Whether a row is a merged stream (its count and text may still grow).
 * @param {string} type
 * @returns {boolean}
 */
function ladderIsStream(type) {
  return type.endsWith(".delta") || type === "input_audio_buffer.append";
}

/**
 * @param {unknown} value
 * @returns {Record<string, any>}
 */
function ladderObj(value) {
  return value && typeof value === "object" ? /** @type {Record<string, any>} */ (value) : {};
}

/**
 * The function call a row belongs to: its call_id and tool name, and whether it is a call's output.
 * @param {import("./rows.js").Row} row
 * @returns {{callId: string, name: string, output: boolean} | null}
 */
export function ladderCallOf(row) {
  const data = ladderObj(row.data);
  const item = ladderObj(data.item);
  const isCallItem = item.type === "function_call" || item.type === "function_call_output";
  const callId = data.call_id || (isCallItem ? item.call_id : "");
  if (typeof callId !== "string" || !callId) return null;
  const name = data.name || item.name || "";
  return { callId, name: typeof name === "string" ? name : "", output: item.type === "function_call_output" };
}

/**
 * The call_ids of the function calls a response made (a response.done's output items).
 * @param {import("./rows.js").Row} row
 * @returns {string[]}
 */
function ladderResponseCalls(row) {
  const output = ladderObj(ladderObj(row.data).response).output;
  if (!Array.isArray(output)) return [];
  return output.map((item) => ladderObj(item)).filter((item) => item.type === "function_call" && item.call_id)
    .map((item) => String(item.call_id));
}

/**
 * @param {string} text
 * @returns {string}
 */
function ladderClip(text) {
  return text.length > LADDER_DETAIL_MAX ? `${text.slice(0, LADDER_DETAIL_MAX)}\u2026` : text;
}

/**
 * The type as text with a break opportunity after each dot (a long type wraps at its parts, never cut).
 * @param {HTMLElement} el
 * @param {string} type
 */
function ladderFillType(el, type) {
  el.textContent = "";
  const parts = type.split(".");
  parts.forEach((part, i) => {
    el.append(i < parts.length - 1 ? `${part}.` : part);
    if (i < parts.length - 1) el.appendChild(document.createElement("wbr"));
  });
}

/**
 * @typedef {object} LadderEntry
 * @property {number} seq the row's sequence number in the store
 * @property {import("./rows.js").Row} row
 * @property {HTMLElement} el
 * @property {string[]} calls call_ids this row belongs to
 * @property {string} key what was drawn (count and text) for stream rows
 */

/**
 * The flow view of a RowStore: build it, put `el` in the page, call draw() once per animation frame.
 */
export class LadderView {
  /**
   * @param {import("./rows.js").RowStore} store
   * @param {AbortSignal} signal removes the view's listeners
   */
  constructor(store, signal) {
    this.store = store;
    this.drawnVersion = -1;
    this.epoch = -1;
    this.nextSeq = 0; // the next store row to draw
    this.follow = true; // stick to the newest row until the user scrolls up
    this.unseen = 0; // rows appended while scrolled up
    /** @type {LadderEntry[]} oldest first */
    this.entries = [];
    /** Element -> its entry (for clicks and highlights). @type {Map<HTMLElement, LadderEntry>} */
    this.byEl = new Map();
    /** call_id -> the newest entry of that call. @type {Map<string, LadderEntry>} */
    this.callLast = new Map();
    /** Client event_id -> its entry (an error's cause). @type {Map<string, LadderEntry>} */
    this.byEvent = new Map();
    /** call_id -> tool name. @type {Map<string, string>} */
    this.callName = new Map();
    /** call_ids of function_call_output items created since the last response.create. @type {string[]} */
    this.pendingOutputs = [];
    /** @type {number | null} */
    this.selectedId = null;
    /** Calls highlighted (those of the row hovered or selected). @type {Set<string>} */
    this.highlighted = new Set();
    /** Called with a row id when the user selects a row. @type {((id: number) => void) | null} */
    this.onSelect = null;

    this.localToggle = hRt("input", "ladder-local");
    this.localToggle.type = "checkbox";
    this.localToggle.checked = true;
    const localLabel = h("label", "rtwidget-check rtwidget-ladder-toggle");
    localLabel.title = "rtwidget's own events (tool runs, state changes) are marks on the client lane";
    localLabel.append(this.localToggle, "local rtwidget.* events");
    const head = h("div", "rtwidget-ladder-head");
    const lanes = h("div", "rtwidget-ladder-lanes");
    lanes.append(
      h("span", "rtwidget-ladder-lane-client", "client (this kernel)"),
      h("span", "rtwidget-ladder-lane-server", "server (Realtime API)"),
    );
    head.append(h("span", "rtwidget-ladder-time", "time (s)"), h("span", "rtwidget-ladder-gutter"), lanes);
    this.rowsEl = h("div", "rtwidget-ladder-rows");
    this.scroller = hRt("div", "ladder", "rtwidget-ladder-scroll");
    this.scroller.append(head, this.rowsEl);
    this.pill = hRt("button", "ladder-new-pill", "rtwidget-btn rtwidget-ladder-pill");
    this.pill.hidden = true;
    this.pill.title = "follow the newest events again";
    const bar = h("div", "rtwidget-ladder-bar");
    bar.append(this.pill, localLabel); // the log's legend above says what the arrows mean
    this.detail = hRt("pre", "ladder-detail", "rtwidget-ladder-json");
    this.detail.hidden = true;
    this.el = h("div", "rtwidget-ladder");
    this.el.append(bar, this.scroller, this.detail);

    listen(this.localToggle, "change", () => this.setShowLocal(this.localToggle.checked), signal);
    listen(this.scroller, "scroll", () => this.onScroll(), signal);
    listen(this.pill, "click", () => this.jumpToNewest(), signal);
    listen(this.rowsEl, "click", (e) => this.onClick(e), signal);
    listen(this.rowsEl, "mouseover", (e) => this.onHover(e), signal);
    listen(this.rowsEl, "mouseleave", () => this.highlight(this.selectedCalls()), signal);
  }

  /** Force the next draw (after the view was hidden, resized or its options changed). */
  invalidate() {
    this.drawnVersion = -1;
  }

  /** Redraw if the store changed since the last draw: append new rows, refresh open merged rows. */
  draw() {
    const s = this.store;
    if (this.drawnVersion === s.version) return;
    this.drawnVersion = s.version;
    if (this.epoch !== s.epoch) this.clear();
    this.epoch = s.epoch;
    while (this.entries.length && this.entries[0].seq < s.firstSeq) this.dropOldest();
    this.refreshTail();
    const from = Math.max(this.nextSeq, s.firstSeq, s.appended - LADDER_MAX_ROWS);
    for (let seq = from; seq < s.appended; seq++) {
      const row = s.bySeq(seq);
      if (row) this.add(seq, row);
    }
    const added = Math.max(0, s.appended - from);
    this.nextSeq = s.appended;
    while (this.entries.length > LADDER_MAX_ROWS) this.dropOldest();
    if (this.follow) this.scroller.scrollTop = this.scroller.scrollHeight;
    else this.showUnseen(this.unseen + added);
    this.drawDetail();
  }

  /** @param {number} n rows appended since the user scrolled up */
  showUnseen(n) {
    this.unseen = n;
    this.pill.hidden = n === 0;
    this.pill.textContent = `${n} new event${n === 1 ? "" : "s"} \u2193`;
  }

  jumpToNewest() {
    this.follow = true;
    this.showUnseen(0);
    this.scroller.scrollTop = this.scroller.scrollHeight;
  }

  /** Forget every row drawn (the store was reset). */
  clear() {
    this.entries = [];
    this.byEl.clear();
    this.callLast.clear();
    this.byEvent.clear();
    this.callName.clear();
    this.pendingOutputs = [];
    this.rowsEl.textContent = ""; // `highlighted` stays: the selected call is lit again when its rows come back
    this.nextSeq = 0;
  }

  dropOldest() {
    const e = /** @type {LadderEntry} */ (this.entries.shift());
    e.el.remove();
    this.byEl.delete(e.el);
    if (e.row.event_id && this.byEvent.get(e.row.event_id) === e) this.byEvent.delete(e.row.event_id);
    for (const id of e.calls) {
      if (this.callLast.get(id) === e) {
        this.callLast.delete(id);
        this.callName.delete(id);
      }
    }
  }

  /** Merged stream rows grow after they are drawn; only rows after the last non-stream row can. */
  refreshTail() {
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const e = this.entries[i];
      if (!ladderIsStream(e.row.type)) break;
      const key = `${e.row.count}|${e.row.text.length}`;
      if (key !== e.key) this.fillLabel(e);
    }
  }

  /**
   * @param {number} seq
   * @param {import("./rows.js").Row} row
   */
  add(seq, row) {
    const el = hRt("div", "ladder-row", `rtwidget-ladder-row rtwidget-ladder-${row.dir} ${familyClass(row.type)}`);
    el.dataset.type = row.type;
    el.dataset.dir = row.dir;
    el.dataset.id = String(row.id);
    const level = hintLevel(row); // the doctor's hint: a mark in its level's colour, shown with local events hidden
    if (level) el.classList.add("rtwidget-ladder-hint", `rtwidget-ladder-hint-${level}`);
    const label = h("div", "rtwidget-ladder-label");
    for (const name of ["type", "count", "detail"]) label.appendChild(h("span", `rtwidget-ladder-${name}`));
    const span = h("div", "rtwidget-ladder-span");
    span.append(label, h("div", row.dir === "local" ? "rtwidget-ladder-mark" : "rtwidget-ladder-arrow"));
    el.append(h("span", "rtwidget-ladder-time", formatRelTime(row.t)), h("span", "rtwidget-ladder-gutter"), span);
    /** @type {LadderEntry} */
    const entry = { seq, row, el, calls: this.linkCalls(row), key: "" };
    ladderFillType(/** @type {HTMLElement} */ (label.children[0]), row.type);
    this.fillLabel(entry);
    if (row.id === this.selectedId) el.classList.add("rtwidget-selected");
    this.entries.push(entry);
    this.byEl.set(el, entry);
    if (row.dir === "client" && row.event_id) this.byEvent.set(row.event_id, entry);
    this.rowsEl.appendChild(el);
    this.linkCause(entry);
    this.bracket(entry);
  }

  /**
   * The calls a new row belongs to; keeps the bookkeeping that links a response.create to the outputs
   * created before it.
   * @param {import("./rows.js").Row} row
   * @returns {string[]}
   */
  linkCalls(row) {
    if (row.dir === "client" && row.type === "response.create") {
      const calls = this.pendingOutputs;
      this.pendingOutputs = [];
      return calls;
    }
    if (row.type === "response.done") return ladderResponseCalls(row);
    const call = ladderCallOf(row);
    if (!call) return [];
    if (call.name) this.callName.set(call.callId, call.name);
    if (call.output && row.dir === "client" && row.type === "conversation.item.create") {
      this.pendingOutputs.push(call.callId);
    }
    return [call.callId];
  }

  /**
   * Link an error to the client event that caused it (while that row is drawn): the same bracket and highlight
   * as a call, keyed `cause:<event_id>`.
   * @param {LadderEntry} entry
   */
  linkCause(entry) {
    const { row } = entry;
    const cause = row.type === "error" && row.cause_id ? this.byEvent.get(row.cause_id) : undefined;
    if (!cause) return;
    const key = `cause:${row.cause_id}`;
    cause.calls.push(key);
    cause.el.dataset.calls = cause.calls.join(" ");
    cause.el.classList.add("rtwidget-ladder-linked");
    if (!this.callLast.has(key)) cause.el.classList.add("rtwidget-ladder-call-first");
    this.callLast.set(key, cause);
    entry.calls.push(key);
  }

  /**
   * The short text beside a row's type.
   * @param {LadderEntry} e
   * @returns {string}
   */
  detailOf(e) {
    const { row, calls } = e;
    if (row.type === "error") return ladderClip(row.text);
    if (row.type === "response.create" && row.dir === "client" && calls.length) {
      return `after ${calls.length} function_call_output${calls.length === 1 ? "" : "s"}`;
    }
    if (row.type === "response.done" && calls.length) {
      return `${row.text}: ${calls.length} function call${calls.length === 1 ? "" : "s"}`;
    }
    const call = ladderCallOf(row);
    if (call) {
      const name = this.callName.get(call.callId) ?? call.name;
      return `${call.output ? "output of " : ""}${name} ${call.callId}`.trim();
    }
    return ladderClip(row.text);
  }

  /** @param {LadderEntry} e */
  fillLabel(e) {
    const { row, el } = e;
    const label = /** @type {HTMLElement} */ (el.querySelector(".rtwidget-ladder-label"));
    const count = /** @type {HTMLElement} */ (label.children[1]);
    const detail = /** @type {HTMLElement} */ (label.children[2]);
    count.textContent = row.count > 1 ? `\u00d7${row.count}` : "";
    detail.textContent = this.detailOf(e);
    el.title = hintLevel(row) ? hintTitle(row) : row.text;
    e.key = `${row.count}|${row.text.length}`;
  }

  /**
   * Draw the bracket of a call from its previous row to this one: the gutter line runs through the rows
   * between them, and each of the call's rows gets a knot on it.
   * @param {LadderEntry} entry
   */
  bracket(entry) {
    for (const id of entry.calls) {
      const prev = this.callLast.get(id);
      this.callLast.set(id, entry);
      entry.el.classList.add("rtwidget-ladder-linked");
      entry.el.dataset.calls = entry.calls.join(" ");
      if (!prev) {
        entry.el.classList.add("rtwidget-ladder-call-first");
        continue;
      }
      prev.el.classList.add("rtwidget-ladder-call-on");
      const from = this.entries.lastIndexOf(prev);
      for (let i = from + 1; i < this.entries.length - 1; i++) {
        this.entries[i].el.classList.add("rtwidget-ladder-call-through");
      }
      entry.el.classList.add("rtwidget-ladder-call-end");
      prev.el.classList.remove("rtwidget-ladder-call-end");
    }
    if (entry.calls.some((id) => this.highlighted.has(id))) entry.el.classList.add("rtwidget-ladder-hl");
  }

  /** @param {boolean} show */
  setShowLocal(show) {
    this.localToggle.checked = show;
    this.el.classList.toggle("rtwidget-ladder-hide-local", !show);
  }

  onScroll() {
    const v = this.scroller;
    this.follow = v.scrollTop + v.clientHeight >= v.scrollHeight - 24;
    if (this.follow && this.unseen) this.showUnseen(0);
  }

  /**
   * @param {Event} e
   * @returns {LadderEntry | undefined}
   */
  entryAt(e) {
    const target = /** @type {HTMLElement} */ (e.target);
    const el = /** @type {HTMLElement | null} */ (target.closest(".rtwidget-ladder-row"));
    return el ? this.byEl.get(el) : undefined;
  }

  /** @param {MouseEvent} e */
  onClick(e) {
    const entry = this.entryAt(e);
    if (entry) this.select(entry.row.id);
  }

  /** @param {MouseEvent} e */
  onHover(e) {
    const entry = this.entryAt(e);
    this.highlight(entry && entry.calls.length ? entry.calls : this.selectedCalls());
  }

  /** @returns {string[]} the calls of the selected row */
  selectedCalls() {
    const entry = this.entries.find((x) => x.row.id === this.selectedId);
    return entry ? entry.calls : [];
  }

  /**
   * Select a row (highlight its call, show its JSON below), or unselect it when it is selected; tells `onSelect`.
   * @param {number} id
   */
  select(id) {
    this.selectedId = this.selectedId === id ? null : id;
    for (const e of this.entries) e.el.classList.toggle("rtwidget-selected", e.row.id === this.selectedId);
    this.highlight(this.selectedCalls());
    this.drawDetail();
    if (this.selectedId !== null) this.onSelect?.(this.selectedId);
  }

  /** The selected row's event as JSON under the ladder (kept current while a merged row grows). */
  drawDetail() {
    const row = this.selectedId === null ? undefined : this.store.byId(this.selectedId);
    this.detail.hidden = !row;
    if (!row) return;
    const merged = row.count > 1 ? `  (${row.count} events merged, the last shown)` : "";
    const text = `${row.type}  t=${formatRelTime(row.t)}${merged}\n${prettyJson(row.data ?? null)}`;
    if (this.detail.textContent !== text) this.detail.textContent = text;
  }

  /**
   * Highlight the rows of these calls.
   * @param {string[]} calls
   */
  highlight(calls) {
    const next = new Set(calls);
    if (next.size === this.highlighted.size && calls.every((id) => this.highlighted.has(id))) return;
    this.highlighted = next;
    for (const e of this.entries) {
      e.el.classList.toggle("rtwidget-ladder-hl", e.calls.some((id) => next.has(id)));
    }
  }
}
