// Conversation, Tools and Session panels of one view. Each renders the model's PanelState
// (panelstate.js) with its own DOM, at most once per animation frame (the view schedules draw()),
// touching only the entries whose revision changed since it last drew them.
import { h, setText } from "./dom.js";
import { formatSeconds, heardLabel, prettyJson, usageSummary } from "./format.js";

/** @typedef {import("./panelstate.js").PanelState} PanelState */
/** @typedef {import("./panelstate.js").ItemView} ItemView */
/** @typedef {import("./panelstate.js").ToolView} ToolView */

/** Columns of the tools table. */
const TOOL_COLUMNS = ["tool", "arguments", "output", "status", "time", "response", "follow-up"];
/** Usage columns: (UsageSummary key, heading). */
const USAGE_COLUMNS = [
  ["input_text", "in text"],
  ["input_audio", "in audio"],
  ["cached", "cached"],
  ["output_text", "out text"],
  ["output_audio", "out audio"],
  ["total", "total"],
];

/**
 * A table row of cells with these texts.
 * @param {"td" | "th"} tag
 * @param {unknown[]} texts
 * @param {string} [cls]
 * @returns {HTMLTableRowElement}
 */
function tableRow(tag, texts, cls) {
  const tr = h("tr", cls);
  for (const t of texts) tr.appendChild(h(tag, "", String(t ?? "")));
  return tr;
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
    const head = h("thead");
    head.appendChild(tableRow("th", TOOL_COLUMNS));
    this.body = h("tbody");
    this.table.append(head, this.body);
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
        for (let i = 0; i < TOOL_COLUMNS.length; i++) tr.appendChild(h("td"));
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
    const head = h("thead");
    head.appendChild(tableRow("th", ["response", "status", ...USAGE_COLUMNS.map(([, title]) => title)]));
    const body = h("tbody");
    for (const id of this.state.responses.order) {
      const r = this.state.responses.map.get(id);
      if (!r) continue;
      const u = usageSummary(r.usage);
      const counts = USAGE_COLUMNS.map(([c]) => (u ? u[/** @type {keyof import("./format.js").UsageSummary} */ (c)] : ""));
      const lane = r.lane === "out_of_band" ? " (out of band)" : "";
      body.appendChild(tableRow("td", [`${id}${lane}`, r.status, ...counts], "rtwidget-response-row"));
    }
    if (usage) {
      const totals = USAGE_COLUMNS.map(([c]) => usage[c] ?? 0);
      body.appendChild(
        tableRow("td", [`total (${usage.responses ?? 0} responses)`, "", ...totals], "rtwidget-usage-total"),
      );
    }
    this.usageTable.replaceChildren(head, body);
  }
}
