// What the status line and the primary control say, in plain words, from the traits: pure functions (tested
// in js/test/status.test.js) that controls.js draws.
import { formatClock } from "./format.js";
import { replayState } from "./replay.js";

/** Where a session talks, by endpoint kind; any other kind says its label (a custom server's host). */
const PLACES = /** @type {Record<string, string>} */ ({
  local: "the local server (offline stand-in)",
  openai: "OpenAI",
  azure: "Azure",
});

/** The status words when no message says more. */
const STATUS_WORDS = /** @type {Record<string, string>} */ ({
  idle: "Not connected",
  connecting: "Connecting",
  connected: "Connected",
  reconnecting: "Reconnecting",
  closing: "Closing",
  closed: "Disconnected",
  error: "Could not connect",
});

/** Statuses during which the session holds (or is getting) a connection: Connect is off, Disconnect on. */
export const LIVE_STATUSES = new Set(["connecting", "connected", "reconnecting"]);

/**
 * @param {string} text
 * @returns {string}
 */
function capitalized(text) {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/**
 * Where the session talks, in words: "OpenAI", "Azure", "the local server (offline stand-in)", a host.
 * @param {{kind?: string, label?: string}} ep the `endpoint` trait
 * @returns {string}
 */
export function placeName(ep) {
  return (ep.kind && PLACES[ep.kind]) || ep.label || ep.kind || "";
}

/**
 * The status line and its tooltip.
 *
 * "Connected to OpenAI · gpt-realtime · 29:55 left"; "Connecting to Azure…"; "Reconnecting (attempt 2, in 1.5 s):
 * why · OpenAI"; "Disconnected (code 1000)"; the dialect only when it is not GA ("beta protocol"). A message that
 * begins with the status word says more than it and leads the line in its place; any other message follows a
 * dash. The tooltip has the rest: endpoint label and kind, protocol, connected since.
 * @param {import("./model.js").AnyModel} model
 * @param {number} now Unix seconds
 * @returns {{status: string, text: string, title: string}}
 */
export function statusLine(model, now) {
  const status = String(model.get("status") ?? "idle");
  const message = String(model.get("status_message") || "");
  const ep = model.get("endpoint") ?? {};
  const place = placeName(ep);
  const live = LIVE_STATUSES.has(status);
  const lower = message.toLowerCase();
  const leads = message !== "" && (lower.startsWith(status) || lower.startsWith("could not"));
  // "closed (code 1000)" reads "Disconnected (code 1000)": the word the Disconnect button taught.
  const said = status === "closed" && lower.startsWith("closed") ? `disconnected${message.slice(6)}` : message;
  let head = leads ? capitalized(said) : STATUS_WORDS[status] ?? capitalized(status);
  if (!leads && place && (status === "connected" || status === "connecting")) head += ` to ${place}`;
  if (status === "connecting") head += "\u2026";
  const parts = [head];
  if (live && leads && place) parts.push(place);
  if (live && ep.model) parts.push(ep.model);
  if (live && ep.dialect && ep.dialect !== "ga") parts.push(`${ep.dialect} protocol`);
  const connectedAt = Number(model.get("connected_at")) || 0;
  const expiresAt = Number(model.get("expires_at")) || 0;
  if (status === "connected" && expiresAt > 0) parts.push(`${formatClock(expiresAt - now)} left`);
  // Connecting, an older message (the last close's) no longer applies.
  const tail = message && !leads && status !== "connecting" ? ` \u2014 ${message}` : "";
  const text = parts.join(" \u00b7 ") + tail;
  const title = statusTitle(ep, status, connectedAt, now);
  // A replay's status is the recording's: say so, or "Connected" reads as a live connection.
  const replay = replayState(model.get("replay"));
  if (replay) return { status, text: `Replay of ${replay.name} \u00b7 recorded: ${text}`, title };
  return { status, text, title };
}

/**
 * The tooltip: what the line leaves out.
 * @param {{kind?: string, label?: string, model?: string, dialect?: string}} ep
 * @param {string} status
 * @param {number} connectedAt Unix seconds, 0 if not connected
 * @param {number} now
 * @returns {string}
 */
function statusTitle(ep, status, connectedAt, now) {
  const lines = [];
  if (ep.label || ep.kind) lines.push(`Endpoint: ${ep.label || ep.kind}${ep.kind ? ` (${ep.kind})` : ""}`);
  if (ep.model) lines.push(`Model: ${ep.model}`);
  if (ep.dialect) lines.push(`Protocol: ${ep.dialect === "ga" ? "GA" : ep.dialect}`);
  if (status === "connected" && connectedAt > 0) {
    const since = new Date(connectedAt * 1000).toLocaleTimeString();
    lines.push(`Connected since ${since} (${formatClock(now - connectedAt)})`);
  }
  return lines.join("\n");
}

/**
 * Which connection buttons work in a status: Connect when there is no connection, Disconnect while there is
 * one (or one is being made or remade); neither while closing.
 * @param {string} status
 * @returns {{connect: boolean, disconnect: boolean}}
 */
export function connectionButtons(status) {
  const live = LIVE_STATUSES.has(status);
  return { connect: !live && status !== "closing", disconnect: live };
}

/**
 * The primary control: its label says its action, from the microphone's state; its tooltip what it does
 * first when there is no connection.
 * @param {string} micState "off" | "starting" | "on"
 * @param {string} status the `status` trait
 * @returns {{label: string, title: string, stop: boolean}}
 */
export function primaryAction(micState, status) {
  if (micState === "on") return { label: "Stop", title: "Stop the microphone", stop: true };
  if (micState === "starting") return { label: "Starting\u2026", title: "Asking for the microphone", stop: true };
  const title = LIVE_STATUSES.has(status)
    ? "Start the microphone and talk to the model"
    : "Connect, then start the microphone and talk to the model";
  return { label: "Start talking", title, stop: false };
}
