// Panel data of one model: conversation items, tool calls and responses, in arrival order, each
// with a revision so views redraw only what changed. Shared by the model's views; synced from the
// kernel's `batch` and `snapshot` messages (docs/widget-contract.md: ItemView, ToolView, ResponseView).

/**
 * @typedef {object} ItemView
 * @property {string} id
 * @property {string} [type] "message" | "function_call" | "function_call_output"
 * @property {string | null} [role]
 * @property {string | null} [status]
 * @property {string | null} [text]
 * @property {string | null} [name]
 * @property {string | null} [call_id]
 * @property {string | null} [arguments]
 * @property {string | null} [output]
 * @property {string | null} [response_id]
 * @property {number | null} [audio_ms]
 * @property {number | null} [heard_ms]
 * @property {string | null} [lane] "default" | "out_of_band"
 * @property {number | null} [index] position in the default conversation (null out of band)
 * @property {boolean} [deleted]
 */

/**
 * @typedef {object} ToolView
 * @property {string} call_id
 * @property {string} [name]
 * @property {string | null} [arguments]
 * @property {string | null} [output]
 * @property {string | null} [error]
 * @property {string | null} [traceback] the tool's traceback, when it raised (kernel-side rtwidget.error)
 * @property {string} [status] "running" | "done" | "error" | "timeout"; with approval also "waiting",
 *   "declined" or "cancelled"
 * @property {number | null} [duration_ms]
 * @property {string | null} [response_id]
 * @property {string | null} [followup] "sent" | "none" | "pending"
 * @property {string | null} [approval] "pending" | "approved" | "rejected" | "cancelled" (tools that ask first)
 * @property {number | null} [approval_timeout] seconds before an undecided call is rejected (null: none)
 * @property {string | null} [approval_reason] why it was rejected
 * @property {string | null} [approval_by] "user" | "timeout" | "close"
 */

/**
 * @typedef {object} ResponseView
 * @property {string} id
 * @property {string} [status]
 * @property {string} [lane]
 * @property {Record<string, any> | null} [usage]
 * @property {unknown} [metadata]
 * @property {import("./waterfall.js").Latency | null} [latency] the turn's steps in ms from its start (null: out of band)
 * @property {number | null} [cost_usd] the response's cost (null: not done, or no price)
 */

/**
 * @template T
 * @typedef {object} Keyed ordered entries with a revision per key
 * @property {Map<string, T>} map
 * @property {string[]} order
 * @property {Map<string, number>} rev
 */

/**
 * @template T
 * @returns {Keyed<T>}
 */
function keyed() {
  return { map: new Map(), order: [], rev: new Map() };
}

/**
 * Upsert (or delete) entries by key; fields of an update replace those of the entry.
 * @template {object} T
 * @param {Keyed<T>} k
 * @param {T[] | undefined} updates
 * @param {(u: T) => string | undefined} keyOf
 * @param {number} version
 * @returns {boolean} whether anything changed
 */
function upsert(k, updates, keyOf, version) {
  if (!updates || updates.length === 0) return false;
  let removed = false;
  for (const u of updates) {
    const key = keyOf(u);
    if (typeof key !== "string") continue;
    if (/** @type {{deleted?: boolean}} */ (u).deleted) {
      if (k.map.delete(key)) removed = true;
      k.rev.delete(key);
      continue;
    }
    const old = k.map.get(key);
    if (old) Object.assign(old, u);
    else {
      k.map.set(key, { ...u });
      k.order.push(key);
    }
    k.rev.set(key, version);
  }
  if (removed) k.order = k.order.filter((key) => k.map.has(key));
  return true;
}

/** Conversation items, tool calls and responses of one model, in arrival order. */
export class PanelState {
  constructor() {
    /** @type {Keyed<ItemView>} */
    this.items = keyed();
    /** @type {Keyed<ToolView>} */
    this.tools = keyed();
    /** @type {Keyed<ResponseView>} */
    this.responses = keyed();
    /** Increases on every change. */
    this.version = 0;
    /** Increases on reset (views rebuild their DOM). */
    this.epoch = 0;
  }

  /**
   * Apply the panel part of a `batch` message.
   * @param {{items?: ItemView[], tools?: ToolView[], responses?: ResponseView[]}} batch
   * @returns {boolean} whether anything changed
   */
  apply(batch) {
    const v = this.version + 1;
    const a = upsert(this.items, batch.items, (u) => u.id, v);
    const b = upsert(this.tools, batch.tools, (u) => u.call_id, v);
    const c = upsert(this.responses, batch.responses, (u) => u.id, v);
    if (a || b || c) this.version = v;
    return a || b || c;
  }

  /**
   * Item ids per lane, in display order: the default lane sorted by `index` (an item can be
   * inserted before others), ties and items without an index in arrival order; the out-of-band
   * lane in arrival order.
   * @returns {{main: string[], oob: string[]}}
   */
  orderedItems() {
    /** @type {{id: string, index: number, arrival: number}[]} */
    const main = [];
    /** @type {string[]} */
    const oob = [];
    this.items.order.forEach((id, arrival) => {
      const item = this.items.map.get(id);
      if (!item) return;
      if (item.lane === "out_of_band") oob.push(id);
      else main.push({ id, index: typeof item.index === "number" ? item.index : Infinity, arrival });
    });
    main.sort((a, b) => a.index - b.index || a.arrival - b.arrival);
    return { main: main.map((e) => e.id), oob };
  }

  /**
   * Replace everything with a snapshot.
   * @param {{items?: ItemView[], tools?: ToolView[], responses?: ResponseView[]}} snapshot
   */
  reset(snapshot) {
    this.items = keyed();
    this.tools = keyed();
    this.responses = keyed();
    this.epoch++;
    this.apply(snapshot);
    this.version++;
  }
}
