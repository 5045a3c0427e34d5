// A turn's latency as a small waterfall: one bar of segments between the moments the kernel measured (the
// ResponseView's `latency`, ms from the turn's start: speech stopped or text sent), and the figures beside it.
// Also the Session panel's p50/p95 line (latencyText): the same steps, over the session.
// A step not reached (no audio, not played yet, not done) is shown as missing, never as 0 ms.
import { h, hRt, setText } from "./dom.js";

/**
 * @typedef {object} Latency a ResponseView's `latency` (docs/widget-contract.md)
 * @property {string} [trigger] "speech" | "text" | "tool" | "other"
 * @property {string} [start] "trigger", or "created" when the trigger's time is unknown (then created is 0)
 * @property {number | null} [created]
 * @property {number | null} [first_audio]
 * @property {number | null} [audible]
 * @property {number | null} [done]
 */

/** The steps in their nominal order: (key, short label, what the moment is). */
export const WATERFALL_STEPS = /** @type {const} */ ([
  ["created", "created", "response.created"],
  ["first_audio", "first audio", "the first audio delta reached the kernel"],
  ["audible", "audible", "the browser played the first sample"],
  ["done", "done", "response.done"],
]);

/** What started the turn, by trigger. */
const START_LABELS = /** @type {Record<string, string>} */ ({
  speech: "speech stopped",
  text: "text sent",
  tool: "tool output sent",
  other: "response.create sent",
});

/**
 * @typedef {object} Segment one piece of the bar, between two measured moments
 * @property {string} step the moment it ends at
 * @property {number} from ms from the start
 * @property {number} to
 * @property {number} left percent of the bar
 * @property {number} width percent of the bar
 * @property {string} title
 */

/**
 * @typedef {object} Figure one step's figure: ms from the start, or null with why it is missing
 * @property {string} step
 * @property {string} label
 * @property {number | null} ms
 * @property {string} text
 * @property {string} title
 */

/** The summary line's steps: (the `usage` trait's latency key, label), each from the turn's start to a moment. */
const LATENCY_STEPS = WATERFALL_STEPS.map(([step, label]) => [`trigger_to_${step}`, label]);

/**
 * The latency summary line: p50 / p95 over the session of each step, from the turn's start.
 * @param {Record<string, {n?: number, p50_ms?: number | null, p95_ms?: number | null}> | null | undefined} latency
 *   the `usage` trait's `latency`
 * @returns {string} "" when no turn was measured
 */
export function latencyText(latency) {
  if (!latency || !LATENCY_STEPS.some(([key]) => (latency[key]?.n ?? 0) > 0)) return "";
  const ms = (/** @type {unknown} */ x) => (typeof x === "number" ? String(Math.round(x)) : "\u2014");
  const parts = LATENCY_STEPS.map(([key, label]) => {
    const s = latency[key];
    return s && (s.n ?? 0) > 0 ? `${label} ${ms(s.p50_ms)}/${ms(s.p95_ms)} ms` : `${label} \u2014`;
  });
  const n = Math.max(...LATENCY_STEPS.map(([key]) => latency[key]?.n ?? 0));
  return `latency p50/p95 (${n} turn${n === 1 ? "" : "s"}): ${parts.join(" \u00b7 ")}`;
}

/**
 * Milliseconds as a whole number: "210 ms"; "—" when unknown.
 * @param {number | null | undefined} ms
 * @returns {string}
 */
export function formatMs(ms) {
  return typeof ms === "number" && Number.isFinite(ms) ? `${Math.round(ms)} ms` : "\u2014";
}

/**
 * Why a step has no figure.
 * @param {string} step
 * @param {Latency} latency
 * @returns {string}
 */
function missingWhy(step, latency) {
  const done = typeof latency.done === "number";
  if (step === "created") return "the trigger's time is unknown: times are from response.created";
  if (step === "done") return "not done yet";
  if (step === "first_audio") return done ? "no audio in this response" : "no audio yet";
  // audible
  if (typeof latency.first_audio !== "number") return done ? "no audio in this response" : "no audio yet";
  return "not played yet (no playback report from the browser)";
}

/**
 * The waterfall of one turn: the bar's segments (between the measured moments, in time order) and each step's
 * figure (in the nominal order; missing ones say why).
 * @param {Latency | null | undefined} latency
 * @returns {{start: string, total: number, segments: Segment[], figures: Figure[]} | null}
 */
export function waterfallLayout(latency) {
  if (!latency || typeof latency !== "object") return null;
  const fromTrigger = latency.start !== "created";
  const start = fromTrigger ? (START_LABELS[latency.trigger ?? ""] ?? "start") : "response.created";
  /** @type {Figure[]} */
  const figures = WATERFALL_STEPS.map(([step, label, what]) => {
    const raw = latency[step];
    const ms = typeof raw === "number" && Number.isFinite(raw) && (fromTrigger || step !== "created") ? raw : null;
    const title = ms === null ? `${label}: ${missingWhy(step, latency)}` : `${label}: ${what}, ${formatMs(ms)} after ${start}`;
    return { step, label, ms, text: `${label} ${formatMs(ms)}`, title };
  });
  const marks = figures.filter((f) => f.ms !== null).sort((a, b) => /** @type {number} */ (a.ms) - /** @type {number} */ (b.ms));
  const total = marks.length ? Math.max(/** @type {number} */ (marks[marks.length - 1].ms), 0) : 0;
  /** @type {Segment[]} */
  const segments = [];
  let from = 0;
  let fromLabel = start;
  for (const mark of marks) {
    const to = /** @type {number} */ (mark.ms);
    const pct = (/** @type {number} */ x) => (total > 0 ? (100 * x) / total : 0);
    segments.push({
      step: mark.step,
      from,
      to,
      left: pct(from),
      width: pct(to) - pct(from),
      title: `${fromLabel} \u2192 ${mark.label}: ${formatMs(to - from)} (${formatMs(to)} after ${start})`,
    });
    from = to;
    fromLabel = mark.label;
  }
  return { start, total, segments, figures };
}

/**
 * An empty waterfall element (filled by fillWaterfall).
 * @returns {HTMLElement}
 */
export function makeWaterfall() {
  const el = hRt("div", "waterfall", "rtwidget-waterfall");
  el.append(h("span", "rtwidget-wf-start"), h("div", "rtwidget-wf-bar"), h("span", "rtwidget-wf-figures"));
  return el;
}

/**
 * Draw one turn's latency into a waterfall element.
 * @param {HTMLElement} el from makeWaterfall
 * @param {Latency | null | undefined} latency
 */
export function fillWaterfall(el, latency) {
  const layout = waterfallLayout(latency);
  const [startEl, bar, figuresEl] = /** @type {HTMLElement[]} */ (Array.from(el.children));
  el.hidden = layout === null;
  if (!layout) return;
  setText(startEl, `${layout.start} \u2192`);
  el.title = `latency of this turn, from ${layout.start}`;
  bar.replaceChildren(
    ...layout.segments.map((s) => {
      const seg = h("span", `rtwidget-wf-seg rtwidget-wf-${s.step}`);
      seg.dataset.step = s.step;
      seg.style.left = `${s.left.toFixed(2)}%`;
      seg.style.width = `${s.width.toFixed(2)}%`;
      seg.title = s.title;
      return seg;
    }),
  );
  figuresEl.replaceChildren(
    ...layout.figures.map((f) => {
      const fig = h("span", `rtwidget-wf-fig rtwidget-wf-${f.step}${f.ms === null ? " rtwidget-wf-missing" : ""}`, f.text);
      fig.dataset.step = f.step;
      fig.title = f.title;
      return fig;
    }),
  );
}
