// Tools and Session panels of one view (the Conversation is conversation.js). Each renders the model's
// PanelState (panelstate.js) with its own DOM, at most once per animation frame (the view schedules draw()),
// touching only the entries whose revision changed since it last drew them.
import { h, hRt, setText } from "./dom.js";
import { formatUsd, prettyJson, usageSummary } from "./format.js";
import { replayState } from "./replay.js";
import { SessionForm } from "./sessionform.js";
import { RegisteredTools, fillCall, makeCall } from "./toolcards.js";
import { latencyText } from "./waterfall.js";

/** @typedef {import("./panelstate.js").PanelState} PanelState */
/** @typedef {import("./panelstate.js").ToolView} ToolView */

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

/** Tools panel: the registered tools with their schemas (before any call), then one card per call. */
export class ToolsView {
  /**
   * @param {PanelState} state
   * @param {import("./model.js").AnyModel} model for the `registered_tools` trait
   * @param {(message: object) => void} [send] a message to the kernel (a call's Approve / Reject)
   */
  constructor(state, model, send) {
    this.state = state;
    this.model = model;
    this.send = send;
    this.el = h("div", "rtwidget-tools");
    this.registered = new RegisteredTools();
    this.calls = hRt("div", "tool-calls", "rtwidget-calls");
    this.empty = h("div", "rtwidget-empty", "No tool calls yet.");
    this.el.append(
      h("div", "rtwidget-subtitle", "registered tools"),
      this.registered.el,
      h("div", "rtwidget-subtitle", "calls"),
      this.empty,
      this.calls,
    );
    /** @type {Map<string, {el: HTMLElement, rev: number | string}>} */
    this.drawn = new Map();
    /** Call ids drawn as the user's own calls. @type {Set<string>} */
    this.yours = new Set();
    this.epoch = -1;
    this.version = -1;
  }

  draw() {
    this.registered.draw(this.model.get("registered_tools") ?? [], replayState(this.model.get("replay")) !== null);
    const s = this.state;
    if (this.version === s.version && this.epoch === s.epoch) return;
    if (this.epoch !== s.epoch) {
      this.calls.textContent = "";
      this.drawn.clear();
      this.yours.clear();
      this.epoch = s.epoch;
    }
    this.version = s.version;
    for (const id of s.tools.order) {
      const tool = s.tools.map.get(id);
      if (tool) this.drawCall(tool, s.tools.rev.get(id) ?? 0);
    }
    // The user's own calls (tools declared with raw events): drawn from the conversation, keyed by what they show.
    const yours = usersCalls(s);
    for (const call of yours) this.drawCall(call, `${call.status}|${call.output}`);
    const shown = new Set(yours.map((c) => c.call_id));
    for (const id of this.yours) {
      const d = this.drawn.get(id);
      if (!shown.has(id) && !s.tools.map.has(id) && d) {
        d.el.remove();
        this.drawn.delete(id);
      }
    }
    this.yours = shown;
    this.empty.hidden = s.tools.order.length + yours.length > 0;
  }

  /**
   * Draw (or redraw, when its revision changed) one call's card.
   * @param {import("./panelstate.js").ToolView} tool
   * @param {number | string} rev
   */
  drawCall(tool, rev) {
    let d = this.drawn.get(tool.call_id);
    if (!d) {
      d = { el: makeCall(this.send), rev: -1 };
      this.drawn.set(tool.call_id, d);
      this.calls.appendChild(d.el);
    }
    if (d.rev !== rev) {
      fillCall(d.el, tool);
      d.rev = rev;
    }
  }
}

/**
 * The calls of finished responses that rtwidget did not take (no ToolView): a tool the user declared with raw
 * events, which the user answers with a function_call_output (status "yours", then "answered" with its output).
 * @param {PanelState} s
 * @returns {import("./panelstate.js").ToolView[]}
 */
export function usersCalls(s) {
  /** @type {Map<string, string>} */
  const answers = new Map();
  for (const item of s.items.map.values()) {
    if (item.type === "function_call_output" && item.call_id) answers.set(item.call_id, item.output ?? "");
  }
  const out = [];
  for (const id of s.items.order) {
    const item = s.items.map.get(id);
    if (!item || item.type !== "function_call" || item.status !== "completed" || !item.call_id) continue;
    const response = s.responses.map.get(item.response_id ?? "");
    if (s.tools.map.has(item.call_id) || !response || !response.status || response.status === "in_progress") continue;
    const answered = answers.has(item.call_id);
    out.push({
      call_id: item.call_id,
      name: item.name ?? "",
      arguments: item.arguments ?? "",
      response_id: item.response_id ?? null,
      status: answered ? "answered" : "yours",
      output: answered ? (answers.get(item.call_id) ?? "") : null,
    });
  }
  return out;
}

/** Session panel: the config form, token usage per response with totals, the raw config folded. */
export class SessionView {
  /**
   * @param {PanelState} state
   * @param {import("./model.js").AnyModel} model the traits the form and the usage table read
   * @param {(message: object) => void} send a message to the kernel
   * @param {AbortSignal} signal the view's lifetime
   */
  constructor(state, model, send, signal) {
    this.state = state;
    this.model = model;
    this.el = h("div", "rtwidget-session");
    this.form = new SessionForm(send, signal);
    this.usageTable = hRt("table", "usage", "rtwidget-table rtwidget-usage");
    const usageBox = h("div", "rtwidget-usage-box");
    usageBox.appendChild(this.usageTable);
    this.costLine = hRt("div", "usage-cost", "rtwidget-usage-cost");
    this.latencyLine = hRt("div", "usage-latency", "rtwidget-usage-latency");
    this.config = hRt("pre", "session-json", "rtwidget-json");
    this.raw = h("details", "rtwidget-raw-config");
    this.raw.append(h("summary", "", "effective session config (JSON, from the last session.updated)"), this.config);
    this.el.append(this.form.el, h("div", "rtwidget-subtitle", "usage (tokens)"), usageBox, this.costLine, this.latencyLine, this.raw);
    this.version = -1;
    this.traitsKey = "";
  }

  draw() {
    const m = this.model;
    const config = m.get("session_config") ?? {};
    this.form.draw({
      config,
      voices: m.get("voices") ?? [],
      voice: String(m.get("voice") ?? ""),
      voiceLocked: !!m.get("voice_locked"),
      turnMode: String(m.get("turn_mode") ?? ""),
      choices: m.get("form_choices") ?? {},
    });
    const usage = m.get("usage");
    const key = JSON.stringify([config, usage]);
    if (this.version === this.state.version && key === this.traitsKey) return;
    this.version = this.state.version;
    this.traitsKey = key;
    setText(this.config, Object.keys(config).length ? prettyJson(config) : "(no session.updated yet)");
    this.drawUsage(usage);
  }

  /** @param {Record<string, any> | null} usage the totals (the `usage` trait) */
  drawUsage(usage) {
    const head = h("thead");
    head.appendChild(tableRow("th", ["response", "status", ...USAGE_COLUMNS.map(([, title]) => title), "cost"]));
    const body = h("tbody");
    for (const id of this.state.responses.order) {
      const r = this.state.responses.map.get(id);
      if (!r) continue;
      const u = usageSummary(r.usage);
      const counts = USAGE_COLUMNS.map(([c]) => (u ? u[/** @type {keyof import("./format.js").UsageSummary} */ (c)] : ""));
      const lane = r.lane === "out_of_band" ? " (out of band)" : "";
      const row = tableRow("td", [`${id}${lane}`, r.status, ...counts, formatUsd(r.cost_usd)], "rtwidget-response-row");
      row.children[0].setAttribute("title", id);
      row.lastElementChild?.setAttribute("data-rt", "response-cost");
      body.appendChild(row);
    }
    if (usage && Object.keys(usage).length) {
      const totals = USAGE_COLUMNS.map(([c]) => totalOf(usage, c));
      const n = Number(usage.responses ?? 0);
      const cost = "cost_usd" in usage ? formatUsd(usage.cost_usd) : "";
      body.appendChild(
        tableRow("td", ["total", `${n} response${n === 1 ? "" : "s"}`, ...totals, cost], "rtwidget-usage-total"),
      );
    }
    this.usageTable.replaceChildren(head, body);
    setText(this.costLine, costText(usage));
    setText(this.latencyLine, latencyText(usage?.latency));
  }
}

/**
 * The line under the usage table: the session's cost so far in USD (or why it is unknown), whether it is billed.
 * @param {Record<string, any> | null | undefined} usage the `usage` trait
 * @returns {string}
 */
export function costText(usage) {
  if (!usage || !("cost_usd" in usage)) return "";
  const note = usage.cost_note ? ` (${usage.cost_note})` : "";
  const cost = usage.cost_usd;
  if (typeof cost !== "number") return `cost: unknown${note}`;
  const asOf = usage.prices_as_of ? `, prices of ${usage.prices_as_of}` : "";
  return `cost: ${formatUsd(cost)}${asOf}${note}`;
}

/**
 * A total of the `usage` trait (the session's own counts) in a column of the per-response rows: `cached` is
 * the cached input of every kind, `total` the total tokens.
 * @param {Record<string, any>} usage
 * @param {string} column
 * @returns {number}
 */
function totalOf(usage, column) {
  const n = (/** @type {string} */ key) => (typeof usage[key] === "number" ? usage[key] : 0);
  if (column === "cached") return n("cached_text") + n("cached_audio") + n("cached_image");
  if (column === "total") return n("total_tokens");
  return n(column);
}
