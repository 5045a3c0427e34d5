// Keys pressed while the widget has focus belong to the widget, not to the notebook: without this,
// JupyterLab's command-mode shortcuts ("b", "m", "dd", ...) act on the notebook while a person holds the
// space bar to talk or clicks a panel. Lumino skips a keydown whose target, or an ancestor nearer than the
// shortcut's selector, carries `data-lm-suppress-shortcuts`. Notebook shortcuts match the focused element
// itself (`.jp-Notebook.jp-mod-commandMode :focus`), so the attribute goes on the event's target, set in the
// window's capture phase: that runs before Lumino's document listener in either phase (JupyterLab 4 listens
// while bubbling, Notebook 7 while capturing), and stopping propagation instead would not reach Notebook 7.

/** The attribute Lumino's command registry honours. */
export const SUPPRESS_ATTR = "data-lm-suppress-shortcuts";

/**
 * Whether a keydown inside the widget may still reach the notebook's shortcuts: chords with Ctrl, Meta or Alt
 * (save, the command palette) do; plain keys and Shift+key (command mode's letters, Shift+Enter) do not.
 * @param {{ctrlKey: boolean, metaKey: boolean, altKey: boolean}} e
 * @returns {boolean}
 */
export function hostShortcut(e) {
  return e.ctrlKey || e.metaKey || e.altKey;
}

/**
 * Keep the notebook's shortcuts away from keys pressed inside `root`. The widget's own listeners still see
 * every key, and text fields type as usual: nothing is prevented or stopped here.
 * @param {HTMLElement} root the view's root element
 * @param {AbortSignal} signal removes the listener
 * @param {EventTarget | null} [host] where to listen (the page's window; none in Node tests: no-op)
 */
export function guardShortcuts(root, signal, host = root.ownerDocument?.defaultView ?? null) {
  if (!host) return;
  const keydown = (/** @type {Event} */ e) => {
    const target = /** @type {Element | null} */ (e.target);
    if (!target || typeof target.setAttribute !== "function" || !root.contains(target)) return;
    if (hostShortcut(/** @type {KeyboardEvent} */ (e))) target.removeAttribute(SUPPRESS_ATTR);
    else target.setAttribute(SUPPRESS_ATTR, "");
  };
  host.addEventListener("keydown", keydown, { capture: true, signal });
}
