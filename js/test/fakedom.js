// A minimal DOM for rendering the widget in Node: elements with children, classes, dataset,
// attributes and listeners (with AbortSignal support, and a count of the live ones), simple
// selectors (`.class`, `[data-rt=name]`, `tag`), event bubbling, and a manual requestAnimationFrame.
// Just enough for the front end's own code; not a general DOM.

import { afterEach, beforeEach } from "node:test";

/** Every listener currently registered on a fake element. @type {Set<object>} */
const LIVE = new Set();

class FakeText {
  /** @param {string} text */
  constructor(text) {
    this.text = text;
    /** @type {FakeElement | null} */
    this.parentNode = null;
  }
  get textContent() {
    return this.text;
  }
}

/**
 * @param {string} selector one simple selector: `.class`, `[data-rt=name]` / `[data-rt="name"]`, or a tag name
 * @returns {(el: FakeElement) => boolean}
 */
function matcher(selector) {
  const data = /^\[data-([\w-]+)=["']?([^"'\]]*)["']?\]$/.exec(selector);
  if (data) {
    const key = data[1].replace(/-(\w)/g, (_, c) => c.toUpperCase());
    return (el) => el.dataset[key] === data[2];
  }
  if (selector.startsWith(".")) return (el) => el.classList.contains(selector.slice(1));
  if (/^[a-z]+$/i.test(selector)) return (el) => el.tagName === selector.toUpperCase();
  throw new Error(`fakedom: unsupported selector ${selector}`);
}

class FakeClassList {
  /** @param {FakeElement} el */
  constructor(el) {
    this.el = el;
  }
  /** @returns {string[]} */
  names() {
    return this.el.className.split(/\s+/).filter(Boolean);
  }
  /** @param {string} name */
  contains(name) {
    return this.names().includes(name);
  }
  /** @param {...string} names */
  add(...names) {
    this.el.className = [...new Set([...this.names(), ...names])].join(" ");
  }
  /** @param {...string} names */
  remove(...names) {
    this.el.className = this.names().filter((n) => !names.includes(n)).join(" ");
  }
  /**
   * @param {string} name
   * @param {boolean} [force]
   */
  toggle(name, force) {
    const on = force ?? !this.contains(name);
    if (on) this.add(name);
    else this.remove(name);
    return on;
  }
}

export class FakeElement {
  /** @param {string} tag */
  constructor(tag) {
    this.tagName = tag.toUpperCase();
    /** @type {(FakeElement | FakeText)[]} */
    this.childNodes = [];
    /** @type {FakeElement | null} */
    this.parentNode = null;
    this.className = "";
    this.classList = new FakeClassList(this);
    /** @type {Record<string, string>} */
    this.dataset = {};
    /** @type {Record<string, string>} */
    this.attributes = {};
    /** @type {Record<string, string>} */
    this.style = {};
    /** @type {Map<string, Set<object>>} */
    this.listeners = new Map();
    this.hidden = false;
    this.title = "";
    this.value = "";
    this.checked = false;
    this.disabled = false;
    this.isContentEditable = false;
    this.scrollTop = 0;
    this.clientHeight = 200;
    this.scrollHeight = 0;
  }

  /** @returns {FakeElement[]} */
  get children() {
    return /** @type {FakeElement[]} */ (this.childNodes.filter((n) => n instanceof FakeElement));
  }
  get firstElementChild() {
    return this.children[0] ?? null;
  }
  get options() {
    return this.children.filter((c) => c.tagName === "OPTION");
  }
  /** @returns {string} */
  get textContent() {
    return this.childNodes.map((n) => n.textContent).join("");
  }
  set textContent(text) {
    for (const n of this.childNodes) n.parentNode = null;
    this.childNodes = text === "" || text === null || text === undefined ? [] : [new FakeText(String(text))];
    for (const n of this.childNodes) n.parentNode = this;
  }

  /** @param {FakeElement | FakeText | string} node */
  appendChild(node) {
    return this.insertBefore(node, null);
  }
  /**
   * @param {FakeElement | FakeText | string} node
   * @param {FakeElement | FakeText | null} ref
   */
  insertBefore(node, ref) {
    const n = typeof node === "string" ? new FakeText(node) : node;
    if (n.parentNode) n.parentNode.removeChild(n);
    const at = ref ? this.childNodes.indexOf(ref) : -1;
    if (at < 0) this.childNodes.push(n);
    else this.childNodes.splice(at, 0, n);
    n.parentNode = this;
    return n;
  }
  /** @param {FakeElement | FakeText} node */
  removeChild(node) {
    this.childNodes = this.childNodes.filter((n) => n !== node);
    node.parentNode = null;
    return node;
  }
  /** @param {...(FakeElement | FakeText | string)} nodes */
  append(...nodes) {
    for (const n of nodes) this.appendChild(n);
  }
  /** @param {...(FakeElement | FakeText | string)} nodes */
  replaceChildren(...nodes) {
    this.textContent = "";
    this.append(...nodes);
  }
  remove() {
    this.parentNode?.removeChild(this);
  }
  /** @param {FakeElement | FakeText | null} node */
  contains(node) {
    for (let n = node; n; n = n.parentNode) if (n === this) return true;
    return false;
  }

  /**
   * @param {string} name
   * @param {string} value
   */
  setAttribute(name, value) {
    this.attributes[name] = String(value);
  }
  /** @param {string} name */
  getAttribute(name) {
    return this.attributes[name] ?? null;
  }

  /** @returns {FakeElement[]} descendants, depth first */
  descendants() {
    return this.children.flatMap((c) => [c, ...c.descendants()]);
  }
  /** @param {string} selector */
  querySelectorAll(selector) {
    return this.descendants().filter(matcher(selector));
  }
  /** @param {string} selector */
  querySelector(selector) {
    return this.querySelectorAll(selector)[0] ?? null;
  }
  /** @param {string} selector */
  closest(selector) {
    const match = matcher(selector);
    for (let n = /** @type {FakeElement | null} */ (this); n; n = n.parentNode) if (match(n)) return n;
    return null;
  }

  /**
   * @param {string} type
   * @param {(e: any) => void} fn
   * @param {{signal?: AbortSignal, once?: boolean}} [opts]
   */
  addEventListener(type, fn, opts = {}) {
    if (opts.signal?.aborted) return;
    const set = this.listeners.get(type) ?? new Set();
    this.listeners.set(type, set);
    const entry = { fn, once: !!opts.once };
    set.add(entry);
    LIVE.add(entry);
    opts.signal?.addEventListener("abort", () => this.drop(type, entry), { once: true });
  }
  /**
   * @param {string} type
   * @param {(e: any) => void} fn
   */
  removeEventListener(type, fn) {
    for (const entry of this.listeners.get(type) ?? []) {
      if (/** @type {any} */ (entry).fn === fn) this.drop(type, entry);
    }
  }
  /**
   * @param {string} type
   * @param {object} entry
   */
  drop(type, entry) {
    this.listeners.get(type)?.delete(entry);
    LIVE.delete(entry);
  }
  /**
   * Dispatch an event that bubbles from this element to the root.
   * @param {string} type
   * @param {Record<string, any>} [props] extra event fields (key, code, ...)
   * @returns {any} the event
   */
  fire(type, props = {}) {
    const event = {
      type,
      target: this,
      defaultPrevented: false,
      stopped: false,
      preventDefault() {
        this.defaultPrevented = true;
      },
      stopPropagation() {
        this.stopped = true;
      },
      ...props,
    };
    for (let n = /** @type {FakeElement | null} */ (this); n && !event.stopped; n = n.parentNode) {
      for (const entry of [...(n.listeners.get(type) ?? [])]) {
        const e = /** @type {any} */ (entry);
        if (e.once) n.drop(type, entry);
        e.fn(event);
      }
    }
    return event;
  }
  click() {
    return this.fire("click");
  }
  /** @param {number} _id */
  setPointerCapture(_id) {}
  focus() {}
}

/**
 * @typedef {object} FakeDom
 * @property {any} document
 * @property {() => number} liveListeners listeners registered on fake elements now
 * @property {() => number} runFrames run the queued animation frames; returns how many ran
 * @property {() => number} pendingFrames
 * @property {() => void} uninstall restore the globals
 */

/**
 * Install `document`, `requestAnimationFrame` and `cancelAnimationFrame` as globals.
 * @returns {FakeDom}
 */
export function installDom() {
  const g = /** @type {any} */ (globalThis);
  const saved = { document: g.document, raf: g.requestAnimationFrame, caf: g.cancelAnimationFrame };
  /** @type {Map<number, () => void>} */
  const frames = new Map();
  let nextFrame = 0;
  const document = {
    createElement: (/** @type {string} */ tag) => new FakeElement(tag),
    activeElement: null,
    body: new FakeElement("body"),
  };
  g.document = document;
  g.requestAnimationFrame = (/** @type {() => void} */ fn) => {
    frames.set(++nextFrame, fn);
    return nextFrame;
  };
  g.cancelAnimationFrame = (/** @type {number} */ id) => frames.delete(id);
  LIVE.clear();
  return {
    document,
    liveListeners: () => LIVE.size,
    runFrames() {
      const due = [...frames.values()];
      frames.clear();
      for (const fn of due) fn();
      return due.length;
    },
    pendingFrames: () => frames.size,
    uninstall() {
      g.document = saved.document;
      g.requestAnimationFrame = saved.raf;
      g.cancelAnimationFrame = saved.caf;
    },
  };
}

/**
 * @typedef {object} DomPerTest
 * @property {FakeDom} dom the current test's fake DOM
 * @property {AbortSignal} signal the current test's view lifetime (aborted after the test)
 */

/**
 * A fresh fake DOM and view lifetime for each test of the enclosing `describe` (or file, at top level): installed
 * before each test, aborted and removed after it.
 * @returns {DomPerTest} whose fields are the running test's
 */
export function domPerTest() {
  const current = /** @type {DomPerTest} */ ({});
  /** @type {AbortController} */
  let life;
  beforeEach(() => {
    current.dom = installDom();
    life = new AbortController();
    current.signal = life.signal;
  });
  afterEach(() => {
    life.abort();
    current.dom.uninstall();
  });
  return current;
}
