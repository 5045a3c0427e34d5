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
