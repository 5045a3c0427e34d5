// The event-log panel of one view: filters and search, a legend, column headers, a virtualized row list
// (only the rows in view, plus a few, exist in the DOM), the JSON detail pane, a resize grip, and the
// flow view (ladder.js) in place of the table on demand. Filters, selection, scroll position, size and
// mode are UI-only state of the view; the rows come from the model's RowStore (rows.js).
import { pushBounded } from "./debug.js";
import { h, hRt, listen, onAbort, option, setText } from "./dom.js";
import { familyClass, hintEventIds, hintLevel, hintTitle } from "./families.js";
import { dirArrow, formatBytes, formatRelTime } from "./format.js";
import { LadderView } from "./ladder.js";
import {
  LOG_CELLS,
  LOG_DIRECTIONS,
  bindResizeGrip,
  copyText,
  downloadJsonl,
  logLegend,
  rowDetail,
  typeColumnWidth,
} from "./logparts.js";
import { FilterView, FollowState, LongestType } from "./rows.js";

/** Fixed height of one log row in CSS pixels (the list relies on it; widget.css uses the same). */
export const LOG_ROW_HEIGHT = 20;
/** The log's list area never gets smaller than this by dragging (px). */
export const LOG_MIN_HEIGHT = 80;

/**
 * Which rows a virtual list must render.
 * @param {number} scrollTop
 * @param {number} height viewport height (px)
 * @param {number} rowHeight
 * @param {number} count rows in the list
 * @param {number} [overscan] extra rows above and below
 * @returns {{start: number, end: number}} rows [start, end)
 */
export function visibleRange(scrollTop, height, rowHeight, count, overscan = 4) {
  const first = Math.floor(Math.max(0, scrollTop) / rowHeight);
  const start = Math.max(0, first - overscan);
  const end = Math.min(count, first + Math.ceil(Math.max(0, height) / rowHeight) + 1 + overscan);
  return { start, end: Math.max(start, end) };
}

/**
 * The event-log panel of one view. Renders at most once per animation frame.
 */
export class LogView {
  /**
   * @param {import("./rows.js").RowStore} store
   * @param {{frameTimes: number[]}} stats render durations (ms) are appended to stats.frameTimes
   * @param {AbortSignal} signal removes the panel's listeners (the view's lifetime)
   */
  constructor(store, stats, signal) {
    this.store = store;
    this.stats = stats;
    this.signal = signal;
    this.view = new FilterView(store);
    this.longest = new LongestType(store);
    this.followState = new FollowState();
    /** @type {number | null} */
    this.selectedId = null;
    /** Event ids of the selected hint (their rows are marked). @type {Set<string>} */
    this.marks = new Set();
    this.raf = 0;
    this.drawnVersion = -1;
    this.detailKey = "";
    this.typeWidth = "";
    this.countsKey = "";
    /** "table" or "flow" (the ladder, made when first shown). */
    this.mode = "table";
    /** @type {LadderView | null} */
    this.ladder = null;
    /** Row elements reused across frames. @type {HTMLElement[]} */
    this.pool = [];

    this.tableBtn = hRt("button", "log-mode-table", "rtwidget-btn rtwidget-log-mode", "Table");
    this.flowBtn = hRt("button", "log-mode-flow", "rtwidget-btn rtwidget-log-mode", "Flow");
    this.typeInput = hRt("input", "log-filter-type", "rtwidget-input rtwidget-log-filter");
    this.dirSelect = hRt("select", "log-filter-dir", "rtwidget-select rtwidget-log-filter");
    this.searchInput = hRt("input", "log-search", "rtwidget-input rtwidget-log-filter");
    this.countEl = h("span", "rtwidget-log-total");
    this.droppedEl = h("span", "rtwidget-log-dropped");
    this.downloadBtn = hRt("button", "log-download", "rtwidget-btn", "Download JSONL");
    this.head = h("div", "rtwidget-log-row rtwidget-log-head");
    this.viewport = h("div", "rtwidget-log-viewport");
    this.spacer = h("div", "rtwidget-log-spacer");
    this.rowsEl = h("div", "rtwidget-log-rows");
    this.pill = hRt("button", "log-new-pill", "rtwidget-log-pill");
    this.table = h("div", "rtwidget-log-table");
    this.stage = h("div", "rtwidget-log-stage");
    this.copyBtn = hRt("button", "log-copy", "rtwidget-btn", "Copy JSON");
    this.copyStatus = h("span", "rtwidget-log-copied");
    this.detail = hRt("pre", "log-detail", "rtwidget-log-detail", "Select a row to see the event.");
    this.detailBox = h("div", "rtwidget-log-detailbox");
    this.grip = hRt("div", "log-resize", "rtwidget-log-grip");
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.copyTimer = undefined;
    this.el = h("div", "rtwidget-log");
    this.el.append(this.makeBar(), logLegend(), this.makeStage(), this.makeDetail(), this.makeGrip());
    this.bind(signal);
  }

  /** @returns {HTMLElement} mode buttons, filters, search, counts, download */
  makeBar() {
    this.tableBtn.title = "the events as a table, one row each (deltas merged)";
    this.flowBtn.title = "the events as a flow: client and server lanes, arrows in time order";
    this.typeInput.placeholder = "filter type";
    this.typeInput.spellcheck = false;
    this.dirSelect.append(
      option("", "all"),
      option("client", "\u2192 client"),
      option("server", "\u2190 server"),
      option("local", "\u00b7 local"),
    );
    this.searchInput.placeholder = "search text & JSON";
    this.searchInput.title = "rows whose type, summary or event JSON contains this (any case)";
    this.searchInput.spellcheck = false;
    const bar = h("div", "rtwidget-log-bar");
    bar.append(this.tableBtn, this.flowBtn, this.typeInput, this.dirSelect, this.searchInput);
    bar.append(this.countEl, this.droppedEl, this.downloadBtn);
    return bar;
  }

  /** @returns {HTMLElement} the area the grip sizes: the table (headings, rows, pill) or the flow view */
  makeStage() {
    this.head.dataset.rt = "log-head";
    this.head.setAttribute("role", "row");
    for (const [name, label] of LOG_CELLS) {
      const cell = h("span", `rtwidget-log-${name}`, label);
      cell.setAttribute("role", "columnheader");
      this.head.appendChild(cell);
    }
    const dirHead = /** @type {HTMLElement} */ (this.head.children[0]);
    dirHead.textContent = "\u21c4";
    dirHead.title = LOG_DIRECTIONS.map(([d, label]) => `${dirArrow(d)} ${label}`).join("\n");
    this.spacer.appendChild(this.rowsEl);
    this.viewport.appendChild(this.spacer);
    this.pill.hidden = true;
    this.pill.title = "jump to the newest event and follow again";
    const main = h("div", "rtwidget-log-main");
    main.append(this.viewport, this.pill);
    this.table.append(this.head, main);
    this.stage.appendChild(this.table);
    return this.stage;
  }

  /** @returns {HTMLElement} the selected row's JSON with its Copy button */
  makeDetail() {
    this.copyBtn.title = "copy the selected event's JSON";
    this.copyBtn.disabled = true;
    this.copyStatus.setAttribute("aria-live", "polite");
    const tools = h("div", "rtwidget-log-detail-bar");
    tools.append(this.copyBtn, this.copyStatus);
    this.detailBox.append(tools, this.detail);
    return this.detailBox;
  }

  /** @returns {HTMLElement} the handle at the bottom edge that resizes the stage */
  makeGrip() {
    this.grip.setAttribute("role", "separator");
    this.grip.setAttribute("aria-orientation", "horizontal");
    this.grip.setAttribute("aria-label", "resize the event log");
    this.grip.title = "drag to resize the event log (double-click: fit the panel again)";
    this.grip.tabIndex = 0;
    return this.grip;
  }

  /** @param {AbortSignal} signal */
  bind(signal) {
    const refilter = () => {
      this.view.setFilter(this.typeInput.value, this.dirSelect.value, this.searchInput.value);
      this.followState.resume();
      this.invalidate(true);
    };
    listen(this.typeInput, "input", refilter, signal);
    listen(this.searchInput, "input", refilter, signal);
    listen(this.dirSelect, "change", refilter, signal);
    listen(this.viewport, "scroll", () => this.onScroll(), signal);
    listen(this.rowsEl, "click", (e) => this.onClick(e), signal);
    listen(this.pill, "click", () => this.jumpToNewest(), signal);
    listen(this.copyBtn, "click", () => this.copySelected(), signal);
    listen(this.downloadBtn, "click", () => downloadJsonl(this.store, this.el), signal);
    listen(this.tableBtn, "click", () => this.setMode("table"), signal);
    listen(this.flowBtn, "click", () => this.setMode("flow"), signal);
    const setHeight = (/** @type {number | null} */ px) => this.setHeight(px);
    bindResizeGrip(this.grip, this.stage, setHeight, LOG_ROW_HEIGHT, signal);
    if (typeof ResizeObserver === "function") {
      const ro = new ResizeObserver(() => this.invalidate(true));
      ro.observe(this.viewport);
      onAbort(signal, () => ro.disconnect());
    }
    this.setMode("table");
    onAbort(signal, () => this.destroy());
  }

  /**
   * Size the stage by hand (px, at least LOG_MIN_HEIGHT), or null: fill what the panel gives it again.
   * @param {number | null} px
   */
  setHeight(px) {
    this.stage.style.flex = px === null ? "" : `0 0 ${Math.max(LOG_MIN_HEIGHT, Math.round(px))}px`;
    this.el.classList.toggle("rtwidget-log-sized", px !== null);
    this.invalidate(true);
  }

  /** @param {string} mode "table" or "flow" */
  setMode(mode) {
    this.mode = mode;
    const flow = mode === "flow";
    if (flow && !this.ladder) {
      this.ladder = new LadderView(this.store, this.signal);
      this.ladder.el.classList.add("rtwidget-log-flow");
      this.ladder.onSelect = (id) => (this.selectedId = id); // the table shows it selected on the way back
      this.stage.appendChild(this.ladder.el);
    }
    this.tableBtn.setAttribute("aria-pressed", String(!flow));
    this.flowBtn.setAttribute("aria-pressed", String(flow));
    this.table.hidden = flow;
    this.detailBox.hidden = flow;
    if (this.ladder) this.ladder.el.hidden = !flow;
    // The filters and the search narrow the table only (the flow shows every event in order).
    for (const input of [this.typeInput, this.dirSelect, this.searchInput]) input.hidden = flow;
    this.el.classList.toggle("rtwidget-log-flowmode", flow);
    this.invalidate(true);
  }

  onScroll() {
    const v = this.viewport;
    this.followState.scrolled(v.scrollTop + v.clientHeight >= v.scrollHeight - LOG_ROW_HEIGHT * 1.5);
    this.invalidate(true);
  }

  jumpToNewest() {
    this.followState.resume();
    this.invalidate(true);
  }

  /**
   * Schedule a render in the next animation frame (several calls coalesce into one).
   * @param {boolean} [force] render even if the store did not change (scroll, filter, selection)
   */
  invalidate(force = false) {
    if (force) {
      this.drawnVersion = -1;
      this.ladder?.invalidate();
    }
    if (!this.raf) this.raf = requestAnimationFrame(() => this.draw());
  }

  draw() {
    this.raf = 0;
    if (this.mode === "flow") {
      this.ladder?.draw();
      this.drawCounts(this.store.length);
      return;
    }
    if (this.drawnVersion === this.store.version) return;
    const t0 = performance.now();
    const v = this.viewport;
    const height = v.clientHeight; // the one layout read of a draw (the spacer does not change it)
    if (height === 0) {
      this.drawnVersion = -1; // hidden (panel closed, page restyling): drawn when shown (the ResizeObserver calls)
      return;
    }
    this.drawnVersion = this.store.version;
    const trimmed = this.view.sync();
    const count = this.view.length;
    const f = this.followState;
    f.drawn(count, trimmed);
    this.spacer.style.height = `${count * LOG_ROW_HEIGHT}px`;
    let top = 0;
    if (f.follow) {
      top = Math.max(0, count * LOG_ROW_HEIGHT - height);
      v.scrollTop = top;
    } else {
      top = Math.max(0, v.scrollTop - trimmed * LOG_ROW_HEIGHT);
      if (trimmed > 0) v.scrollTop = top;
    }
    if (this.longest.sync()) this.fitTypeColumn();
    this.drawRows(visibleRange(top, height, LOG_ROW_HEIGHT, count));
    this.pill.hidden = f.follow || f.unseen === 0;
    if (!this.pill.hidden) setText(this.pill, `\u2193 ${f.unseen} new event${f.unseen === 1 ? "" : "s"}`);
    this.drawCounts(count);
    this.drawDetail();
    pushBounded(this.stats.frameTimes, performance.now() - t0);
  }

  /** @param {number} count rows in the list shown */
  drawCounts(count) {
    const dropped = this.store.dropped;
    const key = `${count}|${dropped}|${this.store.length}|${this.store.limit}`;
    if (key === this.countsKey) return;
    this.countsKey = key;
    setText(this.countEl, `${count} row${count === 1 ? "" : "s"}`);
    setText(this.droppedEl, dropped > 0 ? `${dropped} older row${dropped === 1 ? "" : "s"} not kept` : "");
    this.downloadBtn.title =
      `download the ${this.store.length} rows this page keeps as JSON Lines (one event per line); the page keeps ` +
      `the last ${this.store.limit} (the widget's log_limit)${dropped > 0 ? `: ${dropped} older rows are not in it` : ""}`;
  }

  /** The longest type kept changed: size the type column (headings and rows) to fit it whole. */
  fitTypeColumn() {
    const cell = this.pool[0]?.children[2] ?? this.head.children[2];
    const font = typeof getComputedStyle === "function" && cell.isConnected ? getComputedStyle(cell).font : "";
    this.typeWidth = typeColumnWidth(this.longest.value, font);
    /** @type {HTMLElement} */ (this.head.children[2]).style.width = this.typeWidth;
    for (const el of this.pool) /** @type {HTMLElement} */ (el.children[2]).style.width = this.typeWidth;
  }

  /** @param {{start: number, end: number}} range rows of the view to show */
  drawRows({ start, end }) {
    this.rowsEl.style.transform = `translateY(${start * LOG_ROW_HEIGHT}px)`;
    while (this.pool.length < end - start) this.pool.push(this.makeRow());
    this.marks = hintEventIds(this.selectedId === null ? undefined : this.store.byId(this.selectedId));
    for (let k = 0; k < this.pool.length; k++) {
      const rowEl = this.pool[k];
      const row = k < end - start ? this.view.at(start + k) : undefined;
      if (!row) {
        if (rowEl.parentNode) rowEl.remove();
        continue;
      }
      if (rowEl.parentNode !== this.rowsEl) this.rowsEl.appendChild(rowEl);
      this.fillRow(rowEl, row);
    }
  }

  /** @returns {HTMLElement} */
  makeRow() {
    const el = hRt("div", "log-row", "rtwidget-log-row");
    el.style.height = `${LOG_ROW_HEIGHT}px`;
    for (const [name] of LOG_CELLS) el.appendChild(h("span", `rtwidget-log-${name}`));
    /** @type {HTMLElement} */ (el.children[2]).style.width = this.typeWidth;
    return el;
  }

  /**
   * @param {HTMLElement} el
   * @param {import("./rows.js").Row} row
   */
  fillRow(el, row) {
    const selected = row.id === this.selectedId;
    const marked = !!row.event_id && this.marks.has(row.event_id); // an event the selected hint is about
    const level = hintLevel(row);
    const key = `${row.id}|${row.count}|${row.size}|${row.text.length}|${selected}|${marked}`;
    if (el.dataset.key === key) return;
    el.dataset.key = key;
    el.dataset.id = String(row.id);
    el.className = `rtwidget-log-row rtwidget-dir-${row.dir}${row.type === "error" ? " rtwidget-log-error" : ""}${
      selected ? " rtwidget-selected" : ""
    }${level ? ` rtwidget-log-hint rtwidget-log-hint-${level}` : ""}${marked ? " rtwidget-log-marked" : ""}`;
    el.setAttribute("aria-selected", String(selected));
    const c = /** @type {HTMLCollectionOf<HTMLElement>} */ (el.children);
    c[0].textContent = dirArrow(row.dir);
    c[1].textContent = formatRelTime(row.t);
    c[2].textContent = row.type;
    c[2].className = `rtwidget-log-type ${familyClass(row.type)}`;
    c[2].title = row.type;
    c[3].textContent = row.dir === "local" ? "" : formatBytes(row.size); // rtwidget's own notes never travel
    c[4].textContent = row.count > 1 ? `\u00d7${row.count}` : "";
    c[5].textContent = row.text.length > 300 ? `${row.text.slice(0, 300)}\u2026` : row.text;
    c[5].title = level ? hintTitle(row) : row.text.length > 300 ? "" : row.text;
    const cause = row.type === "error" && row.cause_id ? row.cause_id : "";
    c[6].textContent = cause ? "cause \u2191" : "";
    c[6].dataset.cause = cause;
    if (cause) c[6].dataset.rt = "log-cause";
    else delete c[6].dataset.rt;
    c[6].title = cause ? `show the client event ${cause}` : "";
  }

  /** @param {MouseEvent} e */
  onClick(e) {
    const target = /** @type {HTMLElement} */ (e.target);
    const rowEl = /** @type {HTMLElement | null} */ (target.closest(".rtwidget-log-row"));
    if (!rowEl) return;
    if (target.classList.contains("rtwidget-log-cause") && target.dataset.cause) {
      this.selectEvent(target.dataset.cause);
      return;
    }
    this.select(Number(rowEl.dataset.id));
  }

  /**
   * Select a row by id (and show its JSON).
   * @param {number} id
   */
  select(id) {
    this.selectedId = id;
    this.invalidate(true);
  }

  /**
   * Select and scroll to the client event with this event_id (the cause of an error row). Clears
   * the filters if they hide it. Returns false if that row is no longer kept.
   * @param {string} eventId
   * @returns {boolean}
   */
  selectEvent(eventId) {
    const seq = this.store.eventToSeq.get(eventId);
    const row = seq === undefined ? undefined : this.store.bySeq(seq);
    if (seq === undefined || !row) {
      this.detail.textContent = `The client event ${eventId} is no longer kept in the log.`;
      this.detailKey = "";
      return false;
    }
    this.view.sync();
    if (this.view.indexOfSeq(seq) < 0) {
      this.typeInput.value = "";
      this.dirSelect.value = "";
      this.searchInput.value = "";
      this.view.setFilter("", "");
      this.view.sync();
      this.followState.resume(this.view.length);
    }
    const index = this.view.indexOfSeq(seq);
    const v = this.viewport;
    this.followState.scrolled(false);
    v.scrollTop = Math.max(0, index * LOG_ROW_HEIGHT - v.clientHeight / 2);
    this.select(row.id);
    return true;
  }

  drawDetail() {
    const row = this.selectedId === null ? undefined : this.store.byId(this.selectedId);
    this.copyBtn.disabled = !row;
    const key = row ? `${row.id}|${row.count}|${row.size}` : "";
    if (key === this.detailKey) return;
    this.detailKey = key;
    if (!row) {
      if (this.selectedId !== null) this.detail.textContent = "That row is no longer kept.";
      return;
    }
    this.detail.textContent = rowDetail(row);
  }

  /** Copy the selected row's event JSON (as the detail pane shows it) and say whether it worked. */
  async copySelected() {
    const row = this.selectedId === null ? undefined : this.store.byId(this.selectedId);
    if (!row) return;
    const ok = await copyText(JSON.stringify(row.data ?? null, null, 2));
    this.copyStatus.textContent = ok ? "copied" : "could not copy";
    clearTimeout(this.copyTimer);
    this.copyTimer = setTimeout(() => (this.copyStatus.textContent = ""), 2000);
  }

  /** Cancel a pending frame (the view's signal aborted). */
  destroy() {
    if (this.raf) cancelAnimationFrame(this.raf);
    this.raf = 0;
    clearTimeout(this.copyTimer);
  }
}
