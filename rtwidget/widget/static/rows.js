// Event log: a bounded row store (per model, shared by its views), filtered views of it, and a
// virtualized list that renders only the visible rows.
//
// Row store state is synced from the kernel (`batch` rows/row_updates, `snapshot`); filters,
// selection and scroll position are UI-only state of each view.

/**
 * @typedef {object} Row
 * @property {number} id
 * @property {number} t seconds since the session started
 * @property {string} dir "client" | "server" | "local"
 * @property {string} type
 * @property {number} size
 * @property {number} count
 * @property {string} text
 * @property {string | null} [item_id]
 * @property {string | null} [event_id]
 * @property {string | null} [cause_id]
 * @property {unknown} [data]
 */

/** Fixed height of one log row in CSS pixels (the list relies on it; widget.css uses the same). */
export const LOG_ROW_HEIGHT = 20;

/**
 * Rows in arrival order, at most `limit`; older rows are dropped and counted.
 * Every row has an absolute sequence number (0 for the first row ever appended), so filtered
 * views can refer to rows without holding them.
 */
export class RowStore {
  /** @param {number} [limit] */
  constructor(limit = 5000) {
    this.limit = Math.max(1, limit);
    /** @type {Row[]} */
    this.buf = [];
    this.head = 0; // buf[head] is the oldest row kept
    this.appended = 0; // rows ever appended: the next row's sequence number
    /** Rows not kept: dropped here plus those the kernel reported dropped. */
    this.dropped = 0;
    /** Row id -> sequence number. @type {Map<number, number>} */
    this.idToSeq = new Map();
    /** Client event_id -> sequence number (for the error -> cause link). @type {Map<string, number>} */
    this.eventToSeq = new Map();
    /** Increases on every change; views compare it to skip work. */
    this.version = 0;
    /** Increases on reset, which invalidates every sequence number a view holds. */
    this.epoch = 0;
  }

  /** Rows kept. */
  get length() {
    return this.buf.length - this.head;
  }

  /** Sequence number of the oldest row kept. */
  get firstSeq() {
    return this.appended - this.length;
  }

  /**
   * The i-th kept row (0 = oldest).
   * @param {number} i
   * @returns {Row | undefined}
   */
  at(i) {
    return this.buf[this.head + i];
  }

  /**
   * The row with sequence number `seq`, if still kept.
   * @param {number} seq
   * @returns {Row | undefined}
   */
  bySeq(seq) {
    return seq >= this.firstSeq ? this.at(seq - this.firstSeq) : undefined;
  }

  /**
   * @param {number} id
   * @returns {Row | undefined}
   */
  byId(id) {
    const seq = this.idToSeq.get(id);
    return seq === undefined ? undefined : this.bySeq(seq);
  }

  /**
   * Append rows (in order), then drop the oldest beyond the limit.
   * @param {Row[]} rows
   */
  append(rows) {
    for (const row of rows) {
      // A row already kept (sent in a snapshot and again in the batch that was pending then) is an update.
      const known = this.byId(row.id);
      if (known) {
        Object.assign(known, row);
        continue;
      }
      const seq = this.appended++;
      this.buf.push(row);
      this.idToSeq.set(row.id, seq);
      if (row.event_id) this.eventToSeq.set(row.event_id, seq);
    }
    if (rows.length) this.version++;
    this.trim();
  }

  /**
   * Apply merged-delta updates: fields replace those of the row with the same id. Updates for
   * rows no longer kept are ignored. Returns how many rows changed.
   * @param {Partial<Row>[]} updates
   * @returns {number}
   */
  update(updates) {
    let changed = 0;
    for (const u of updates) {
      if (typeof u.id !== "number") continue;
      const row = this.byId(u.id);
      if (!row) continue;
      Object.assign(row, u);
      changed++;
    }
    if (changed) this.version++;
    return changed;
  }

  /**
   * Replace everything (a snapshot): `dropped` counts the rows the kernel did not send.
   * @param {Row[]} rows
   * @param {number} [dropped]
   */
  reset(rows, dropped = 0) {
    this.buf = [];
    this.head = 0;
    this.idToSeq.clear();
    this.eventToSeq.clear();
    this.dropped = dropped;
    this.epoch++;
    this.append(rows);
    this.version++;
  }

  /** @param {number} limit */
  setLimit(limit) {
    this.limit = Math.max(1, limit);
    this.trim();
  }

  trim() {
    const excess = this.length - this.limit;
    if (excess <= 0) return;
    for (let i = 0; i < excess; i++) {
      const row = this.buf[this.head + i];
      this.idToSeq.delete(row.id);
      if (row.event_id) this.eventToSeq.delete(row.event_id);
    }
    this.head += excess;
    this.dropped += excess;
    this.version++;
    // Compact now and then: amortized O(1) per row, no per-row shift().
    if (this.head > 1024 && this.head * 2 > this.buf.length) {
      this.buf = this.buf.slice(this.head);
      this.head = 0;
    }
  }
}

/**
 * One view's filtered window onto a RowStore (filter by type substring and by direction).
 * Kept up to date incrementally by `sync()`: only rows appended since the last sync are scanned.
 */
export class FilterView {
  /** @param {RowStore} store */
  constructor(store) {
    this.store = store;
    this.type = "";
    this.dir = "";
    /** Sequence numbers of matching rows, oldest first, from index `head`. @type {number[]} */
    this.seqs = [];
    this.head = 0;
    this.scanned = 0; // rows with seq < scanned have been considered
    this.epoch = -1;
  }

  /** Whether any filter is set (without one, the view is the store itself). */
  get active() {
    return this.type !== "" || this.dir !== "";
  }

  /**
   * @param {string} type substring of the event type, case-insensitive ("" = any)
   * @param {string} dir "client", "server", "local" or "" for any
   */
  setFilter(type, dir) {
    this.type = type.trim().toLowerCase();
    this.dir = dir;
    this.epoch = -1; // rescan on next sync
  }

  /**
   * @param {Row} row
   * @returns {boolean}
   */
  matches(row) {
    if (this.dir && row.dir !== this.dir) return false;
    return !this.type || row.type.toLowerCase().includes(this.type);
  }

  /**
   * Catch up with the store. Returns how many leading rows of this view were dropped since the
   * last sync (so a scrolled list can keep its place).
   * @returns {number}
   */
  sync() {
    const s = this.store;
    if (!this.active) {
      const before = this.epoch === s.epoch ? this.scanned : s.firstSeq;
      const trimmed = Math.max(0, s.firstSeq - before);
      this.epoch = s.epoch;
      this.scanned = s.firstSeq;
      return trimmed;
    }
    let trimmed = 0;
    if (this.epoch !== s.epoch) {
      this.seqs = [];
      this.head = 0;
      this.scanned = s.firstSeq;
      this.epoch = s.epoch;
    }
    while (this.head < this.seqs.length && this.seqs[this.head] < s.firstSeq) {
      this.head++;
      trimmed++;
    }
    if (this.head > 1024 && this.head * 2 > this.seqs.length) {
      this.seqs = this.seqs.slice(this.head);
      this.head = 0;
    }
    for (let seq = Math.max(this.scanned, s.firstSeq); seq < s.appended; seq++) {
      const row = s.bySeq(seq);
      if (row && this.matches(row)) this.seqs.push(seq);
    }
    this.scanned = s.appended;
    return trimmed;
  }

  /** Rows in this view (call sync() first). */
  get length() {
    return this.active ? this.seqs.length - this.head : this.store.length;
  }

  /**
   * @param {number} i
   * @returns {Row | undefined}
   */
  at(i) {
    return this.active ? this.store.bySeq(this.seqs[this.head + i]) : this.store.at(i);
  }

  /**
   * Position of the row with sequence number `seq` in this view, or -1.
   * @param {number} seq
   * @returns {number}
   */
  indexOfSeq(seq) {
    if (!this.active) {
      const i = seq - this.store.firstSeq;
      return i >= 0 && i < this.store.length ? i : -1;
    }
    let lo = this.head;
    let hi = this.seqs.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const v = this.seqs[mid];
      if (v === seq) return mid - this.head;
      if (v < seq) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }
}

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
 * Arrow for a row's direction: client events go out, server events come in.
 * @param {string} dir
 * @returns {string}
 */
export function dirArrow(dir) {
  return dir === "client" ? "\u2192" : dir === "server" ? "\u2190" : "\u00b7";
}

/**
 * Bytes as "512 B", "1.5 kB", "2.3 MB".
 * @param {number} n
 * @returns {string}
 */
export function formatBytes(n) {
  if (!Number.isFinite(n) || n < 0) return "";
  if (n < 1000) return `${Math.round(n)} B`;
  if (n < 1e6) return `${(n / 1e3).toFixed(1)} kB`;
  return `${(n / 1e6).toFixed(1)} MB`;
}

/**
 * Seconds since the session started, as "12.345" or "3:04.500" (minutes) or "1:02:03.000".
 * @param {number} t
 * @returns {string}
 */
export function formatRelTime(t) {
  if (!Number.isFinite(t)) return "";
  const sign = t < 0 ? "-" : "";
  const ms = Math.round(Math.abs(t) * 1000);
  const s = Math.floor(ms / 1000);
  const frac = String(ms % 1000).padStart(3, "0");
  if (s < 60) return `${sign}${s}.${frac}`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${sign}${m}:${String(s % 60).padStart(2, "0")}.${frac}`;
  return `${sign}${Math.floor(m / 60)}:${String(m % 60).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}.${frac}`;
}

/**
 * A duration in whole seconds as a clock: "0:05", "12:34", "1:02:03" (negative -> "0:00").
 * @param {number} seconds
 * @returns {string}
 */
export function formatClock(seconds) {
  const s = Number.isFinite(seconds) ? Math.max(0, Math.floor(seconds)) : 0;
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/**
 * Push a value onto a bounded list of recent values (drops the oldest beyond `max`, in batches).
 * @template T
 * @param {T[]} list
 * @param {T} value
 * @param {number} [max]
 */
export function pushBounded(list, value, max = 10000) {
  list.push(value);
  if (list.length > max + max / 10) list.splice(0, list.length - max);
}

/**
 * The event-log panel of one view: filters, the virtualized row list, the JSON detail pane.
 * Renders at most once per animation frame, and only the rows in view (plus a few).
 */
export class LogView {
  /**
   * @param {RowStore} store
   * @param {{frameTimes: number[]}} stats render durations (ms) are appended to stats.frameTimes
   */
  constructor(store, stats) {
    this.store = store;
    this.stats = stats;
    this.view = new FilterView(store);
    /** @type {number | null} */
    this.selectedId = null;
    this.follow = true; // stick to the newest row until the user scrolls up
    this.raf = 0;
    this.drawnVersion = -1;
    this.detailKey = "";

    const el = (this.el = document.createElement("div"));
    el.className = "rtwidget-log";
    el.innerHTML = `
      <div class="rtwidget-log-bar">
        <input class="rtwidget-input" data-rt="log-filter-type" placeholder="filter type" spellcheck="false">
        <select class="rtwidget-select" data-rt="log-filter-dir">
          <option value="">all</option><option value="client">\u2192 client</option>
          <option value="server">\u2190 server</option><option value="local">\u00b7 local</option>
        </select>
        <span class="rtwidget-log-total"></span>
        <span class="rtwidget-log-dropped"></span>
      </div>
      <div class="rtwidget-log-main">
        <div class="rtwidget-log-viewport"><div class="rtwidget-log-spacer"><div class="rtwidget-log-rows"></div></div></div>
        <pre class="rtwidget-log-detail" data-rt="log-detail">Select a row to see the event.</pre>
      </div>`;
    this.typeInput = /** @type {HTMLInputElement} */ (el.querySelector('[data-rt="log-filter-type"]'));
    this.dirSelect = /** @type {HTMLSelectElement} */ (el.querySelector('[data-rt="log-filter-dir"]'));
    this.countEl = /** @type {HTMLElement} */ (el.querySelector(".rtwidget-log-total"));
    this.droppedEl = /** @type {HTMLElement} */ (el.querySelector(".rtwidget-log-dropped"));
    this.viewport = /** @type {HTMLElement} */ (el.querySelector(".rtwidget-log-viewport"));
    this.spacer = /** @type {HTMLElement} */ (el.querySelector(".rtwidget-log-spacer"));
    this.rowsEl = /** @type {HTMLElement} */ (el.querySelector(".rtwidget-log-rows"));
    this.detail = /** @type {HTMLElement} */ (el.querySelector(".rtwidget-log-detail"));
    /** Row elements reused across frames. @type {HTMLElement[]} */
    this.pool = [];

    const refilter = () => {
      this.view.setFilter(this.typeInput.value, this.dirSelect.value);
      this.follow = true;
      this.invalidate(true);
    };
    this.typeInput.addEventListener("input", refilter);
    this.dirSelect.addEventListener("change", refilter);
    this.viewport.addEventListener("scroll", () => {
      const v = this.viewport;
      this.follow = v.scrollTop + v.clientHeight >= v.scrollHeight - LOG_ROW_HEIGHT * 1.5;
      this.invalidate(true);
    });
    this.rowsEl.addEventListener("click", (e) => this.onClick(e));
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
    const { start, end } = visibleRange(v.scrollTop, v.clientHeight, LOG_ROW_HEIGHT, count);
    this.rowsEl.style.transform = `translateY(${start * LOG_ROW_HEIGHT}px)`;
    while (this.pool.length < end - start) this.pool.push(this.makeRow());
    for (let k = 0; k < this.pool.length; k++) {
      const rowEl = this.pool[k];
      const row = k < end - start ? this.view.at(start + k) : undefined;
      if (!row) {
        if (rowEl.parentNode) rowEl.remove();
        continue;
      }
      if (!rowEl.parentNode || rowEl.parentNode !== this.rowsEl) this.rowsEl.appendChild(rowEl);
      this.fillRow(rowEl, row);
    }
    this.countEl.textContent = `${count} row${count === 1 ? "" : "s"}`;
    const dropped = this.store.dropped;
    this.droppedEl.textContent = dropped > 0 ? `${dropped} older row${dropped === 1 ? "" : "s"} not kept` : "";
    this.drawDetail();
    pushBounded(this.stats.frameTimes, performance.now() - t0);
  }

  /** @returns {HTMLElement} */
  makeRow() {
    const el = document.createElement("div");
    el.className = "rtwidget-log-row";
    el.dataset.rt = "log-row";
    el.style.height = `${LOG_ROW_HEIGHT}px`;
    for (const name of ["dir", "time", "type", "size", "count", "text", "cause"]) {
      const span = document.createElement("span");
      span.className = `rtwidget-log-${name}`;
      el.appendChild(span);
    }
    return el;
  }

  /**
   * @param {HTMLElement} el
   * @param {Row} row
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
    const head = `${dirArrow(row.dir)} ${row.type}  t=${formatRelTime(row.t)}  ${formatBytes(row.size)}${
      row.count > 1 ? `  ${row.count} events merged` : ""
    }${row.event_id ? `  event_id=${row.event_id}` : ""}${row.cause_id ? `  cause_id=${row.cause_id}` : ""}`;
    const text = row.count > 1 && row.text ? `\n\nassembled text:\n${row.text}` : "";
    this.detail.textContent = `${head}${text}\n\n${JSON.stringify(row.data ?? null, null, 2)}`;
  }

  destroy() {
    if (this.raf) cancelAnimationFrame(this.raf);
    this.raf = 0;
  }
}
