// Event log data: a bounded row store (per model, shared by its views) and filtered windows onto it
// (one per view). The store is synced from the kernel (`batch` rows/row_updates, `snapshot`);
// logview.js draws it.

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

/** Row updates a store remembers for searching views that fall behind (they rescan beyond that). */
const TOUCHED_KEPT = 1024;

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
    /** Sequence numbers of rows changed by update() (merged deltas), newest last; searching views re-test them. */
    this.touched = /** @type {number[]} */ ([]);
    /** Updates no longer in `touched` (a view that saw fewer must rescan). */
    this.touchedBase = 0;
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
        this.touch(/** @type {number} */ (this.idToSeq.get(row.id)));
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
      this.touch(/** @type {number} */ (this.idToSeq.get(u.id)));
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

  /** @param {number} seq a row whose fields changed */
  touch(seq) {
    this.touched.push(seq);
    if (this.touched.length > 2 * TOUCHED_KEPT) {
      this.touchedBase += this.touched.length - TOUCHED_KEPT;
      this.touched = this.touched.slice(-TOUCHED_KEPT);
    }
  }

  /** Updates ever recorded by touch(). */
  get touchedCount() {
    return this.touchedBase + this.touched.length;
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

/** Lowercased JSON of a row's data, computed when first searched and again only when `data` is replaced. */
const ROW_JSON_CACHE = /** @type {WeakMap<Row, {data: unknown, json: string}>} */ (new WeakMap());

/**
 * Whether a row's type, summary text or data JSON contains `needle` (already lowercased; "" matches all).
 * @param {Row} row
 * @param {string} needle
 * @returns {boolean}
 */
export function rowContains(row, needle) {
  if (!needle) return true;
  if (row.type.toLowerCase().includes(needle) || row.text.toLowerCase().includes(needle)) return true;
  let cached = ROW_JSON_CACHE.get(row);
  if (!cached || cached.data !== row.data) {
    cached = { data: row.data, json: JSON.stringify(row.data ?? null).toLowerCase() };
    ROW_JSON_CACHE.set(row, cached);
  }
  return cached.json.includes(needle);
}

/**
 * One view's filtered window onto a RowStore: by type substring, by direction, and by a search in the
 * type, summary and data JSON. Kept up to date incrementally by `sync()`: only rows appended since the
 * last sync are scanned, plus (while searching) rows whose merged text changed.
 */
export class FilterView {
  /** @param {RowStore} store */
  constructor(store) {
    this.store = store;
    this.type = "";
    this.dir = "";
    this.search = "";
    /** Sequence numbers of matching rows, oldest first, from index `head`. @type {number[]} */
    this.seqs = [];
    this.head = 0;
    this.scanned = 0; // rows with seq < scanned have been considered
    this.epoch = -1;
    this.touchedSeen = 0; // store updates re-tested so far
  }

  /** Whether any filter is set (without one, the view is the store itself). */
  get active() {
    return this.type !== "" || this.dir !== "" || this.search !== "";
  }

  /**
   * @param {string} type substring of the event type, case-insensitive ("" = any)
   * @param {string} dir "client", "server", "local" or "" for any
   * @param {string} [search] substring of the type, summary or data JSON, case-insensitive ("" = any)
   */
  setFilter(type, dir, search = "") {
    this.type = type.trim().toLowerCase();
    this.dir = dir;
    this.search = search.trim().toLowerCase();
    this.epoch = -1; // rescan on next sync
  }

  /**
   * @param {Row} row
   * @returns {boolean}
   */
  matches(row) {
    if (this.dir && row.dir !== this.dir) return false;
    if (this.type && !row.type.toLowerCase().includes(this.type)) return false;
    return rowContains(row, this.search);
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
    if (this.search && this.epoch === s.epoch && this.touchedSeen < s.touchedBase) this.epoch = -1;
    let trimmed = 0;
    if (this.epoch !== s.epoch) {
      this.seqs = [];
      this.head = 0;
      this.scanned = s.firstSeq;
      this.epoch = s.epoch;
      this.touchedSeen = s.touchedCount;
    }
    while (this.head < this.seqs.length && this.seqs[this.head] < s.firstSeq) {
      this.head++;
      trimmed++;
    }
    if (this.head > 1024 && this.head * 2 > this.seqs.length) {
      this.seqs = this.seqs.slice(this.head);
      this.head = 0;
    }
    if (this.search) this.retestTouched();
    for (let seq = Math.max(this.scanned, s.firstSeq); seq < s.appended; seq++) {
      const row = s.bySeq(seq);
      if (row && this.matches(row)) this.seqs.push(seq);
    }
    this.scanned = s.appended;
    return trimmed;
  }

  /** Rows already scanned whose text grew (merged deltas) may match the search now: insert them in order. */
  retestTouched() {
    const s = this.store;
    for (let k = this.touchedSeen - s.touchedBase; k < s.touched.length; k++) {
      const seq = s.touched[k];
      if (seq < s.firstSeq || seq >= this.scanned || this.indexOfSeq(seq) >= 0) continue;
      const row = s.bySeq(seq);
      if (!row || !this.matches(row)) continue;
      let at = this.seqs.length;
      while (at > this.head && this.seqs[at - 1] > seq) at--;
      this.seqs.splice(at, 0, seq);
    }
    this.touchedSeen = s.touchedCount;
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

/** The fields of a row a JSONL download carries, in this order. */
export const JSONL_FIELDS = /** @type {const} */ (["t", "dir", "type", "size", "count", "event_id", "cause_id", "text", "data"]);

/**
 * The rows a store keeps as JSON Lines: one object per row with JSONL_FIELDS (missing ones null), oldest first.
 * @param {RowStore} store
 * @returns {string}
 */
export function rowsJsonl(store) {
  const lines = [];
  for (let i = 0; i < store.length; i++) {
    const row = /** @type {Row} */ (store.at(i));
    /** @type {Record<string, unknown>} */
    const out = {};
    for (const key of JSONL_FIELDS) out[key] = row[key] ?? null;
    lines.push(JSON.stringify(out));
  }
  return lines.length ? `${lines.join("\n")}\n` : "";
}

/**
 * The download's file name: `rtwidget-events-<local date and time>.jsonl` (no characters a file system refuses).
 * @param {Date} date
 * @returns {string}
 */
export function jsonlFileName(date) {
  const p = (/** @type {number} */ n) => String(n).padStart(2, "0");
  const day = `${date.getFullYear()}-${p(date.getMonth() + 1)}-${p(date.getDate())}`;
  return `rtwidget-events-${day}-${p(date.getHours())}${p(date.getMinutes())}${p(date.getSeconds())}.jsonl`;
}

/**
 * The longest event type among the rows a store kept since its last reset (what the type column must fit),
 * found incrementally: only rows appended since the last sync are read.
 */
export class LongestType {
  /** @param {RowStore} store */
  constructor(store) {
    this.store = store;
    this.value = "";
    this.scanned = 0;
    this.epoch = -1;
  }

  /**
   * Catch up; returns true when the longest type changed (a longer one arrived, or the store was reset).
   * @returns {boolean}
   */
  sync() {
    const s = this.store;
    const before = this.value;
    if (this.epoch !== s.epoch) {
      this.epoch = s.epoch;
      this.value = "";
      this.scanned = s.firstSeq;
    }
    for (let seq = Math.max(this.scanned, s.firstSeq); seq < s.appended; seq++) {
      const type = s.bySeq(seq)?.type ?? "";
      if (type.length > this.value.length) this.value = type;
    }
    this.scanned = s.appended;
    return this.value !== before;
  }
}

/**
 * Whether a list follows its newest row, and how many rows arrived while it did not (the "N new events" pill).
 * The list tells it when it scrolled and how long it is at each draw.
 */
export class FollowState {
  constructor() {
    this.follow = true;
    this.unseen = 0;
    this.shown = 0; // rows in the list at the last draw
  }

  /**
   * A draw: the list has `length` rows now, `trimmed` of those it had were dropped at its head.
   * @param {number} length
   * @param {number} trimmed
   */
  drawn(length, trimmed) {
    const added = Math.max(0, length - this.shown + trimmed);
    this.shown = length;
    if (!this.follow) this.unseen += added;
  }

  /** @param {boolean} atBottom whether the user's scroll left the list at its newest row */
  scrolled(atBottom) {
    this.follow = atBottom;
    if (atBottom) this.unseen = 0;
  }

  /**
   * Follow again from now (the pill was clicked, or the filter changed and the list is a new one).
   * @param {number} [length] rows in the list now, when it changed other than by arrivals
   */
  resume(length = this.shown) {
    this.follow = true;
    this.unseen = 0;
    this.shown = length;
  }
}
