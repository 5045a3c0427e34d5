// rtwidget front end: the anywidget module. Its default export is a factory; anywidget calls it
// once per model (each model loads its own copy of the module) and gets `{initialize, render}`:
// - initialize creates the model's state (model.js: router, rows, panels, audio, debug stats);
// - render draws one view of it (view.js) and finds the state through the factory's closure.
// Each returns a cleanup that removes everything it added (anywidget may also pass an AbortSignal).
//
// The files import each other for the Node tests; rtwidget/widget/bundle.py strips those imports
// and joins them into one module, preceded by WORKLET_SOURCES. Kernel <-> browser contract:
// docs/widget-contract.md.
import { ModelState } from "./model.js";
import { WidgetView } from "./view.js";

/**
 * @typedef {object} InitializeContext
 * @property {import("./model.js").AnyModel} model
 * @property {AbortSignal} [signal]
 */

/**
 * @typedef {object} RenderContext
 * @property {import("./model.js").AnyModel} model
 * @property {HTMLElement} el
 * @property {AbortSignal} [signal]
 */

/**
 * A new widget definition for one model.
 * @returns {{initialize: (ctx: InitializeContext) => () => void, render: (ctx: RenderContext) => () => void}}
 */
export function createWidget() {
  /** The state `initialize` made; null before it ran or after its cleanup. @type {ModelState | null} */
  let shared = null;

  /** @param {InitializeContext} ctx */
  function initialize({ model, signal }) {
    const state = new ModelState(model, signal);
    shared = state;
    return () => {
      state.dispose();
      if (shared === state) shared = null;
    };
  }

  /** @param {RenderContext} ctx */
  function render({ model, el, signal }) {
    // A host that never ran initialize (or already cleaned it up): this view owns a state of its own.
    const owned = shared === null ? new ModelState(model, signal) : null;
    const state = owned ?? /** @type {ModelState} */ (shared);
    const view = new WidgetView(state, el, signal);
    view.start();
    return () => {
      view.dispose();
      owned?.dispose();
    };
  }

  return { initialize, render };
}

export default createWidget;
