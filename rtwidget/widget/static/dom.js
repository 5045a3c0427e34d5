// DOM helpers and listener lifetimes. Every listener the front end adds goes through `listen` or
// `onModel` with an AbortSignal, so aborting the owner's controller removes all of them at once.

/**
 * Create an element with a class and optional text.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {string} [cls]
 * @param {string} [text]
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

/**
 * An element carrying a `data-rt` name (the names browser tests and benchmarks look for).
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {string} rt
 * @param {string} [cls]
 * @param {string} [text]
 * @returns {HTMLElementTagNameMap[K]}
 */
export function hRt(tag, rt, cls, text) {
  const e = h(tag, cls, text);
  e.dataset.rt = rt;
  return e;
}

/**
 * An `<option>`.
 * @param {string} value
 * @param {string} [label]
 * @returns {HTMLOptionElement}
 */
export function option(value, label = value) {
  const o = h("option", "", label);
  o.value = value;
  return o;
}

/**
 * Set an element's text only when it differs (cheap repeated renders).
 * @param {HTMLElement} e
 * @param {string} text
 */
export function setText(e, text) {
  if (e.textContent !== text) e.textContent = text;
}

/**
 * Add a DOM (or MessagePort, or any EventTarget) listener that lives until `signal` aborts.
 * @param {EventTarget} target
 * @param {string} type
 * @param {(e: any) => void} fn
 * @param {AbortSignal} signal
 */
export function listen(target, type, fn, signal) {
  target.addEventListener(type, fn, { signal });
}

/**
 * Run `fn` once when `signal` aborts (at once if it already has). Not `listen(signal, ...)`: a
 * listener tied to the signal it listens to is removed before the abort event fires.
 * @param {AbortSignal} signal
 * @param {() => void} fn
 */
export function onAbort(signal, fn) {
  if (signal.aborted) fn();
  else signal.addEventListener("abort", fn, { once: true });
}

/**
 * @typedef {object} ModelEvents the event part of anywidget's model proxy (Backbone-style)
 * @property {(name: string, cb: (...args: any[]) => void) => void} on
 * @property {(name?: string | null, cb?: ((...args: any[]) => void) | null) => void} off
 */

/**
 * Add a model listener (`change:x`, `msg:custom`, ...) that is removed when `signal` aborts.
 * @param {ModelEvents} model
 * @param {string} name
 * @param {(...args: any[]) => void} cb
 * @param {AbortSignal} signal
 */
export function onModel(model, name, cb, signal) {
  if (signal.aborted) return;
  model.on(name, cb);
  onAbort(signal, () => model.off(name, cb));
}

/**
 * A controller that also aborts when the host's signal does (anywidget >= 0.10 passes one to
 * initialize and render; older hosts do not).
 * @param {AbortSignal | undefined} hostSignal
 * @returns {AbortController}
 */
export function linkedController(hostSignal) {
  const controller = new AbortController();
  if (hostSignal) {
    if (hostSignal.aborted) controller.abort();
    else listen(hostSignal, "abort", () => controller.abort(), controller.signal);
  }
  return controller;
}

/**
 * @param {EventTarget | null} target
 * @returns {boolean} whether keys typed there are text (not shortcuts)
 */
export function isTyping(target) {
  const t = /** @type {HTMLElement | null} */ (target);
  if (!t || !t.tagName) return false;
  const tag = t.tagName.toLowerCase();
  if (tag === "textarea" || tag === "select" || t.isContentEditable) return true;
  if (tag !== "input") return false;
  const type = /** @type {HTMLInputElement} */ (t).type;
  return type !== "checkbox" && type !== "radio" && type !== "button";
}
