// rtwidget front end: the anywidget module (`export default {initialize, render}`).
//
// State, by owner:
// - synced traits (kernel <-> browser): status, endpoint, turn_mode, voice, instructions, muted, ...
//   (see docs/widget-contract.md). The browser sets turn_mode, voice, instructions,
//   echo_cancellation and muted; every view reads the others.
// - per model (initialize): audio contexts, microphone, worklets, the message router, and the panel
//   state synced from `batch`/`snapshot` messages (RowStore, PanelState), notices, debug stats.
// - per view (render): DOM, log filters, selection, scroll position, which panels are open.
//
// Files import each other for the Node tests; rtwidget/assets.py strips those imports and joins
// dsp.js, eventlog.js, panels.js, audio.js and this file into one module, preceded by WORKLET_SOURCES.
import { Capture, Playback, resumeContext } from "./audio.js";
import { LogView, RowStore, formatClock } from "./eventlog.js";
import { ConversationView, PanelState, SessionView, ToolsView, h, setText } from "./panels.js";

/**
 * @typedef {object} AnyModel the part of anywidget's model proxy this module uses
 * @property {(name: string) => any} get
 * @property {(name: string, value: any) => void} set
 * @property {() => void} save_changes
 * @property {(content: object, callbacks?: any, buffers?: (ArrayBuffer | ArrayBufferView)[]) => void} send
 * @property {(name: string, cb: (...args: any[]) => void) => void} on
 * @property {(name?: string | null, cb?: ((...args: any[]) => void) | null) => void} off
 */

/**
 * @typedef {object} Stats debug figures read by tests and benchmarks (globalThis.__rtwidget)
 * @property {Record<string, number>} playedSamples item_id -> samples played (cumulative)
 * @property {{seq: number, latency_ms: number}[]} playStarts kernel receive time -> worklet start
 * @property {number} micChunks mic chunks sent to the kernel
 * @property {number} flushes `flush` messages from the kernel handled
 * @property {number[]} frameTimes event-log render durations (ms), last 10k
 * @property {number} audioChunks `audio` messages received
 * @property {number} micLevel last input RMS (0..1)
 * @property {number} outLevel last output RMS (0..1)
 * @property {number} captureRate sample rate of the capture context (0 when the mic is off)
 * @property {boolean} micOn
 * @property {number} views views currently rendered
 */

/** Notices kept per model. */
const MAX_NOTICES = 5;

/**
 * The per-model records alive in this module instance. anywidget loads the module once per model
 * today, so this usually holds one record; `findRecord` copes with several.
 * @type {ModelRecord[]}
 */
const RECORDS = [];

/** @returns {Stats} */
function newStats() {
  return {
    playedSamples: {},
    playStarts: [],
    micChunks: 0,
    flushes: 0,
    frameTimes: [],
    audioChunks: 0,
    micLevel: 0,
    outLevel: 0,
    captureRate: 0,
    micOn: false,
    views: 0,
  };
}

/** @returns {{models: {model_id: string | null, stats: Stats, closed?: boolean}[]}} */
function debugHook() {
  const g = /** @type {any} */ (globalThis);
  g.__rtwidget = g.__rtwidget || { models: [] };
  return g.__rtwidget;
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


/**
 * @typedef {object} ViewHandle what a record knows of one rendered view
 * @property {string} id
 * @property {(what: string) => void} update
 */

/** Everything one model owns in this page: audio, panel state, notices, stats, its views. */
class ModelRecord {
  /** @param {AnyModel} model */
  constructor(model) {
    this.model = model;
    this.stats = newStats();
    this.rows = new RowStore(Number(model.get("log_limit")) || 5000);
    this.panels = new PanelState();
    /** @type {Map<string, ViewHandle>} */
    this.views = new Map();
    this.hadViews = false;
    /** @type {{id: number, level: string, text: string}[]} */
    this.notices = [];
    this.noticeId = 0;
    this.disposed = false;
    this.capture = new Capture(this);
    this.playback = new Playback(this);
    this.debug = { model_id: /** @type {string | null} */ (null), stats: this.stats, closed: false };
    // The record itself, for the console and the unit tests; not enumerable, so serializing the
    // debug list (e.g. from a browser test) stays cheap and acyclic.
    Object.defineProperty(this.debug, "record", { value: this, enumerable: false });
    debugHook().models.push(this.debug);

    /** @type {[string, (...args: any[]) => void][]} */
    this.listeners = [
      ["msg:custom", (content, buffers) => this.handle(content, buffers)],
      ["change:muted", () => this.playback.setMuted()],
      ["change:mic_chunk_ms", () => this.capture.configure()],
      ["change:playback_start_ms", () => this.playback.configure()],
      ["change:log_limit", () => this.rows.setLimit(Number(model.get("log_limit")) || 5000)],
      ["change:turn_mode", () => this.applyTurnMode()],
      [
        "change",
        (/** @type {any} */ m) => {
          // Backbone passes the real model first: the only place its id is visible to us.
          if (!this.debug.model_id && m && typeof m.model_id === "string") this.debug.model_id = m.model_id;
        },
      ],
    ];
    for (const [name, cb] of this.listeners) model.on(name, cb);
    this.applyTurnMode();
  }

  /**
   * @param {object} content
   * @param {(ArrayBuffer | ArrayBufferView)[]} [buffers]
   */
  send(content, buffers) {
    if (this.disposed) return;
    try {
      this.model.send(content, undefined, buffers);
    } catch (err) {
      console.warn("[rtwidget] could not send", content, err);
    }
  }

  /**
   * The one router for kernel messages.
   * @param {any} content
   * @param {DataView[]} [buffers]
   */
  handle(content, buffers) {
    if (!content || typeof content !== "object") return;
    switch (content.kind) {
      case "audio":
        this.playback.enqueue(content, buffers?.[0]);
        break;
      case "flush":
        this.stats.flushes++;
        this.playback.flush(true);
        break;
      case "batch":
        if (content.rows?.length) this.rows.append(content.rows);
        if (content.row_updates?.length) this.rows.update(content.row_updates);
        this.panels.apply(content);
        this.emit("panels");
        break;
      case "snapshot":
        if (!this.views.has(content.view)) break; // addressed to another view
        this.rows.reset(content.rows ?? [], content.rows_dropped ?? 0);
        this.panels.reset(content);
        this.emit("panels");
        break;
      case "notice":
        this.notice(content.level ?? "info", String(content.text ?? ""));
        break;
      case "stop":
        this.stopAudio();
        break;
      default:
        console.debug("[rtwidget] unknown message kind", content.kind);
    }
  }

  /**
   * @param {string} level "info" | "warning" | "error"
   * @param {string} text
   */
  notice(level, text) {
    this.notices.push({ id: ++this.noticeId, level, text });
    if (this.notices.length > MAX_NOTICES) this.notices.splice(0, this.notices.length - MAX_NOTICES);
    this.emit("notices");
  }

  /** @param {number} id */
  dismiss(id) {
    this.notices = this.notices.filter((n) => n.id !== id);
    this.emit("notices");
  }

  /** @param {string} what which part changed: panels, mic, level, notices */
  emit(what) {
    for (const v of this.views.values()) {
      try {
        v.update(what);
      } catch (err) {
        console.error("[rtwidget] view update failed", err);
      }
    }
  }

  applyTurnMode() {
    const ptt = this.model.get("turn_mode") === "push_to_talk";
    this.capture.sender.pushToTalk = ptt;
    if (!ptt && this.capture.sender.held) this.capture.releaseTalk();
    this.emit("mic");
  }

  /** A click anywhere in a view: autoplay policies let audio start only after a gesture. */
  resumeAudio() {
    this.playback.ensure();
    resumeContext(this.capture.ctx);
  }

  /** Stop the microphone and playback (session closed, or no view left). */
  stopAudio() {
    this.capture.stop();
    this.playback.teardown();
    this.emit("level");
  }

  dispose() {
    if (this.disposed) return;
    this.capture.stop();
    this.playback.teardown();
    this.disposed = true;
    for (const [name, cb] of this.listeners) this.model.off(name, cb);
    this.views.clear();
    this.debug.closed = true;
    const i = RECORDS.indexOf(this);
    if (i >= 0) RECORDS.splice(i, 1);
  }
}

/**
 * Whether two model proxies front the same model. anywidget hands initialize and render different
 * proxy objects, but their `get` reads the same attributes: a dict trait is the same object.
 * @param {AnyModel} a
 * @param {AnyModel} b
 * @returns {boolean}
 */
function sameModel(a, b) {
  for (const key of ["counters", "usage", "endpoint", "session_config", "voices"]) {
    const x = a.get(key);
    if (x && typeof x === "object") return x === b.get(key);
  }
  return false;
}

/**
 * @param {AnyModel} model
 * @returns {ModelRecord | undefined}
 */
function findRecord(model) {
  const live = RECORDS.filter((r) => !r.disposed);
  if (live.length === 1) return live[0];
  return live.find((r) => sameModel(r.model, model));
}

/** @returns {string} */
function randomId() {
  return `v${Date.now().toString(36)}${Math.random().toString(36).slice(2, 10)}`;
}

/**
 * anywidget initialize: per-model resources.
 * @param {{model: AnyModel}} ctx
 * @returns {() => void}
 */
function initialize({ model }) {
  const rec = new ModelRecord(model);
  RECORDS.push(rec);
  return () => rec.dispose();
}

const TURN_MODES = [
  ["server_vad", "server VAD"],
  ["semantic_vad", "semantic VAD"],
  ["push_to_talk", "push-to-talk"],
];

const PANELS = [
  ["conversation", "Conversation"],
  ["log", "Event log"],
  ["tools", "Tools"],
  ["session", "Session"],
];

/**
 * @param {EventTarget | null} target
 * @returns {boolean} whether keys typed there are text (not shortcuts)
 */
function isTyping(target) {
  const t = /** @type {HTMLElement | null} */ (target);
  if (!t || !t.tagName) return false;
  const tag = t.tagName.toLowerCase();
  if (tag === "textarea" || tag === "select" || t.isContentEditable) return true;
  if (tag !== "input") return false;
  const type = /** @type {HTMLInputElement} */ (t).type;
  return type !== "checkbox" && type !== "radio" && type !== "button";
}

/**
 * anywidget render: one view's DOM.
 * @param {{model: AnyModel, el: HTMLElement}} ctx
 * @returns {() => void}
 */
function render({ model, el }) {
  let rec = findRecord(model);
  const ownsRecord = !rec; // no initialize ran (an old host): this view owns the record
  if (!rec) {
    rec = new ModelRecord(model);
    RECORDS.push(rec);
  }
  const r = rec;
  const viewId = randomId();

  const root = h("div", "rtwidget-root");
  root.tabIndex = 0;
  root.innerHTML = `
    <div class="rtwidget-bar">
      <button class="rtwidget-btn" data-rt="connect">Connect</button>
      <button class="rtwidget-btn" data-rt="disconnect">Disconnect</button>
      <span class="rtwidget-dot"></span>
      <span class="rtwidget-status" data-rt="status"></span>
    </div>
    <div class="rtwidget-bar">
      <button class="rtwidget-btn" data-rt="mic" aria-pressed="false">Mic off</button>
      <span class="rtwidget-meter" data-rt="mic-meter" title="input level"><span></span></span>
      <button class="rtwidget-btn" data-rt="mute" aria-pressed="false">Mute</button>
      <span class="rtwidget-meter" data-rt="out-meter" title="output level"><span></span></span>
      <select class="rtwidget-select" data-rt="turn-mode" title="turn detection"></select>
      <button class="rtwidget-btn rtwidget-ptt" data-rt="ptt" title="hold (or hold the space bar)">Hold to talk</button>
      <button class="rtwidget-btn" data-rt="interrupt" title="stop the reply">Interrupt</button>
      <label class="rtwidget-check" title="echo cancellation, noise suppression, auto gain (next mic start)">
        <input type="checkbox" data-rt="echo"> echo cancel</label>
      <label class="rtwidget-check">voice <select class="rtwidget-select" data-rt="voice"></select></label>
    </div>
    <div class="rtwidget-bar rtwidget-send">
      <input class="rtwidget-input rtwidget-grow" data-rt="text" placeholder="Type a message, Enter to send" spellcheck="false">
      <button class="rtwidget-btn" data-rt="send">Send</button>
    </div>
    <details class="rtwidget-instr">
      <summary>Instructions</summary>
      <textarea class="rtwidget-input" data-rt="instructions" rows="3"
        placeholder="System instructions (applied on blur or Ctrl+Enter)"></textarea>
    </details>
    <div class="rtwidget-notices" data-rt="notice" aria-live="polite"></div>
    <div class="rtwidget-tabs" role="toolbar"></div>
    <div class="rtwidget-panels"></div>`;
  el.appendChild(root);

  /**
   * @param {string} name
   * @returns {any}
   */
  const q = (name) => root.querySelector(`[data-rt="${name}"]`);
  const btn = {
    connect: /** @type {HTMLButtonElement} */ (q("connect")),
    disconnect: /** @type {HTMLButtonElement} */ (q("disconnect")),
    mic: /** @type {HTMLButtonElement} */ (q("mic")),
    mute: /** @type {HTMLButtonElement} */ (q("mute")),
    ptt: /** @type {HTMLButtonElement} */ (q("ptt")),
    interrupt: /** @type {HTMLButtonElement} */ (q("interrupt")),
    send: /** @type {HTMLButtonElement} */ (q("send")),
  };
  const statusEl = /** @type {HTMLElement} */ (q("status"));
  const dot = /** @type {HTMLElement} */ (root.querySelector(".rtwidget-dot"));
  const micBar = /** @type {HTMLElement} */ (q("mic-meter").firstElementChild);
  const outBar = /** @type {HTMLElement} */ (q("out-meter").firstElementChild);
  const turnMode = /** @type {HTMLSelectElement} */ (q("turn-mode"));
  const echo = /** @type {HTMLInputElement} */ (q("echo"));
  const voice = /** @type {HTMLSelectElement} */ (q("voice"));
  const text = /** @type {HTMLInputElement} */ (q("text"));
  const instructions = /** @type {HTMLTextAreaElement} */ (q("instructions"));
  const noticesEl = /** @type {HTMLElement} */ (q("notice"));
  const tabs = /** @type {HTMLElement} */ (root.querySelector(".rtwidget-tabs"));
  const panelsEl = /** @type {HTMLElement} */ (root.querySelector(".rtwidget-panels"));

  for (const [value, label] of TURN_MODES) turnMode.appendChild(new Option(label, value));

  // Panels: all open by default; each tab toggles one.
  const log = new LogView(r.rows, r.stats);
  const conv = new ConversationView(r.panels);
  const tools = new ToolsView(r.panels);
  const session = new SessionView(r.panels, () => ({ config: model.get("session_config"), usage: model.get("usage") }));
  /** @type {Record<string, HTMLElement>} */
  const content = { conversation: conv.el, log: log.el, tools: tools.el, session: session.el };
  /** @type {Record<string, HTMLElement>} */
  const sections = {};
  for (const [name, title] of PANELS) {
    const tab = h("button", "rtwidget-tab", title);
    tab.setAttribute("aria-pressed", "true");
    const section = h("section", `rtwidget-panel rtwidget-panel-${name}`);
    section.dataset.rt = `panel-${name}`;
    section.append(h("div", "rtwidget-panel-title", title), content[name]);
    tab.addEventListener("click", () => {
      section.hidden = !section.hidden;
      tab.setAttribute("aria-pressed", String(!section.hidden));
      if (name === "log") log.invalidate(true);
      schedulePanels();
    });
    tabs.appendChild(tab);
    panelsEl.appendChild(section);
    sections[name] = section;
  }

  let panelsRaf = 0;
  function schedulePanels() {
    if (!panelsRaf) panelsRaf = requestAnimationFrame(drawPanels);
  }
  function drawPanels() {
    panelsRaf = 0;
    if (!sections.conversation.hidden) conv.draw();
    if (!sections.tools.hidden) tools.draw();
    if (!sections.session.hidden) session.draw();
  }

  function drawStatus() {
    const status = String(model.get("status") ?? "idle");
    const ep = model.get("endpoint") ?? {};
    const parts = [status];
    const where = ep.label || ep.kind;
    if (where) parts.push(ep.kind && ep.label && ep.label !== ep.kind ? `${ep.label} (${ep.kind})` : where);
    if (ep.model) parts.push(ep.model);
    if (ep.dialect) parts.push(ep.dialect);
    const now = Date.now() / 1000;
    const connectedAt = Number(model.get("connected_at")) || 0;
    const expiresAt = Number(model.get("expires_at")) || 0;
    if (status === "connected" && connectedAt > 0) parts.push(`connected ${formatClock(now - connectedAt)}`);
    if (status === "connected" && expiresAt > 0) parts.push(`${formatClock(expiresAt - now)} left`);
    const message = model.get("status_message");
    setText(statusEl, parts.join(" \u00b7 ") + (message ? ` \u2014 ${message}` : ""));
    statusEl.title = message || "";
    dot.className = `rtwidget-dot rtwidget-dot-${status}`;
    const busy = status === "connecting" || status === "connected";
    btn.connect.disabled = busy;
    btn.disconnect.disabled = !busy;
  }

  function drawControls() {
    const micState = r.capture.state;
    btn.mic.textContent = micState === "on" ? "Mic on" : micState === "starting" ? "Mic\u2026" : "Mic off";
    btn.mic.setAttribute("aria-pressed", String(micState !== "off"));
    btn.mic.classList.toggle("rtwidget-on", micState === "on");
    const muted = !!model.get("muted");
    btn.mute.textContent = muted ? "Muted" : "Mute";
    btn.mute.setAttribute("aria-pressed", String(muted));
    btn.mute.classList.toggle("rtwidget-on", muted);
    const mode = String(model.get("turn_mode") ?? "server_vad");
    if (turnMode.value !== mode) {
      if (![...turnMode.options].some((o) => o.value === mode)) turnMode.appendChild(new Option(mode, mode));
      turnMode.value = mode;
    }
    const ptt = mode === "push_to_talk";
    btn.ptt.disabled = !ptt;
    btn.ptt.classList.toggle("rtwidget-on", r.capture.sender.held);
    btn.ptt.setAttribute("aria-pressed", String(r.capture.sender.held));
    echo.checked = model.get("echo_cancellation") !== false;
    const voices = /** @type {string[]} */ (model.get("voices") ?? []);
    const current = String(model.get("voice") ?? "");
    const wanted = voices.includes(current) || !current ? voices : [current, ...voices];
    if ([...voice.options].map((o) => o.value).join("\n") !== wanted.join("\n")) {
      voice.textContent = "";
      for (const v of wanted) voice.appendChild(new Option(v, v));
    }
    voice.value = current;
    voice.disabled = !!model.get("voice_locked");
    voice.title = voice.disabled ? "the voice cannot change after the assistant has spoken" : "voice";
    if (document.activeElement !== instructions) {
      const value = String(model.get("instructions") ?? "");
      if (instructions.value !== value) instructions.value = value;
    }
  }

  function drawLevels() {
    micBar.style.transform = `scaleX(${levelToFraction(r.capture.state === "on" ? r.stats.micLevel : 0)})`;
    outBar.style.transform = `scaleX(${levelToFraction(r.stats.outLevel)})`;
  }

  function drawNotices() {
    noticesEl.textContent = "";
    for (const n of r.notices) {
      const line = h("div", `rtwidget-notice rtwidget-notice-${n.level}`);
      const close = h("button", "rtwidget-notice-close", "\u00d7");
      close.title = "dismiss";
      close.addEventListener("click", () => r.dismiss(n.id));
      line.append(h("span", "", n.text), close);
      noticesEl.appendChild(line);
    }
  }

  /** @type {ViewHandle} */
  const handle = {
    id: viewId,
    update(what) {
      if (what === "panels") {
        log.invalidate();
        schedulePanels();
      } else if (what === "mic") drawControls();
      else if (what === "level") drawLevels();
      else if (what === "notices") drawNotices();
    },
  };
  r.views.set(viewId, handle);
  r.hadViews = true;
  r.stats.views = r.views.size;

  /** @param {string} name @param {any} value */
  const setTrait = (name, value) => {
    model.set(name, value);
    model.save_changes();
  };
  const sendText = () => {
    const value = text.value.trim();
    if (!value) return;
    r.send({ kind: "text", text: value });
    text.value = "";
  };
  const applyInstructions = () => {
    if (instructions.value !== String(model.get("instructions") ?? "")) setTrait("instructions", instructions.value);
  };
  let spaceHeld = false;
  const releaseSpace = () => {
    if (!spaceHeld) return;
    spaceHeld = false;
    r.capture.releaseTalk();
  };

  /** @type {[EventTarget, string, (e: any) => void][]} */
  const domListeners = [
    // Autoplay policies let audio start only after a gesture; which events count differs by device
    // (a touch activates on pointerup/click, a mouse on pointerdown), so listen to all of them.
    [root, "pointerdown", () => r.resumeAudio()],
    [root, "click", () => r.resumeAudio()],
    [root, "keydown", () => r.resumeAudio()],
    [btn.connect, "click", () => r.send({ kind: "connect" })],
    [btn.disconnect, "click", () => r.send({ kind: "disconnect" })],
    [btn.mic, "click", () => (r.capture.state === "off" ? r.capture.start() : r.capture.stop())],
    [btn.mute, "click", () => setTrait("muted", !model.get("muted"))],
    [turnMode, "change", () => setTrait("turn_mode", turnMode.value)],
    [echo, "change", () => setTrait("echo_cancellation", echo.checked)],
    [voice, "change", () => setTrait("voice", voice.value)],
    [
      btn.interrupt,
      "click",
      () => {
        r.send({ kind: "interrupt" });
        r.playback.flush(false); // silence now; the kernel's flush brings the final report
      },
    ],
    [btn.send, "click", sendText],
    [
      text,
      "keydown",
      (/** @type {KeyboardEvent} */ e) => {
        if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
          e.preventDefault();
          sendText();
        }
      },
    ],
    [instructions, "blur", applyInstructions],
    [
      instructions,
      "keydown",
      (/** @type {KeyboardEvent} */ e) => {
        if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
          e.preventDefault();
          applyInstructions();
        }
      },
    ],
    [
      btn.ptt,
      "pointerdown",
      (/** @type {PointerEvent} */ e) => {
        if (btn.ptt.disabled) return;
        e.preventDefault();
        try {
          btn.ptt.setPointerCapture(e.pointerId);
        } catch {
          // synthetic events have no capturable pointer
        }
        r.resumeAudio();
        r.capture.pressTalk();
      },
    ],
    [btn.ptt, "pointerup", () => r.capture.releaseTalk()],
    [btn.ptt, "pointercancel", () => r.capture.releaseTalk()],
    [btn.ptt, "lostpointercapture", () => r.capture.releaseTalk()],
    [btn.ptt, "contextmenu", (/** @type {Event} */ e) => e.preventDefault()], // long touch
    [
      root,
      "keydown",
      (/** @type {KeyboardEvent} */ e) => {
        if (isTyping(e.target)) {
          e.stopPropagation(); // typing here must not trigger notebook shortcuts
          return;
        }
        if (e.code === "Space" && model.get("turn_mode") === "push_to_talk") {
          e.preventDefault();
          e.stopPropagation();
          if (!e.repeat && !spaceHeld) {
            spaceHeld = true;
            r.resumeAudio();
            r.capture.pressTalk();
          }
        }
      },
    ],
    [
      root,
      "keyup",
      (/** @type {KeyboardEvent} */ e) => {
        if (e.code === "Space" && spaceHeld) {
          e.preventDefault();
          e.stopPropagation();
          releaseSpace();
        }
      },
    ],
    [root, "focusout", (/** @type {FocusEvent} */ e) => {
      if (!root.contains(/** @type {Node | null} */ (e.relatedTarget))) releaseSpace();
    }],
  ];
  for (const [target, name, fn] of domListeners) target.addEventListener(name, fn);

  const onChange = () => {
    drawStatus();
    drawControls();
    schedulePanels();
  };
  model.on("change", onChange);
  const tick = setInterval(drawStatus, 1000);

  drawStatus();
  drawControls();
  drawLevels();
  drawNotices();
  log.invalidate(true);
  schedulePanels();
  r.send({ kind: "hello", view: viewId });

  return () => {
    clearInterval(tick);
    if (panelsRaf) cancelAnimationFrame(panelsRaf);
    log.destroy();
    model.off("change", onChange);
    for (const [target, name, fn] of domListeners) target.removeEventListener(name, fn);
    releaseSpace();
    r.views.delete(viewId);
    r.stats.views = r.views.size;
    root.remove();
    // No view left (the cell was re-run or cleared): nobody can hear or see the audio.
    if (r.views.size === 0) {
      if (ownsRecord) r.dispose();
      else r.stopAudio();
    }
  };
}

export default { initialize, render };
