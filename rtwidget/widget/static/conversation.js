// Conversation panel of one view: items in order, out-of-band responses in their own collapsible lane, and
// under each default response's first item its latency waterfall (waterfall.js). Renders the model's
// PanelState (panelstate.js) at most once per animation frame, touching only what changed since it last drew.
import { h, hRt, listen, setText } from "./dom.js";
import { formatSeconds, heardLabel, prettyJson } from "./format.js";
import { transcribing } from "./sessionform.js";
import { fillWaterfall, makeWaterfall } from "./waterfall.js";

/** @typedef {import("./panelstate.js").PanelState} PanelState */
/** @typedef {import("./panelstate.js").ItemView} ItemView */
/** @typedef {import("./panelstate.js").ResponseView} ResponseView */

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
    /** Per item: its element, the revision drawn, and the waterfall drawn in it ("": none).
     * @type {Map<string, {el: HTMLElement, rev: number | string, wf: string}>} */
    this.drawn = new Map();
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
    this.drawLane(this.main, main, waterfallHosts(s, main));
    this.drawLane(this.oobItems, oob, new Map());
    this.drawOob(oob.length);
    this.empty.hidden = s.items.order.length > 0;
    this.hint.hidden = !needsTranscriptionHint(s.items.map.values(), config);
    if (follow) this.el.scrollTop = this.el.scrollHeight;
  }

  /**
   * @param {HTMLElement} lane
   * @param {string[]} ids in display order
   * @param {Map<string, ResponseView>} hosts item id -> the response whose waterfall it shows
   */
  drawLane(lane, ids, hosts) {
    const s = this.state;
    ids.forEach((id, k) => {
      const item = /** @type {ItemView} */ (s.items.map.get(id));
      const rev = s.items.rev.get(id) ?? 0;
      let d = this.drawn.get(id);
      if (!d) {
        d = { el: this.makeItem(), rev: -1, wf: "" };
        this.drawn.set(id, d);
      }
      // Keep DOM order equal to display order (moves only what is out of place).
      const at = lane.children[k];
      if (at !== d.el) lane.insertBefore(d.el, at ?? null);
      if (d.rev !== rev) {
        this.fillItem(d.el, item);
        d.rev = rev;
      }
      const response = hosts.get(id);
      const wf = response ? `${response.id}|${s.responses.rev.get(response.id) ?? 0}` : "";
      if (d.wf !== wf) {
        const waterfall = /** @type {HTMLElement} */ (d.el.children[3]);
        fillWaterfall(waterfall, response?.latency);
        d.wf = wf;
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
    const waterfall = makeWaterfall();
    waterfall.hidden = true;
    e.append(head, h("div", "rtwidget-item-body"), h("pre", "rtwidget-item-code"), waterfall);
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

/**
 * Where each turn's waterfall goes: under the first item (in display order) of each default-lane response
 * that has latency figures.
 * @param {PanelState} s
 * @param {string[]} ids the default lane's item ids in display order
 * @returns {Map<string, ResponseView>} item id -> its response
 */
export function waterfallHosts(s, ids) {
  /** @type {Map<string, ResponseView>} */
  const hosts = new Map();
  /** @type {Set<string>} */
  const placed = new Set();
  for (const id of ids) {
    const rid = s.items.map.get(id)?.response_id;
    if (!rid || placed.has(rid)) continue;
    placed.add(rid);
    const response = s.responses.map.get(rid);
    if (response?.latency) hosts.set(id, response);
  }
  return hosts;
}
