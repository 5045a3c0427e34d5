// Exceptions raised by the user's handlers and tools in the kernel, shown under the widget: one
// collapsible block per error (the traceback in a <pre>) with a dismiss button. The list is per
// model (kernel `exception` messages and the `exceptions` of a `snapshot`); each view draws it.
import { h, hRt, listen } from "./dom.js";

/** Exceptions kept per model (the oldest go first). */
const MAX_EXCEPTIONS = 20;

/**
 * @typedef {object} KernelError what the kernel sends (docs/widget-contract.md, `exception`)
 * @property {string} [source] what raised it: "handler", "tool", ...
 * @property {string} [name] the handler's or tool's name
 * @property {string} [error_type] the exception class, e.g. "ValueError"
 * @property {string} [message]
 * @property {string} [traceback] the formatted Python traceback
 * @property {number} [repeats] how many of the same failure the kernel held back before this one
 */

/** @typedef {KernelError & {id: number}} ShownError */

/**
 * The one-line title of an error: "ValueError in tool get_weather".
 * @param {KernelError} error
 * @returns {string}
 */
export function errorTitle(error) {
  const where = [error.source, error.name].filter(Boolean).join(" ");
  return `${error.error_type || "Error"}${where ? ` in ${where}` : ""}`;
}

/**
 * " (and 12 more like it)" when the kernel held back repeats of this failure, else "".
 * @param {unknown} repeats
 * @returns {string}
 */
export function repeatsLabel(repeats) {
  const n = typeof repeats === "number" && Number.isFinite(repeats) ? Math.floor(repeats) : 0;
  return n > 0 ? ` (and ${n} more like it before)` : "";
}

/** The exceptions of one model, newest last, each with a local id (for dismissing). */
export class ExceptionList {
  constructor() {
    /** @type {ShownError[]} */
    this.items = [];
    this.nextId = 0;
    /** Increases on every change; views compare it to skip work. */
    this.version = 0;
  }

  /** @param {unknown} error an `exception` message's `error` */
  add(error) {
    if (!error || typeof error !== "object") return;
    this.items.push({ ...error, id: ++this.nextId });
    if (this.items.length > MAX_EXCEPTIONS) this.items.splice(0, this.items.length - MAX_EXCEPTIONS);
    this.version++;
  }

  /** @param {unknown[]} errors a snapshot's `exceptions` (replaces the list) */
  reset(errors) {
    this.items = [];
    for (const e of errors) this.add(e);
    this.version++;
  }

  /** @param {number} id */
  dismiss(id) {
    const before = this.items.length;
    this.items = this.items.filter((e) => e.id !== id);
    if (this.items.length !== before) this.version++;
  }
}

/** The error area of one view (`data-rt="exceptions"`), hidden while the list is empty. */
export class ExceptionsView {
  /**
   * @param {ExceptionList} list
   * @param {(id: number) => void} dismiss asks the model to drop one error (every view redraws)
   * @param {AbortSignal} signal the view's lifetime
   */
  constructor(list, dismiss, signal) {
    this.list = list;
    this.el = hRt("div", "exceptions", "rtwidget-exceptions");
    this.el.setAttribute("role", "alert");
    this.version = -1;
    /** Blocks drawn, by error id: kept across redraws so an expanded traceback stays open. @type {Map<number, HTMLElement>} */
    this.blocks = new Map();
    // One listener for every dismiss button, so redraws add none.
    listen(
      this.el,
      "click",
      (/** @type {MouseEvent} */ e) => {
        const button = /** @type {HTMLElement} */ (e.target).closest?.("[data-rt=exception-dismiss]");
        const id = Number(/** @type {HTMLElement | null} */ (button)?.dataset.id);
        if (button && Number.isFinite(id)) dismiss(id);
      },
      signal,
    );
  }

  draw() {
    if (this.version === this.list.version) return;
    this.version = this.list.version;
    const kept = new Set(this.list.items.map((e) => e.id));
    for (const [id, block] of this.blocks) {
      if (kept.has(id)) continue;
      block.remove();
      this.blocks.delete(id);
    }
    // Ids only grow and new errors come last, so appending keeps the list's order.
    for (const error of this.list.items) {
      if (this.blocks.has(error.id)) continue;
      const block = errorBlock(error);
      this.blocks.set(error.id, block);
      this.el.appendChild(block);
    }
    this.el.hidden = this.list.items.length === 0;
  }
}

/**
 * One error: a <details> whose summary is the title and message, the traceback in a <pre>.
 * @param {ShownError} error
 * @returns {HTMLElement}
 */
function errorBlock(error) {
  const block = hRt("div", "exception", "rtwidget-exception");
  const details = h("details", "rtwidget-exception-details");
  const summary = h("summary", "rtwidget-exception-summary");
  summary.append(
    h("span", "rtwidget-exception-title", errorTitle(error)),
    h("span", "rtwidget-exception-message", error.message ? `: ${error.message}` : ""),
    h("span", "rtwidget-exception-repeats", repeatsLabel(error.repeats)),
  );
  details.append(summary, h("pre", "rtwidget-exception-traceback", error.traceback || "(no traceback)"));
  const close = hRt("button", "exception-dismiss", "rtwidget-exception-close", "\u00d7");
  close.title = "dismiss";
  close.dataset.id = String(error.id);
  block.append(details, close);
  return block;
}
