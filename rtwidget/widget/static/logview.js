// The event-log panel of one view: filters, a virtualized row list (only the rows in view, plus a
// few, exist in the DOM) and the JSON detail pane. Filters, selection and scroll position are
// UI-only state of the view; the rows come from the model's RowStore (rows.js).
import { pushBounded } from "./debug.js";
import { h, hRt, listen, onAbort, option } from "./dom.js";
import { familyClass } from "./families.js";
import { dirArrow, formatBytes, formatRelTime } from "./format.js";
import { FilterView } from "./rows.js";

/** Fixed height of one log row in CSS pixels (the list relies on it; widget.css uses the same). */
export const LOG_ROW_HEIGHT = 20;

/** The cells of a log row, in order (each a span with class `rtwidget-log-<name>`). */
const LOG_CELLS = ["dir", "time", "type", "size", "count", "text", "cause"];

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
 * The text of the detail pane for one row.
 * @param {import("./rows.js").Row} row
 * @returns {string}
 */
function rowDetail(row) {
  const head = `${dirArrow(row.dir)} ${row.type}  t=${formatRelTime(row.t)}  ${formatBytes(row.size)}${
    row.count > 1 ? `  ${row.count} events merged` : ""
  }${row.event_id ? `  event_id=${row.event_id}` : ""}${row.cause_id ? `  cause_id=${row.cause_id}` : ""}`;
  const text = row.count > 1 && row.text ? `\n\nassembled text:\n${row.text}` : "";
  return `${head}${text}\n\n${JSON.stringify(row.data ?? null, null, 2)}`;
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
    this.view = new FilterView(store);
    /** @type {number | null} */
    this.selectedId = null;
    this.follow = true; // stick to the newest row until the user scrolls up
    this.raf = 0;
    this.drawnVersion = -1;
    this.detailKey = "";
    /** Row elements reused across frames. @type {HTMLElement[]} */
    this.pool = [];

    this.typeInput = hRt("input", "log-filter-type", "rtwidget-input");
    this.typeInput.placeholder = "filter type";
    this.typeInput.spellcheck = false;
    this.dirSelect = hRt("select", "log-filter-dir", "rtwidget-select");
    this.dirSelect.append(
      option("", "all"),
      option("client", "\u2192 client"),
      option("server", "\u2190 server"),
      option("local", "\u00b7 local"),
    );
    this.countEl = h("span", "rtwidget-log-total");
    this.droppedEl = h("span", "rtwidget-log-dropped");
    this.viewport = h("div", "rtwidget-log-viewport");
    this.spacer = h("div", "rtwidget-log-spacer");
    this.rowsEl = h("div", "rtwidget-log-rows");
    this.detail = hRt("pre", "log-detail", "rtwidget-log-detail", "Select a row to see the event.");
    this.spacer.appendChild(this.rowsEl);
    this.viewport.appendChild(this.spacer);
    const bar = h("div", "rtwidget-log-bar");
    bar.append(this.typeInput, this.dirSelect, this.countEl, this.droppedEl);
    const main = h("div", "rtwidget-log-main");
    main.append(this.viewport, this.detail);
    this.el = h("div", "rtwidget-log");
    this.el.append(bar, main);

    const refilter = () => {
      this.view.setFilter(this.typeInput.value, this.dirSelect.value);
      this.follow = true;
      this.invalidate(true);
    };
    listen(this.typeInput, "input", refilter, signal);
    listen(this.dirSelect, "change", refilter, signal);
    listen(this.viewport, "scroll", () => this.onScroll(), signal);
    listen(this.rowsEl, "click", (e) => this.onClick(e), signal);
    onAbort(signal, () => this.destroy());
  }

  onScroll() {
    const v = this.viewport;
    this.follow = v.scrollTop + v.clientHeight >= v.scrollHeight - LOG_ROW_HEIGHT * 1.5;
    this.invalidate(true);
  }

  /**
   * Schedule a render in the next animation frame (several calls coalesce into one).
   * @param {boolean} [force] render even if the store did not change (scroll, filter, selection)
   */
  invalidate(force = false) {
    if (force) this.drawnVersion = -1;
    if (!this.raf) this.raf = requestAnimationFrame(() => this.draw());
  }

  draw() {
    this.raf = 0;
    if (this.drawnVersion === this.store.version && this.drawnVersion !== -1) return;
    const t0 = performance.now();
    this.drawnVersion = this.store.version;
    const trimmed = this.view.sync();
    const count = this.view.length;
    const v = this.viewport;
    this.spacer.style.height = `${count * LOG_ROW_HEIGHT}px`;
    if (this.follow) {
      v.scrollTop = Math.max(0, count * LOG_ROW_HEIGHT - v.clientHeight);
    } else if (trimmed > 0) {
      v.scrollTop = Math.max(0, v.scrollTop - trimmed * LOG_ROW_HEIGHT);
    }
    this.drawRows(visibleRange(v.scrollTop, v.clientHeight, LOG_ROW_HEIGHT, count));
    this.countEl.textContent = `${count} row${count === 1 ? "" : "s"}`;
    const dropped = this.store.dropped;
    this.droppedEl.textContent = dropped > 0 ? `${dropped} older row${dropped === 1 ? "" : "s"} not kept` : "";
    this.drawDetail();
    pushBounded(this.stats.frameTimes, performance.now() - t0);
  }

  /** @param {{start: number, end: number}} range rows of the view to show */
  drawRows({ start, end }) {
    this.rowsEl.style.transform = `translateY(${start * LOG_ROW_HEIGHT}px)`;
    while (this.pool.length < end - start) this.pool.push(this.makeRow());
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
    for (const name of LOG_CELLS) el.appendChild(h("span", `rtwidget-log-${name}`));
    return el;
  }

  /**
   * @param {HTMLElement} el
   * @param {import("./rows.js").Row} row
   */
  fillRow(el, row) {
    const selected = row.id === this.selectedId;
    const key = `${row.id}|${row.count}|${row.size}|${row.text.length}|${selected}`;
    if (el.dataset.key === key) return;
    el.dataset.key = key;
    el.dataset.id = String(row.id);
    el.className = `rtwidget-log-row rtwidget-dir-${row.dir}${row.type === "error" ? " rtwidget-log-error" : ""}${
      selected ? " rtwidget-selected" : ""
    }`;
    const c = /** @type {HTMLCollectionOf<HTMLElement>} */ (el.children);
    c[0].textContent = dirArrow(row.dir);
    c[1].textContent = formatRelTime(row.t);
    c[2].textContent = row.type;
    c[2].className = `rtwidget-log-type ${familyClass(row.type)}`;
    c[2].title = row.type;
    c[3].textContent = formatBytes(row.size);
    c[4].textContent = row.count > 1 ? `\u00d7${row.count}` : "";
    c[5].textContent = row.text.length > 300 ? `${row.text.slice(0, 300)}\u2026` : row.text;
    c[5].title = row.text.length > 300 ? "" : row.text;
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
      this.view.setFilter("", "");
      this.view.sync();
    }
    const index = this.view.indexOfSeq(seq);
    const v = this.viewport;
    this.follow = false;
    v.scrollTop = Math.max(0, index * LOG_ROW_HEIGHT - v.clientHeight / 2);
    this.select(row.id);
    return true;
  }

  drawDetail() {
    const row = this.selectedId === null ? undefined : this.store.byId(this.selectedId);
    const key = row ? `${row.id}|${row.count}|${row.size}` : "";
    if (key === this.detailKey) return;
    this.detailKey = key;
    if (!row) {
      if (this.selectedId !== null) this.detail.textContent = "That row is no longer kept.";
      return;
    }
    this.detail.textContent = rowDetail(row);
  }

  /** Cancel a pending frame (the view's signal aborted). */
  destroy() {
    if (this.raf) cancelAnimationFrame(this.raf);
    this.raf = 0;
  }
}
