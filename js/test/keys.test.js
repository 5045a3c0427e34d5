import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { guardShortcuts, hostShortcut, SUPPRESS_ATTR } from "../../rtwidget/widget/static/keys.js";

/** A node with a parent and attributes: what the guard reads and writes. */
class Node {
  /** @param {Node | null} parent */
  constructor(parent = null) {
    this.parentNode = parent;
    /** @type {Map<string, string>} */
    this.attrs = new Map();
  }
  /** @param {Node} node */
  contains(node) {
    for (let n = /** @type {Node | null} */ (node); n; n = n.parentNode) if (n === this) return true;
    return false;
  }
  /** @param {string} name @param {string} value */
  setAttribute(name, value) {
    this.attrs.set(name, value);
  }
  /** @param {string} name */
  removeAttribute(name) {
    this.attrs.delete(name);
  }
}

/** The page: a window whose capture listeners get a keydown first. */
function page() {
  const host = new EventTarget();
  const root = new Node();
  const inside = new Node(new Node(root));
  const outside = new Node();
  /**
   * @param {Node} target
   * @param {Record<string, boolean>} [mods]
   */
  const press = (target, mods = {}) => {
    const e = new Event("keydown");
    Object.assign(e, { ctrlKey: false, metaKey: false, altKey: false, ...mods });
    Object.defineProperty(e, "target", { value: target });
    host.dispatchEvent(e);
    return e;
  };
  return { host, root, inside, outside, press };
}

describe("guardShortcuts", () => {
  it("marks the target of a plain key inside the widget, so Lumino skips its shortcuts", () => {
    const { host, root, inside, press } = page();
    const ctl = new AbortController();
    guardShortcuts(/** @type {any} */ (root), ctl.signal, host);
    const e = press(inside);
    assert.equal(inside.attrs.get(SUPPRESS_ATTR), "");
    assert.equal(e.defaultPrevented, false); // typing and the space bar stay the widget's business
    press(root, { shiftKey: true });
    assert.ok(root.attrs.has(SUPPRESS_ATTR));
  });

  it("lets chords with Ctrl, Meta or Alt through, and leaves the rest of the page alone", () => {
    const { host, root, inside, outside, press } = page();
    guardShortcuts(/** @type {any} */ (root), new AbortController().signal, host);
    press(inside);
    press(inside, { ctrlKey: true });
    assert.ok(!inside.attrs.has(SUPPRESS_ATTR));
    press(inside);
    press(inside, { metaKey: true });
    assert.ok(!inside.attrs.has(SUPPRESS_ATTR));
    press(outside);
    assert.ok(!outside.attrs.has(SUPPRESS_ATTR));
  });

  it("stops listening when the view's signal aborts, and is a no-op without a window", () => {
    const { host, root, inside, press } = page();
    const ctl = new AbortController();
    guardShortcuts(/** @type {any} */ (root), ctl.signal, host);
    ctl.abort();
    press(inside);
    assert.ok(!inside.attrs.has(SUPPRESS_ATTR));
    guardShortcuts(/** @type {any} */ (root), new AbortController().signal, null);
  });

  it("hostShortcut: only modifier chords belong to the notebook", () => {
    const none = { ctrlKey: false, metaKey: false, altKey: false };
    assert.equal(hostShortcut(none), false);
    assert.equal(hostShortcut({ ...none, altKey: true }), true);
  });
});
