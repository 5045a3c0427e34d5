// Event families: which part of the protocol an event type belongs to, for colour and for the legend.
// One table, read by the event log (logview.js) and the flow view (ladder.js); families.css colours them.

/**
 * @typedef {object} Family
 * @property {string} id the CSS suffix: `rtwidget-fam-<id>`
 * @property {string} label what the legend says
 * @property {string} example a type of the family, for the legend's tooltip
 */

/** The families in legend order; the first whose test matches a type wins. */
export const FAMILIES = /** @type {(Family & {test: (type: string) => boolean})[]} */ ([
  { id: "error", label: "error", example: "error", test: (t) => t === "error" || t.endsWith(".error") },
  { id: "local", label: "rtwidget.*", example: "rtwidget.tool_done", test: (t) => t.startsWith("rtwidget.") },
  { id: "session", label: "session", example: "session.updated", test: (t) => t.startsWith("session.") },
  {
    id: "input",
    label: "input_audio_buffer",
    example: "input_audio_buffer.speech_started",
    test: (t) => t.startsWith("input_audio_buffer.") || t.startsWith("transcription_session."),
  },
  { id: "item", label: "conversation.item", example: "conversation.item.added", test: (t) => t.startsWith("conversation.") },
  { id: "response", label: "response", example: "response.done", test: (t) => t.startsWith("response.") },
  { id: "other", label: "other", example: "rate_limits.updated", test: () => true },
]);

/**
 * The family of an event type.
 * @param {string} type
 * @returns {Family}
 */
export function eventFamily(type) {
  const t = String(type ?? "");
  return /** @type {Family} */ (FAMILIES.find((f) => f.test(t)));
}

/**
 * The CSS class that colours an event type by its family.
 * @param {string} type
 * @returns {string}
 */
export function familyClass(type) {
  return `rtwidget-fam-${eventFamily(type).id}`;
}

/** The doctor's hints: a local event the log and the flow view show in the hint's level colour. */
export const HINT_TYPE = "rtwidget.hint";

/**
 * The level of a hint row ("info" | "warning" | "error"), or "" for any other row.
 * @param {import("./rows.js").Row} row
 * @returns {string}
 */
export function hintLevel(row) {
  if (row.type !== HINT_TYPE) return "";
  const level = /** @type {Record<string, unknown>} */ (row.data ?? {}).level;
  return level === "info" || level === "error" ? level : "warning";
}

/**
 * The event ids a hint row is about (empty for any other row): selecting the hint marks their rows.
 * @param {import("./rows.js").Row | undefined} row
 * @returns {Set<string>}
 */
export function hintEventIds(row) {
  const ids = row && row.type === HINT_TYPE ? /** @type {Record<string, unknown>} */ (row.data ?? {}).event_ids : null;
  return new Set(Array.isArray(ids) ? ids.filter((id) => typeof id === "string" && id) : []);
}

/**
 * A hint's tooltip: what to do and where the rule is explained (a path in rtwidget's docs, not a link).
 * @param {import("./rows.js").Row} row
 * @returns {string}
 */
export function hintTitle(row) {
  const data = /** @type {Record<string, unknown>} */ (row.data ?? {});
  return `${row.text}\nFix: ${String(data.fix ?? "")}\nSee ${String(data.url ?? "")} (rule ${String(data.rule ?? "")})`;
}
