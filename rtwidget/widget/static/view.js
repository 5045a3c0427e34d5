// One rendered view of a model: the DOM under anywidget's `el` (controls, notices, panel tabs and
// panels, the error area) and its redraws. View-only state: which panels are open, log filters,
// selection, scroll. Everything it listens to is released by `dispose()` (or the host's signal).
import { Controls } from "./controls.js";
import { ConversationView } from "./conversation.js";
import { h, hRt, linkedController, listen, onAbort, onModel } from "./dom.js";
import { ExceptionsView } from "./exceptions.js";
import { guardShortcuts } from "./keys.js";
import { LogView } from "./logview.js";
import { ItemPlayerView } from "./media.js";
import { SessionView, ToolsView } from "./panels.js";
import { ReplayBar } from "./replay.js";

/** Panels in order: (name, title, row). All open at first; each tab toggles one. The main row (conversation
 * and event log side by side when wide, stacked when narrow) has a definite height; tools and session go below. */
const PANELS = [
  ["conversation", "Conversation", "main"],
  ["log", "Event log", "main"],
  ["tools", "Tools", "aux"],
  ["session", "Session", "aux"],
];
/** The word before a notice's text, by level (info notices have none: calm). */
const NOTICE_LEVELS = /** @type {Record<string, string>} */ ({ warning: "Warning:", error: "Error:" });
/** How often the status line redraws its clocks (ms). */
const STATUS_TICK_MS = 1000;

/** @returns {string} */
function randomViewId() {
  return `v${Date.now().toString(36)}${Math.random().toString(36).slice(2, 10)}`;
}

export class WidgetView {
  /**
   * @param {import("./model.js").ModelState} state
   * @param {HTMLElement} el where anywidget wants the view
   * @param {AbortSignal} [hostSignal] the host's signal for the view's lifetime, if it gives one
   */
  constructor(state, el, hostSignal) {
    this.state = state;
    this.model = state.model;
    this.id = randomViewId();
    this.lifetime = linkedController(hostSignal);
    const signal = this.lifetime.signal;
    this.root = h("div", "rtwidget-root");
    this.root.tabIndex = 0;
    this.controls = new Controls(state);
    this.noticesEl = h("div", "rtwidget-notices");
    this.noticesEl.dataset.rt = "notice";
    this.noticesEl.setAttribute("aria-live", "polite");
    this.log = new LogView(state.rows, state.stats, signal);
    const toKernel = (/** @type {object} */ message) => state.send(message);
    this.replayBar = new ReplayBar(this.model, toKernel, () => state.send({ kind: "hello", view: this.id }));
    this.conversation = new ConversationView(state.panels, this.model, toKernel, signal);
    this.itemPlayer = new ItemPlayerView(state.media, this.conversation.el, signal); // an item's audio on click
    this.tools = new ToolsView(state.panels, this.model, toKernel);
    this.session = new SessionView(state.panels, this.model, toKernel, signal);
    this.exceptions = new ExceptionsView(state.exceptions, (id) => state.dismissException(id), signal);
    /** @type {Record<string, HTMLElement>} */
    this.sections = {};
    /** @type {Record<string, HTMLElement>} the panel rows: main (conversation, log) and aux (tools, session) */
    this.rows = {};
    this.panelsRaf = 0;
    this.levelsRaf = 0;
    const bars = [...this.controls.bars(), this.replayBar.el];
    this.root.append(...bars, this.noticesEl, ...this.panelTabs(signal), this.exceptions.el);
    el.appendChild(this.root);
    this.bind(signal);
    onAbort(signal, () => this.released());
  }

  /**
   * The tab bar and the panels (in two rows), each tab toggling its panel.
   * @param {AbortSignal} signal
   * @returns {HTMLElement[]}
   */
  panelTabs(signal) {
    const tabs = h("div", "rtwidget-tabs");
    tabs.setAttribute("role", "toolbar");
    tabs.setAttribute("aria-label", "Show or hide panels");
    tabs.appendChild(h("span", "rtwidget-tabs-label", "Panels:"));
    const panels = h("div", "rtwidget-panels");
    this.rows.main = h("div", "rtwidget-row rtwidget-row-main");
    this.rows.aux = h("div", "rtwidget-row rtwidget-row-aux");
    panels.append(this.rows.main, this.rows.aux);
    /** @type {Record<string, HTMLElement>} */
    const content = {
      conversation: this.conversation.el,
      log: this.log.el,
      tools: this.tools.el,
      session: this.session.el,
    };
    for (const [name, title, row] of PANELS) {
      const tab = hRt("button", `tab-${name}`, "rtwidget-tab", title);
      tab.setAttribute("aria-pressed", "true");
      tab.title = `Show or hide the ${title.toLowerCase()} panel`;
      const section = h("section", `rtwidget-panel rtwidget-panel-${name}`);
      section.dataset.rt = `panel-${name}`;
      const body = h("div", "rtwidget-panel-body");
      body.appendChild(content[name]);
      section.append(h("div", "rtwidget-panel-title", title), body);
      listen(tab, "click", () => this.togglePanel(name, tab), signal);
      tabs.appendChild(tab);
      this.rows[row].appendChild(section);
      this.sections[name] = section;
    }
    return [tabs, panels];
  }

  /**
   * @param {string} name
   * @param {HTMLElement} tab
   */
  togglePanel(name, tab) {
    const section = this.sections[name];
    section.hidden = !section.hidden;
    tab.setAttribute("aria-pressed", String(!section.hidden));
    // A row with no panel left takes no space: the visible panels share what there is.
    for (const row of Object.values(this.rows)) {
      row.hidden = [...row.children].every((c) => /** @type {HTMLElement} */ (c).hidden);
    }
    if (name === "log") this.log.invalidate(true);
    this.schedulePanels();
  }

  /** @param {AbortSignal} signal */
  bind(signal) {
    // Autoplay policies let audio start only after a gesture; which events count differs by device
    // (a touch activates on pointerup/click, a mouse on pointerdown), so listen to all of them.
    for (const type of ["pointerdown", "click", "keydown"]) {
      listen(this.root, type, () => this.state.resumeAudio(), signal);
    }
    this.controls.bind(this.root, signal);
    this.replayBar.bind(signal);
    guardShortcuts(this.root, signal);
    // One listener for every notice's dismiss button, so redraws add none.
    listen(
      this.noticesEl,
      "click",
      (/** @type {MouseEvent} */ e) => {
        const close = /** @type {HTMLElement | null} */ (/** @type {HTMLElement} */ (e.target).closest(".rtwidget-notice-close"));
        if (close) this.state.dismiss(Number(close.dataset.id));
      },
      signal,
    );
    onModel(this.model, "change", () => this.onTraits(), signal);
    const tick = setInterval(() => this.controls.drawStatus(), STATUS_TICK_MS);
    onAbort(signal, () => clearInterval(tick));
  }

  /** Register with the model state, draw everything, ask the kernel for a snapshot. */
  start() {
    this.state.addView({ id: this.id, update: (what) => this.update(what) });
    this.onTraits();
    this.controls.drawLevels();
    this.drawNotices();
    this.exceptions.draw();
    this.log.invalidate(true);
    this.state.send({ kind: "hello", view: this.id });
  }

  onTraits() {
    this.controls.drawStatus();
    this.replayBar.draw(this.root);
    this.controls.drawControls();
    this.schedulePanels();
  }

  /** @param {string} what the part of the model state that changed */
  update(what) {
    if (what === "panels") {
      this.log.invalidate();
      this.schedulePanels();
    } else if (what === "mic") this.controls.drawControls();
    else if (what === "level") this.scheduleLevels();
    else if (what === "notices") this.drawNotices();
    else if (what === "exceptions") this.exceptions.draw();
    else if (what === "media") this.itemPlayer.draw();
  }

  schedulePanels() {
    if (!this.panelsRaf) this.panelsRaf = requestAnimationFrame(() => this.drawPanels());
  }

  /** The meters redraw at most once per animation frame, however often the levels arrive. */
  scheduleLevels() {
    if (!this.levelsRaf) {
      this.levelsRaf = requestAnimationFrame(() => {
        this.levelsRaf = 0;
        this.controls.drawLevels();
      });
    }
  }

  drawPanels() {
    this.panelsRaf = 0;
    if (!this.sections.conversation.hidden) this.conversation.draw();
    this.itemPlayer.draw(); // items redrawn or gone: the player follows its item
    if (!this.sections.tools.hidden) this.tools.draw();
    if (!this.sections.session.hidden) this.session.draw();
  }

  drawNotices() {
    this.noticesEl.textContent = "";
    for (const n of this.state.notices) {
      const line = h("div", `rtwidget-notice rtwidget-notice-${n.level}`);
      const close = h("button", "rtwidget-notice-close", "\u00d7");
      close.title = "dismiss";
      close.dataset.id = String(n.id);
      line.dataset.level = n.level;
      line.setAttribute("role", n.level === "error" ? "alert" : "status");
      const level = NOTICE_LEVELS[n.level];
      if (level) line.appendChild(h("span", "rtwidget-notice-level", level));
      line.append(h("span", "", n.text), close);
      this.noticesEl.appendChild(line);
    }
  }

  /** Remove the view (anywidget's render cleanup). */
  dispose() {
    this.lifetime.abort();
  }

  /** The view's signal aborted: its listeners are gone; leave the page and the model state. */
  released() {
    if (this.panelsRaf) cancelAnimationFrame(this.panelsRaf);
    if (this.levelsRaf) cancelAnimationFrame(this.levelsRaf);
    this.panelsRaf = 0;
    this.levelsRaf = 0;
    this.root.remove();
    const left = this.state.removeView(this.id);
    // No view left (the cell was re-run or cleared): nobody can hear or see the audio.
    if (left === 0) this.state.stopAudio();
  }
}
