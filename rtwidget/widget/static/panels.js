// Conversation, Tools and Session panels.
//
// PanelState (items, tools, responses) is per model and shared by its views; it is synced from the
// kernel's `batch` and `snapshot` messages. Each view renders it with its own DOM, at most once per
// animation frame, touching only the entries whose revision changed since it last drew them.

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
 * @property {string} [status] "running" | "done" | "error" | "timeout"
 * @property {number | null} [duration_ms]
 * @property {string | null} [response_id]
 * @property {string | null} [followup] "sent" | "none" | "pending"
 */

/**
 * @typedef {object} ResponseView
 * @property {string} id
 * @property {string} [status]
 * @property {string} [lane]
 * @property {Record<string, any> | null} [usage]
 * @property {unknown} [metadata]
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

/**
 * Milliseconds as seconds with one decimal: 1234 -> "1.2 s".
 * @param {number | null | undefined} ms
 * @returns {string}
 */
export function formatSeconds(ms) {
  return typeof ms === "number" && Number.isFinite(ms) ? `${(ms / 1000).toFixed(1)} s` : "?";
}

/**
 * The truncation mark of an item: "heard 1.2 s of 3.4 s", or "" when it was not truncated.
 * @param {ItemView} item
 * @returns {string}
 */
export function heardLabel(item) {
  if (item.heard_ms === null || item.heard_ms === undefined) return "";
  return `heard ${formatSeconds(item.heard_ms)} of ${formatSeconds(item.audio_ms)}`;
}

/**
 * @typedef {object} UsageSummary
 * @property {number} input_text
 * @property {number} input_audio
 * @property {number} output_text
 * @property {number} output_audio
 * @property {number} cached
 * @property {number} total
 */

/**
 * Token counts of a `response.done` usage object.
 * @param {Record<string, any> | null | undefined} usage
 * @returns {UsageSummary | null}
 */
export function usageSummary(usage) {
  if (!usage || typeof usage !== "object") return null;
  const inp = usage.input_token_details ?? {};
  const out = usage.output_token_details ?? {};
  const n = (/** @type {unknown} */ x) => (typeof x === "number" ? x : 0);
  return {
    input_text: n(inp.text_tokens),
    input_audio: n(inp.audio_tokens),
    output_text: n(out.text_tokens),
    output_audio: n(out.audio_tokens),
    cached: n(inp.cached_tokens),
    total: typeof usage.total_tokens === "number" ? usage.total_tokens : n(usage.input_tokens) + n(usage.output_tokens),
  };
}

/**
 * Pretty JSON for display; strings shown as they are.
 * @param {unknown} value
 * @returns {string}
 */
export function prettyJson(value) {
  if (typeof value === "string") {
    try {
      return JSON.stringify(JSON.parse(value), null, 2);
    } catch {
      return value;
    }
  }
  if (value === undefined || value === null) return "";
  return JSON.stringify(value, null, 2);
}

/**
 * Create an element with a class and optional text.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {string} [cls]
 * @param {string} [text]
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

/**
 * Set an element's text only when it differs (cheap repeated renders).
 * @param {HTMLElement} e
 * @param {string} text
 */
export function setText(e, text) {
  if (e.textContent !== text) e.textContent = text;
}

/** Conversation panel: items in order, out-of-band responses in their own lane. */
export class ConversationView {
  /** @param {PanelState} state */
  constructor(state) {
    this.state = state;
    this.el = h("div", "rtwidget-conv");
    this.main = h("div", "rtwidget-lane rtwidget-lane-default");
    this.oob = h("div", "rtwidget-lane rtwidget-lane-oob");
    const oobTitle = h("div", "rtwidget-lane-title", "out of band");
    this.oob.appendChild(oobTitle);
    this.empty = h("div", "rtwidget-empty", "No conversation yet.");
    this.el.append(this.empty, this.main, this.oob);
    /** @type {Map<string, {el: HTMLElement, rev: number}>} */
    this.drawn = new Map();
    this.epoch = -1;
    this.version = -1;
  }

  draw() {
    const s = this.state;
    if (this.version === s.version && this.epoch === s.epoch) return;
    if (this.epoch !== s.epoch) {
      for (const { el } of this.drawn.values()) el.remove();
      this.drawn.clear();
      this.epoch = s.epoch;
    }
    this.version = s.version;
    const follow = this.el.scrollTop + this.el.clientHeight >= this.el.scrollHeight - 24;
    for (const [id, d] of this.drawn) {
      if (!s.items.map.has(id)) {
        d.el.remove();
        this.drawn.delete(id);
      }
    }
    const { main, oob } = s.orderedItems();
    const hasOob = oob.length > 0;
    for (const [lane, ids, first] of /** @type {[HTMLElement, string[], number][]} */ ([
      [this.main, main, 0],
      [this.oob, oob, 1], // after the lane title
    ])) {
      ids.forEach((id, k) => {
        const item = /** @type {ItemView} */ (s.items.map.get(id));
        const rev = s.items.rev.get(id) ?? 0;
        let d = this.drawn.get(id);
        if (!d) {
          d = { el: this.makeItem(), rev: -1 };
          this.drawn.set(id, d);
        }
        // Keep DOM order equal to display order (moves only what is out of place).
        const at = lane.children[first + k];
        if (at !== d.el) lane.insertBefore(d.el, at ?? null);
        if (d.rev !== rev) {
          this.fillItem(d.el, item);
          d.rev = rev;
        }
      });
    }
    this.oob.hidden = !hasOob;
    this.el.classList.toggle("rtwidget-has-oob", hasOob);
    this.empty.hidden = s.items.order.length > 0;
    if (follow) this.el.scrollTop = this.el.scrollHeight;
  }

  /** @returns {HTMLElement} */
  makeItem() {
    const e = h("div", "rtwidget-item");
    e.dataset.rt = "item";
    const head = h("div", "rtwidget-item-head");
    head.append(
      h("span", "rtwidget-item-role"),
      h("span", "rtwidget-item-status"),
      h("span", "rtwidget-item-heard"),
      h("span", "rtwidget-item-meta"),
    );
    e.append(head, h("div", "rtwidget-item-body"), h("pre", "rtwidget-item-code"));
    return e;
  }

  /**
   * @param {HTMLElement} e
   * @param {ItemView} item
   */
  fillItem(e, item) {
    const [role, status, heard, meta] = /** @type {HTMLElement[]} */ (Array.from(e.children[0].children));
    const body = /** @type {HTMLElement} */ (e.children[1]);
    const code = /** @type {HTMLElement} */ (e.children[2]);
    e.dataset.id = item.id;
    e.dataset.type = item.type ?? "";
    const who =
      item.type === "function_call"
        ? `tool call ${item.name ?? ""}`
        : item.type === "function_call_output"
          ? "tool output"
          : item.role ?? "item";
    e.className = `rtwidget-item rtwidget-role-${item.role ?? item.type ?? "item"}${
      item.heard_ms !== null && item.heard_ms !== undefined ? " rtwidget-truncated" : ""
    }`;
    setText(role, who);
    setText(status, item.status ?? "");
    status.className = `rtwidget-item-status rtwidget-status-${item.status ?? "none"}`;
    setText(heard, heardLabel(item));
    const metaParts = [];
    if (item.audio_ms) metaParts.push(`audio ${formatSeconds(item.audio_ms)}`);
    if (item.call_id) metaParts.push(item.call_id);
    setText(meta, metaParts.join(" \u00b7 "));
    if (item.type === "function_call") {
      setText(body, "");
      setText(code, prettyJson(item.arguments ?? ""));
    } else if (item.type === "function_call_output") {
      setText(body, "");
      setText(code, prettyJson(item.output ?? ""));
    } else {
      setText(body, item.text ?? "");
      setText(code, "");
    }
    body.hidden = body.textContent === "";
    code.hidden = code.textContent === "";
  }
}

/** Tools panel: one row per call with its status, timing and follow-up. */
export class ToolsView {
  /** @param {PanelState} state */
  constructor(state) {
    this.state = state;
    this.el = h("div", "rtwidget-tools");
    this.table = h("table", "rtwidget-table");
    this.table.innerHTML =
      "<thead><tr><th>tool</th><th>arguments</th><th>output</th><th>status</th><th>time</th>" +
      "<th>response</th><th>follow-up</th></tr></thead>";
    this.body = h("tbody");
    this.table.appendChild(this.body);
    this.empty = h("div", "rtwidget-empty", "No tool calls yet.");
    this.el.append(this.empty, this.table);
    /** @type {Map<string, {el: HTMLTableRowElement, rev: number}>} */
    this.drawn = new Map();
    this.epoch = -1;
    this.version = -1;
  }

  draw() {
    const s = this.state;
    if (this.version === s.version && this.epoch === s.epoch) return;
    if (this.epoch !== s.epoch) {
      this.body.textContent = "";
      this.drawn.clear();
      this.epoch = s.epoch;
    }
    this.version = s.version;
    for (const id of s.tools.order) {
      const tool = s.tools.map.get(id);
      if (!tool) continue;
      const rev = s.tools.rev.get(id) ?? 0;
      let d = this.drawn.get(id);
      if (!d) {
        const tr = h("tr", "rtwidget-tool-row");
        tr.dataset.rt = "tool-row";
        for (let i = 0; i < 7; i++) tr.appendChild(h("td"));
        d = { el: tr, rev: -1 };
        this.drawn.set(id, d);
        this.body.appendChild(tr);
      }
      if (d.rev !== rev) {
        this.fillRow(d.el, tool);
        d.rev = rev;
      }
    }
    this.empty.hidden = s.tools.order.length > 0;
    this.table.hidden = s.tools.order.length === 0;
  }

  /**
   * @param {HTMLTableRowElement} tr
   * @param {ToolView} tool
   */
  fillRow(tr, tool) {
    const c = /** @type {HTMLElement[]} */ (Array.from(tr.children));
    tr.dataset.callId = tool.call_id;
    tr.dataset.status = tool.status ?? "";
    setText(c[0], tool.name ?? "");
    c[0].title = tool.call_id;
    setText(c[1], prettyJson(tool.arguments ?? ""));
    const failed = tool.error && !tool.output;
    setText(c[2], failed ? String(tool.error) : prettyJson(tool.output ?? ""));
    c[2].className = failed ? "rtwidget-status-error" : "";
    setText(c[3], tool.status ?? "");
    c[3].className = `rtwidget-status-${tool.status ?? "none"}`;
    setText(c[4], typeof tool.duration_ms === "number" ? `${Math.round(tool.duration_ms)} ms` : "");
    setText(c[5], tool.response_id ?? "");
    setText(c[6], tool.followup ?? "");
  }
}

/** Session panel: the effective config, and token usage per response with totals. */
export class SessionView {
  /**
   * @param {PanelState} state
   * @param {() => {config: unknown, usage: Record<string, any> | null}} traits
   */
  constructor(state, traits) {
    this.state = state;
    this.traits = traits;
    this.el = h("div", "rtwidget-session");
    this.usageTable = h("table", "rtwidget-table rtwidget-usage");
    this.config = h("pre", "rtwidget-json");
    this.el.append(h("div", "rtwidget-subtitle", "usage (tokens)"), this.usageTable);
    this.el.append(h("div", "rtwidget-subtitle", "effective session config"), this.config);
    this.version = -1;
    this.traitsKey = "";
  }

  draw() {
    const { config, usage } = this.traits();
    const key = JSON.stringify([config, usage]);
    if (this.version === this.state.version && key === this.traitsKey) return;
    this.version = this.state.version;
    this.traitsKey = key;
    setText(this.config, config && Object.keys(config).length ? prettyJson(config) : "(no session.updated yet)");
    const cols = ["input_text", "input_audio", "cached", "output_text", "output_audio", "total"];
    let html =
      "<thead><tr><th>response</th><th>status</th><th>in text</th><th>in audio</th><th>cached</th>" +
      "<th>out text</th><th>out audio</th><th>total</th></tr></thead><tbody>";
    const esc = (/** @type {unknown} */ s) =>
      String(s ?? "").replace(/[&<>"]/g, (ch) => `&#${ch.charCodeAt(0)};`);
    for (const id of this.state.responses.order) {
      const r = this.state.responses.map.get(id);
      if (!r) continue;
      const u = usageSummary(r.usage);
      const cells = cols.map((c) => `<td>${u ? u[/** @type {keyof UsageSummary} */ (c)] : ""}</td>`).join("");
      const lane = r.lane === "out_of_band" ? " (out of band)" : "";
      html += `<tr class="rtwidget-response-row"><td>${esc(id)}${esc(lane)}</td><td>${esc(r.status)}</td>${cells}</tr>`;
    }
    if (usage) {
      const cells = cols.map((c) => `<td>${esc(usage[c] ?? 0)}</td>`).join("");
      html += `<tr class="rtwidget-usage-total"><td>total (${esc(usage.responses ?? 0)} responses)</td><td></td>${cells}</tr>`;
    }
    this.usageTable.innerHTML = `${html}</tbody>`;
  }
}
