// Conversation, Tools and Session panels of one view. Each renders the model's PanelState
// (panelstate.js) with its own DOM, at most once per animation frame (the view schedules draw()),
// touching only the entries whose revision changed since it last drew them.
import { h, hRt, listen, setText } from "./dom.js";
import { formatSeconds, heardLabel, prettyJson, usageSummary } from "./format.js";
import { SessionForm, transcribing } from "./sessionform.js";
import { RegisteredTools, fillCall, makeCall } from "./toolcards.js";

/** @typedef {import("./panelstate.js").PanelState} PanelState */
/** @typedef {import("./panelstate.js").ItemView} ItemView */
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

/**
 * Whether the Conversation should say how to see the words of spoken turns: a user turn that is
 * audio without a transcript, while the config does not transcribe input.
 * @param {Iterable<ItemView>} items
 * @param {Record<string, any>} config
 * @returns {boolean}
 */
export function needsTranscriptionHint(items, config) {
  if (transcribing(config)) return false;
  for (const item of items) {
    if (item.role === "user" && item.type === "message" && (item.audio_ms ?? 0) > 0 && !item.text) return true;
  }
  return false;
}

/** Conversation panel: items in order; out-of-band responses in their own collapsible lane. */
export class ConversationView {
  /**
   * @param {PanelState} state
   * @param {import("./model.js").AnyModel} model for the config and the form's choices (the hint)
   * @param {(message: object) => void} send a message to the kernel
   * @param {AbortSignal} signal the view's lifetime
   */
  constructor(state, model, send, signal) {
    this.state = state;
    this.model = model;
    this.el = h("div", "rtwidget-conv");
    this.hint = hRt("div", "transcription-hint", "rtwidget-conv-hint");
    const enable = hRt("button", "transcription-enable", "rtwidget-btn", "Turn on transcription");
    enable.type = "button";
    this.hint.append(
      h("span", "", "Spoken turns show no words: turn on input transcription in the Session panel."),
      enable,
    );
    this.hint.hidden = true;
    listen(enable, "click", () => {
      const models = /** @type {string[]} */ (model.get("form_choices")?.transcription_models ?? []);
      send({ kind: "config", session: { transcription: { model: models[0] } } });
    }, signal);
    this.main = h("div", "rtwidget-lane rtwidget-lane-default");
    this.oob = hRt("div", "oob-lane", "rtwidget-lane rtwidget-lane-oob");
    this.oobToggle = hRt("button", "oob-toggle", "rtwidget-lane-toggle");
    this.oobToggle.type = "button";
    this.oobItems = h("div", "rtwidget-lane-items");
    this.oob.append(this.oobToggle, this.oobItems);
    /** The user's choice (null: open while it has content). @type {boolean | null} */
    this.oobOpen = null;
    listen(this.oobToggle, "click", () => {
      this.oobOpen = !this.oob.classList.contains("rtwidget-lane-open");
      this.drawOob(this.oobItems.children.length);
    }, signal);
    const lanes = h("div", "rtwidget-conv-lanes");
    lanes.append(this.main, this.oob);
    this.empty = h("div", "rtwidget-empty", "No conversation yet.");
    this.el.append(this.hint, this.empty, lanes);
    /** @type {Map<string, {el: HTMLElement, rev: number | string}>} */
    this.drawn = new Map();
    /** Call ids drawn as the user's own calls. @type {Set<string>} */
    this.yours = new Set();
    this.epoch = -1;
    this.version = -1;
    this.configKey = "";
  }

  draw() {
    const s = this.state;
    const config = this.model.get("session_config") ?? {};
    const configKey = JSON.stringify(config.audio?.input?.transcription ?? null);
    if (this.version === s.version && this.epoch === s.epoch && this.configKey === configKey) return;
    this.configKey = configKey;
    if (this.epoch !== s.epoch) {
      for (const { el } of this.drawn.values()) el.remove();
      this.drawn.clear();
      this.epoch = s.epoch;
      this.oobOpen = null; // a new conversation: the lane opens again for its first side response
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
    this.drawLane(this.main, main);
    this.drawLane(this.oobItems, oob);
    this.drawOob(oob.length);
    this.empty.hidden = s.items.order.length > 0;
    this.hint.hidden = !needsTranscriptionHint(s.items.map.values(), config);
    if (follow) this.el.scrollTop = this.el.scrollHeight;
  }

  /**
   * @param {HTMLElement} lane
   * @param {string[]} ids in display order
   */
  drawLane(lane, ids) {
    const s = this.state;
    ids.forEach((id, k) => {
      const item = /** @type {ItemView} */ (s.items.map.get(id));
      const rev = s.items.rev.get(id) ?? 0;
      let d = this.drawn.get(id);
      if (!d) {
        d = { el: this.makeItem(), rev: -1 };
        this.drawn.set(id, d);
      }
      // Keep DOM order equal to display order (moves only what is out of place).
      const at = lane.children[k];
      if (at !== d.el) lane.insertBefore(d.el, at ?? null);
      if (d.rev !== rev) {
        this.fillItem(d.el, item);
        d.rev = rev;
      }
    });
  }

  /**
   * The out-of-band lane takes space only while it has items, and only as much as a toggle when folded.
   * @param {number} count
   */
  drawOob(count) {
    const open = count > 0 && this.oobOpen !== false;
    this.oob.hidden = count === 0;
    this.oob.classList.toggle("rtwidget-lane-open", open);
    this.el.classList.toggle("rtwidget-has-oob", count > 0);
    this.oobItems.hidden = !open;
    setText(this.oobToggle, `${open ? "\u25be" : "\u25c2"} out of band (${count})`);
    this.oobToggle.title = open ? "Fold the out-of-band responses" : "Show the out-of-band responses";
    this.oobToggle.setAttribute("aria-expanded", String(open));
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
    this.registered.draw(this.model.get("registered_tools") ?? []);
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
    this.config = hRt("pre", "session-json", "rtwidget-json");
    this.raw = h("details", "rtwidget-raw-config");
    this.raw.append(h("summary", "", "effective session config (JSON, from the last session.updated)"), this.config);
    this.el.append(this.form.el, h("div", "rtwidget-subtitle", "usage (tokens)"), usageBox, this.costLine, this.raw);
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
    head.appendChild(tableRow("th", ["response", "status", ...USAGE_COLUMNS.map(([, title]) => title)]));
    const body = h("tbody");
    for (const id of this.state.responses.order) {
      const r = this.state.responses.map.get(id);
      if (!r) continue;
      const u = usageSummary(r.usage);
      const counts = USAGE_COLUMNS.map(([c]) => (u ? u[/** @type {keyof import("./format.js").UsageSummary} */ (c)] : ""));
      const lane = r.lane === "out_of_band" ? " (out of band)" : "";
      const row = tableRow("td", [`${id}${lane}`, r.status, ...counts], "rtwidget-response-row");
      row.children[0].setAttribute("title", id);
      body.appendChild(row);
    }
    if (usage && Object.keys(usage).length) {
      const totals = USAGE_COLUMNS.map(([c]) => usage[c] ?? 0);
      const n = Number(usage.responses ?? 0);
      body.appendChild(
        tableRow("td", ["total", `${n} response${n === 1 ? "" : "s"}`, ...totals], "rtwidget-usage-total"),
      );
    }
    this.usageTable.replaceChildren(head, body);
    setText(this.costLine, costText(usage));
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
  const shown = cost >= 1 ? cost.toFixed(2) : cost >= 0.01 || cost === 0 ? cost.toFixed(4) : cost.toPrecision(2);
  const asOf = usage.prices_as_of ? `, prices of ${usage.prices_as_of}` : "";
  return `cost: $${shown}${asOf}${note}`;
}
