// Parts of the event-log panel (logview.js) that stand alone: its columns and legend, the type column's
// width, the detail text, copying to the clipboard, the JSONL download and the resize grip.
import { h, listen } from "./dom.js";
import { FAMILIES } from "./families.js";
import { dirArrow, formatBytes, formatRelTime } from "./format.js";
import { jsonlFileName, rowsJsonl } from "./rows.js";

/** The cells of a log row, in order (each a span with class `rtwidget-log-<name>`), with their headings. */
export const LOG_CELLS = [
  ["dir", ""],
  ["time", "time"],
  ["type", "type"],
  ["size", "size"],
  ["count", "\u00d7n"],
  ["text", "summary"],
  ["cause", ""],
];
/** What the direction arrows mean (the legend and the dir heading's tooltip). */
export const LOG_DIRECTIONS = [
  ["client", "client \u2192 server"],
  ["server", "server \u2192 client"],
  ["local", "local (rtwidget.*)"],
];

/**
 * The width the type column needs for `type` in `font` (a CSS font shorthand): measured on a canvas when the
 * page has one, else in `ch` (exact for the monospace font the rows use). A few px spare for rounding.
 * @param {string} type
 * @param {string} font
 * @returns {string} a CSS length
 */
export function typeColumnWidth(type, font) {
  const n = Math.max(type.length, 4);
  const canvas = typeof document.createElement === "function" ? document.createElement("canvas") : null;
  const ctx = canvas && typeof canvas.getContext === "function" ? canvas.getContext("2d") : null;
  if (!ctx || !font) return `${n + 1}ch`;
  ctx.font = font;
  return `${Math.ceil(ctx.measureText(type.length >= 4 ? type : "type").width) + 4}px`;
}

/**
 * Put `text` on the clipboard: the async Clipboard API, else a selected textarea and execCommand("copy")
 * (an http page, or a browser that refuses the permission). Resolves to whether it worked.
 * @param {string} text
 * @returns {Promise<boolean>}
 */
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const area = document.createElement("textarea");
    area.value = text;
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    const ok = document.execCommand("copy");
    area.remove();
    return ok;
  }
}

/**
 * The text of the detail pane for one row.
 * @param {import("./rows.js").Row} row
 * @returns {string}
 */
export function rowDetail(row) {
  const head = `${dirArrow(row.dir)} ${row.type}  t=${formatRelTime(row.t)}  ${formatBytes(row.size)}${
    row.count > 1 ? `  ${row.count} events merged` : ""
  }${row.event_id ? `  event_id=${row.event_id}` : ""}${row.cause_id ? `  cause_id=${row.cause_id}` : ""}`;
  const text = row.count > 1 && row.text ? `\n\nassembled text:\n${row.text}` : "";
  return `${head}${text}\n\n${JSON.stringify(row.data ?? null, null, 2)}`;
}

/** @returns {HTMLElement} the legend line: direction arrows and the family colours */
export function logLegend() {
  const legend = h("div", "rtwidget-log-legend");
  legend.dataset.rt = "log-legend";
  for (const [dir, label] of LOG_DIRECTIONS) {
    const item = h("span", `rtwidget-log-legend-dir rtwidget-dir-${dir}`);
    item.append(h("span", "rtwidget-log-dir", dirArrow(dir)), h("span", "", label));
    legend.appendChild(item);
  }
  for (const f of FAMILIES) {
    const item = h("span", `rtwidget-log-legend-fam rtwidget-fam-${f.id}`, f.label);
    item.title = `e.g. ${f.example}`;
    legend.appendChild(item);
  }
  return legend;
}

/**
 * Save every row `store` keeps as a JSON Lines file (rowsJsonl), named by jsonlFileName.
 * @param {import("./rows.js").RowStore} store
 * @param {HTMLElement} parent where the temporary link lives for the click
 */
export function downloadJsonl(store, parent) {
  const url = URL.createObjectURL(new Blob([rowsJsonl(store)], { type: "application/x-ndjson" }));
  const a = h("a");
  a.href = url;
  a.download = jsonlFileName(new Date());
  a.style.display = "none";
  parent.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/**
 * Make `grip` resize `target` vertically: drag it (pointer events, captured), or ArrowUp/ArrowDown by `step`;
 * double-click gives the size back to the layout. `setHeight` gets the wanted height in px, or null.
 * @param {HTMLElement} grip
 * @param {HTMLElement} target
 * @param {(px: number | null) => void} setHeight
 * @param {number} step
 * @param {AbortSignal} signal
 */
export function bindResizeGrip(grip, target, setHeight, step, signal) {
  /** @type {{y: number, height: number} | null} */
  let drag = null;
  const start = (/** @type {PointerEvent} */ e) => {
    e.preventDefault();
    grip.setPointerCapture(e.pointerId);
    drag = { y: e.clientY, height: target.getBoundingClientRect().height };
  };
  listen(grip, "pointerdown", start, signal);
  const move = (/** @type {PointerEvent} */ e) => {
    if (drag) setHeight(drag.height + e.clientY - drag.y);
  };
  listen(grip, "pointermove", move, signal);
  for (const type of ["pointerup", "pointercancel"]) listen(grip, type, () => (drag = null), signal);
  listen(grip, "dblclick", () => setHeight(null), signal);
  const key = (/** @type {KeyboardEvent} */ e) => {
    const by = e.key === "ArrowUp" ? -step : e.key === "ArrowDown" ? step : 0;
    if (!by) return;
    e.preventDefault();
    setHeight(target.getBoundingClientRect().height + by);
  };
  listen(grip, "keydown", key, signal);
}
