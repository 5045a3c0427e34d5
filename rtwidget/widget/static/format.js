// Formatting helpers shared by the event log, the panels and the status line: pure functions, no DOM.

/**
 * Arrow for a row's direction: client events go out, server events come in.
 * @param {string} dir
 * @returns {string}
 */
export function dirArrow(dir) {
  return dir === "client" ? "\u2192" : dir === "server" ? "\u2190" : "\u00b7";
}

/**
 * Bytes as "512 B", "1.5 kB", "2.3 MB".
 * @param {number} n
 * @returns {string}
 */
export function formatBytes(n) {
  if (!Number.isFinite(n) || n < 0) return "";
  if (n < 1000) return `${Math.round(n)} B`;
  if (n < 1e6) return `${(n / 1e3).toFixed(1)} kB`;
  return `${(n / 1e6).toFixed(1)} MB`;
}

/**
 * Seconds since the session started, as "12.345" or "3:04.500" (minutes) or "1:02:03.000".
 * @param {number} t
 * @returns {string}
 */
export function formatRelTime(t) {
  if (!Number.isFinite(t)) return "";
  const sign = t < 0 ? "-" : "";
  const ms = Math.round(Math.abs(t) * 1000);
  const s = Math.floor(ms / 1000);
  const frac = String(ms % 1000).padStart(3, "0");
  if (s < 60) return `${sign}${s}.${frac}`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${sign}${m}:${String(s % 60).padStart(2, "0")}.${frac}`;
  return `${sign}${Math.floor(m / 60)}:${String(m % 60).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}.${frac}`;
}

/**
 * A duration in whole seconds as a clock: "0:05", "12:34", "1:02:03" (negative -> "0:00").
 * @param {number} seconds
 * @returns {string}
 */
export function formatClock(seconds) {
  const s = Number.isFinite(seconds) ? Math.max(0, Math.floor(seconds)) : 0;
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
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
 * @param {{heard_ms?: number | null, audio_ms?: number | null, [field: string]: unknown}} item an ItemView
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
 * Dollars to a sensible precision: "$12.35", "$0.2500", "$0.00012"; "—" when unknown.
 * @param {unknown} usd
 * @returns {string}
 */
export function formatUsd(usd) {
  if (typeof usd !== "number" || !Number.isFinite(usd)) return "\u2014";
  const shown = usd >= 1 ? usd.toFixed(2) : usd >= 0.01 || usd === 0 ? usd.toFixed(4) : usd.toPrecision(2);
  return `$${shown}`;
}

/**
 * Pretty JSON for display; strings shown as they are (indented when they hold JSON).
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
 * A level meter position for an RMS value: -60 dBFS..0 dBFS mapped to 0..1.
 * @param {number} level RMS, 0..1
 * @returns {number}
 */
export function levelToFraction(level) {
  if (!(level > 0)) return 0;
  const db = 20 * Math.log10(level);
  return Math.min(1, Math.max(0, (db + 60) / 60));
}
