// The Tools panel's parts: the registered tools (the `registered_tools` trait: name, description,
// generated JSON schema, before any call) and one card per call (a ToolView), whose failure
// expands to the tool's traceback. A call waiting for a person (a tool registered with
// approve=True) shows Approve / Reject buttons, then the decision.
import { h, hRt, setText } from "./dom.js";
import { prettyJson } from "./format.js";

/**
 * @typedef {object} RegisteredToolView a registered tool (docs/widget-contract.md)
 * @property {string} name
 * @property {string} [description]
 * @property {Record<string, any>} [parameters] the JSON schema of the arguments
 * @property {boolean} [reply] whether a response.create follows its output
 * @property {number | null} [timeout] seconds (null: none)
 * @property {boolean} [approve] whether its calls wait for a person's approval
 * @property {number | null} [approval_timeout] seconds before a call nobody decided on is rejected
 */

/** @typedef {(message: object) => void} SendFn a message to the kernel */


/** @type {Record<string, string>} a call's status as its card says it */
const STATUS_TEXT = {
  waiting: "waiting for approval",
  yours: "yours: answer it with a function_call_output",
  answered: "answered by you",
};

/** Schemas are shown open while there are at most this many tools. */
const OPEN_SCHEMAS_UP_TO = 1;

/**
 * "get_weather(city: string, days?: integer)": the call shape read from the schema.
 * @param {RegisteredToolView} tool
 * @returns {string}
 */
export function toolSignature(tool) {
  const params = tool.parameters ?? {};
  const props = /** @type {Record<string, any>} */ (params.properties ?? {});
  const required = new Set(/** @type {string[]} */ (params.required ?? []));
  const args = Object.entries(props).map(([name, p]) => {
    const type = p?.type ?? (p?.enum ? "enum" : p?.anyOf ? "any of" : "");
    return `${name}${required.has(name) ? "" : "?"}${type ? `: ${Array.isArray(type) ? type.join(" | ") : type}` : ""}`;
  });
  return `${tool.name}(${args.join(", ")})`;
}

const NO_TOOLS_LIVE =
  "No tools registered from Python (add one with @session.tool). Tools declared with a raw session.update are not listed here; their calls show below.";
// A replay runs no tool: "add one with @session.tool" would be the wrong advice.
const NO_TOOLS_REPLAY =
  "A replay runs no tool: the recorded session's tools are in its config (Session panel); their calls show below, as recorded.";

/** The list of registered tools, redrawn when the trait changes. */
export class RegisteredTools {
  constructor() {
    this.el = hRt("div", "registered-tools", "rtwidget-regtools");
    // A tool declared with a raw session.update is not registered: say so, or the raw-events student reads "none".
    this.empty = h("div", "rtwidget-empty", NO_TOOLS_LIVE);
    this.list = h("div", "rtwidget-regtools-list");
    this.el.append(this.empty, this.list);
    this.key = "";
  }

  /**
   * @param {RegisteredToolView[]} tools
   * @param {boolean} [replaying] the widget replays a cassette (no Python tool is registered, none runs)
   */
  draw(tools, replaying = false) {
    const key = JSON.stringify([tools, replaying]);
    if (key === this.key) return;
    this.key = key;
    setText(this.empty, replaying ? NO_TOOLS_REPLAY : NO_TOOLS_LIVE);
    const open = tools.length <= OPEN_SCHEMAS_UP_TO;
    this.list.replaceChildren(...tools.map((t) => this.entry(t, open)));
    this.empty.hidden = tools.length > 0;
  }

  /**
   * @param {RegisteredToolView} tool
   * @param {boolean} open whether the schema shows unfolded
   * @returns {HTMLElement}
   */
  entry(tool, open) {
    const e = hRt("div", "registered-tool", "rtwidget-regtool");
    e.dataset.name = tool.name;
    const head = h("div", "rtwidget-regtool-head");
    const meta = [
      tool.reply === false ? "no reply after it" : "",
      typeof tool.timeout === "number" ? `timeout ${tool.timeout} s` : "no timeout",
      tool.approve ? `asks for approval${typeof tool.approval_timeout === "number" ? ` (${tool.approval_timeout} s)` : ""}` : "",
    ];
    head.append(h("span", "rtwidget-regtool-name", toolSignature(tool)), h("span", "rtwidget-regtool-meta", meta.filter(Boolean).join(" \u00b7 ")));
    const schema = h("details", "rtwidget-regtool-schema");
    schema.open = open;
    schema.append(h("summary", "", "JSON schema of the arguments"), hRt("pre", "tool-schema", "rtwidget-json", prettyJson(tool.parameters ?? {})));
    e.append(head);
    if (tool.description) e.append(h("div", "rtwidget-regtool-desc", tool.description));
    e.append(schema);
    return e;
  }
}

/**
 * A labelled JSON block of a call card.
 * @param {string} label
 * @returns {HTMLElement}
 */
function callBlock(label) {
  const b = h("div", "rtwidget-call-block");
  b.append(h("div", "rtwidget-call-label", label), h("pre", "rtwidget-json"));
  return b;
}

/**
 * The approval row of a call card: what is asked (or decided), a reason box, Approve and Reject.
 * @param {HTMLElement} card
 * @param {SendFn | undefined} send
 * @returns {HTMLElement}
 */
function approvalRow(card, send) {
  const row = hRt("div", "tool-approval", "rtwidget-call-approval");
  const reason = hRt("input", "tool-reason", "rtwidget-input rtwidget-call-reason");
  reason.setAttribute("placeholder", "reason (optional)");
  reason.setAttribute("aria-label", "reason for rejecting (optional)");
  const approve = hRt("button", "tool-approve", "rtwidget-btn rtwidget-approve", "Approve");
  const reject = hRt("button", "tool-reject", "rtwidget-btn rtwidget-reject", "Reject");
  /** @param {object} message */
  const decide = (message) => {
    if (!send) return;
    send({ ...message, call_id: card.dataset.callId ?? "" });
    approve.disabled = reject.disabled = true; // once: the decision redraws the row (a refusal comes as a notice)
  };
  approve.addEventListener("click", () => decide({ kind: "approve" }));
  reject.addEventListener("click", () => decide({ kind: "reject", reason: /** @type {HTMLInputElement} */ (reason).value }));
  row.append(h("span", "rtwidget-call-ask"), reason, approve, reject);
  return row;
}

/**
 * @param {SendFn} [send] where the Approve / Reject buttons send their message (none: the buttons do nothing)
 * @returns {HTMLElement} an empty call card, filled by fillCall
 */
export function makeCall(send) {
  const card = hRt("div", "tool-row", "rtwidget-call");
  const head = h("div", "rtwidget-call-head");
  head.append(
    h("span", "rtwidget-call-name"),
    h("span", "rtwidget-call-status"),
    h("span", "rtwidget-call-meta"),
  );
  const body = h("div", "rtwidget-call-body");
  body.append(callBlock("arguments"), callBlock("output"));
  const trace = hRt("details", "tool-traceback", "rtwidget-call-trace");
  trace.append(h("summary"), h("pre", "rtwidget-json rtwidget-trace"));
  card.append(head, approvalRow(card, send), body, trace);
  return card;
}

/**
 * What a call's approval row says: the question while it waits, then the decision.
 * @param {import("./panelstate.js").ToolView} tool
 * @returns {string}
 */
export function approvalText(tool) {
  const why = tool.approval_reason ? `: ${tool.approval_reason}` : "";
  switch (tool.approval) {
    case "pending":
      return typeof tool.approval_timeout === "number"
        ? `Run this call? (rejected after ${tool.approval_timeout} s without a decision)`
        : "Run this call?";
    case "approved":
      return "Approved: it ran.";
    case "rejected":
      return tool.approval_by === "timeout" ? `Rejected${why}` : `Rejected by you${why}`;
    case "cancelled":
      return "Not decided: the session closed.";
    default:
      return "";
  }
}

/**
 * @param {HTMLElement} row the approval row
 * @param {import("./panelstate.js").ToolView} tool
 */
function fillApproval(row, tool) {
  const [ask, reason, approve, reject] = /** @type {HTMLButtonElement[]} */ (Array.from(row.children));
  row.hidden = !tool.approval;
  if (!tool.approval) return;
  const asking = tool.approval === "pending" && row.dataset.approval !== "pending";
  row.dataset.approval = tool.approval;
  setText(ask, approvalText(tool));
  const pending = tool.approval === "pending";
  approve.dataset.testid = `approve-${tool.call_id}`;
  reject.dataset.testid = `reject-${tool.call_id}`;
  for (const e of [reason, approve, reject]) e.hidden = !pending;
  if (asking) revealInPanel(/** @type {HTMLElement} */ (row.parentElement ?? row));
}

/**
 * Scroll the panel that holds `el` (not the page: the notebook must not jump) so that `el` shows: a call that starts
 * waiting for approval is often below the registered tools and the earlier calls, out of sight.
 * @param {HTMLElement} el
 */
function revealInPanel(el) {
  if (typeof getComputedStyle !== "function" || typeof el.getBoundingClientRect !== "function") return;
  const root = el.closest(".rtwidget-root");
  for (let p = el.parentElement; p && p !== root; p = p.parentElement) {
    const overflow = getComputedStyle(p).overflowY;
    if ((overflow !== "auto" && overflow !== "scroll") || p.scrollHeight <= p.clientHeight) continue;
    const box = p.getBoundingClientRect();
    const r = el.getBoundingClientRect();
    // Its top in view, or its bottom when the top already is (a tall card keeps its head and buttons in view).
    if (r.top < box.top) p.scrollTop += r.top - box.top - 4;
    else if (r.bottom > box.bottom) p.scrollTop += Math.min(r.bottom - box.bottom + 4, r.top - box.top - 4);
    return;
  }
}

/**
 * @param {HTMLElement} card
 * @param {import("./panelstate.js").ToolView} tool
 */
export function fillCall(card, tool) {
  const [head, approval, body, trace] = /** @type {HTMLElement[]} */ (Array.from(card.children));
  const [name, status, meta] = /** @type {HTMLElement[]} */ (Array.from(head.children));
  card.dataset.callId = tool.call_id;
  card.dataset.status = tool.status ?? "";
  setText(name, tool.name ?? "");
  name.title = tool.call_id;
  setText(status, STATUS_TEXT[tool.status ?? ""] ?? tool.status ?? "");
  status.className = `rtwidget-call-status rtwidget-status-${tool.status ?? "none"}`;
  const parts = [];
  if (typeof tool.duration_ms === "number") parts.push(`${Math.round(tool.duration_ms)} ms`);
  if (tool.response_id) parts.push(`from ${tool.response_id}`);
  if (tool.followup) parts.push(`follow-up ${tool.followup}`);
  setText(meta, parts.join(" \u00b7 "));
  fillApproval(approval, tool);
  const [args, output] = /** @type {HTMLElement[]} */ (Array.from(body.children));
  setText(/** @type {HTMLElement} */ (args.children[1]), prettyJson(tool.arguments ?? ""));
  const failed = !!tool.error && tool.status !== "done" && tool.status !== "declined";
  const out = failed && !tool.output ? String(tool.error) : prettyJson(tool.output ?? "");
  setText(/** @type {HTMLElement} */ (output.children[1]), out);
  output.hidden = out === "";
  // A failure expands to its traceback (or the error text, when the kernel has none: a timeout).
  trace.hidden = !failed;
  if (failed) {
    setText(/** @type {HTMLElement} */ (trace.children[0]), `${tool.error} (${tool.traceback ? "traceback" : "details"})`);
    setText(/** @type {HTMLElement} */ (trace.children[1]), tool.traceback || String(tool.error));
  }
}
