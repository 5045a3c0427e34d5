// The state of one model in the page, shared by its views: the message router (kernel -> browser
// messages, docs/widget-contract.md), the event-log rows, the panel data, notices and exceptions,
// the microphone and playback, and the debug stats. Created by `initialize` (widget.js); every
// listener it adds is removed by `dispose()`.
import { closeDebug, newStats, registerDebug } from "./debug.js";
import { DirectLink } from "./direct.js";
import { linkedController, onAbort, onModel } from "./dom.js";
import { ExceptionList } from "./exceptions.js";
import { ItemPlayer, saveFile } from "./media.js";
import { Capture } from "./mic.js";
import { PanelState } from "./panelstate.js";
import { Playback } from "./playback.js";
import { RowStore } from "./rows.js";
import { resumeContext } from "./webaudio.js";

/**
 * @typedef {object} AnyModel the part of anywidget's model proxy this front end uses
 * @property {(name: string) => any} get
 * @property {(name: string, value: any) => void} set
 * @property {() => void} save_changes
 * @property {(content: object, callbacks?: any, buffers?: (ArrayBuffer | ArrayBufferView)[]) => void} send
 * @property {(name: string, cb: (...args: any[]) => void) => void} on
 * @property {(name?: string | null, cb?: ((...args: any[]) => void) | null) => void} off
 */

/**
 * @typedef {object} ViewHandle what the model state knows of one rendered view
 * @property {string} id
 * @property {(what: string) => void} update redraw a part: panels, mic, level, notices, exceptions, media
 */

/** The `turn_mode` value that gates the microphone on a held key. */
export const PUSH_TO_TALK = "push_to_talk";
/** Notices kept per model. */
const MAX_NOTICES = 5;
/** Rows kept when the `log_limit` trait is unset. */
const DEFAULT_LOG_LIMIT = 5000;

/** @param {AnyModel} model */
function logLimit(model) {
  return Number(model.get("log_limit")) || DEFAULT_LOG_LIMIT;
}

/** Everything one model owns in this page. */
export class ModelState {
  /**
   * @param {AnyModel} model
   * @param {AbortSignal} [hostSignal] the host's signal for the model's lifetime, if it gives one
   */
  constructor(model, hostSignal) {
    this.model = model;
    this.stats = newStats();
    this.rows = new RowStore(logLimit(model));
    this.panels = new PanelState();
    this.exceptions = new ExceptionList();
    /** @type {Map<string, ViewHandle>} */
    this.views = new Map();
    this.hadViews = false;
    /** @type {{id: number, level: string, text: string}[]} */
    this.notices = [];
    this.noticeId = 0;
    this.disposed = false;
    this.capture = new Capture(this);
    this.playback = new Playback(this);
    this.media = new ItemPlayer(this);
    this.direct = new DirectLink((content, buffers) => this.viaComm(content, buffers));
    // Played reports ride with mic chunks while the mic sends: one message a chunk instead of two.
    this.playback.canRide = () => this.capture.sender.flowing();
    this.capture.sender.rider = () => this.playback.takeRiding();
    this.debug = registerDebug(this.stats, this);
    this.lifetime = linkedController(hostSignal);
    onAbort(this.lifetime.signal, () => this.dispose());
    this.listen();
    this.applyTurnMode();
  }

  /** Model listeners, all removed when `lifetime` aborts. */
  listen() {
    const { model } = this;
    const signal = this.lifetime.signal;
    onModel(model, "msg:custom", (content, buffers) => this.handle(content, buffers), signal);
    onModel(model, "change:muted", () => this.playback.setMuted(), signal);
    onModel(model, "change:mic_chunk_ms", () => this.capture.configure(), signal);
    onModel(model, "change:playback_start_ms", () => this.playback.configure(), signal);
    onModel(model, "change:log_limit", () => this.rows.setLimit(logLimit(model)), signal);
    onModel(model, "change:turn_mode", () => this.applyTurnMode(), signal);
    // Backbone passes the real model first: the only place its id is visible to us.
    const learnId = (/** @type {any} */ m) => {
      if (!this.debug.model_id && m && typeof m.model_id === "string") this.debug.model_id = m.model_id;
    };
    onModel(model, "change", learnId, signal);
  }

  /** Whether a view could hear audio now: not once every view was removed (cell re-run or cleared). */
  heard() {
    return !(this.hadViews && this.views.size === 0);
  }

  /**
   * @param {object} content
   * @param {(ArrayBuffer | ArrayBufferView)[]} [buffers]
   */
  send(content, buffers) {
    if (this.disposed) return;
    // A view's hello says whether this page could use a direct channel (direct.js); once one is open,
    // every message goes through it (the hello too: one order), and through the comm whenever it is not.
    if (/** @type {any} */ (content).kind === "hello") content = { ...content, direct: this.direct.possible() };
    if (!this.direct.send(content, buffers)) this.viaComm(content, buffers);
  }

  /**
   * @param {object} content
   * @param {(ArrayBuffer | ArrayBufferView)[]} [buffers]
   */
  viaComm(content, buffers) {
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
        return this.applyAudio(content, buffers ?? []);
      case "flush":
        this.stats.flushes++;
        return this.playback.flush(true);
      case "batch":
        return this.applyBatch(content);
      case "snapshot":
        return this.applySnapshot(content);
      case "notice":
        return this.notice(content.level ?? "info", String(content.text ?? ""));
      case "exception":
        this.exceptions.add(content.error);
        return this.emit("exceptions");
      case "stop":
        return this.stopAudio();
      case "direct":
        return this.direct.connect(content.url);
      case "direct_ready":
        return this.direct.confirmed(content.n);
      case "file":
        saveFile(content, buffers?.[0]);
        return;
      case "item_audio":
        return this.media.play(content, buffers?.[0]);
      default:
        console.debug("[rtwidget] unknown message kind", content.kind);
    }
  }

  /**
   * An `audio` message: its `chunks` (one per buffer, in order) go to playback first, then the panel
   * batch that rode along, if any. A message without `chunks` is one chunk (the older form).
   * @param {any} content
   * @param {DataView[]} buffers
   */
  applyAudio(content, buffers) {
    const chunks = Array.isArray(content.chunks) ? content.chunks : [content];
    chunks.forEach((/** @type {any} */ chunk, /** @type {number} */ i) => this.playback.enqueue(chunk, buffers[i]));
    if (content.batch && typeof content.batch === "object") this.applyBatch(content.batch);
  }

  /** @param {any} batch a `batch` message, or the batch an `audio` message carries */
  applyBatch(batch) {
    if (batch.rows?.length) this.rows.append(batch.rows);
    if (batch.row_updates?.length) this.rows.update(batch.row_updates);
    this.panels.apply(batch);
    this.emit("panels");
  }

  /** @param {any} snapshot a `snapshot` message: applied only when addressed to one of this model's views */
  applySnapshot(snapshot) {
    if (!this.views.has(snapshot.view)) return;
    this.rows.reset(snapshot.rows ?? [], snapshot.rows_dropped ?? 0);
    this.panels.reset(snapshot);
    this.emit("panels");
    if (Array.isArray(snapshot.exceptions)) {
      this.exceptions.reset(snapshot.exceptions);
      this.emit("exceptions");
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

  /** @param {number} id */
  dismissException(id) {
    this.exceptions.dismiss(id);
    this.emit("exceptions");
  }

  /** @param {string} what which part changed: panels, mic, level, notices, exceptions, media */
  emit(what) {
    for (const v of this.views.values()) {
      try {
        v.update(what);
      } catch (err) {
        console.error("[rtwidget] view update failed", err);
      }
    }
  }

  /** @param {ViewHandle} view */
  addView(view) {
    this.views.set(view.id, view);
    this.hadViews = true;
    this.stats.views = this.views.size;
  }

  /**
   * @param {string} id
   * @returns {number} views left
   */
  removeView(id) {
    this.views.delete(id);
    this.stats.views = this.views.size;
    return this.views.size;
  }

  applyTurnMode() {
    const ptt = this.model.get("turn_mode") === PUSH_TO_TALK;
    this.capture.sender.pushToTalk = ptt;
    if (!ptt && this.capture.sender.held) this.capture.releaseTalk();
    this.emit("mic");
  }

  /** A gesture in a view: autoplay policies let audio start only after one. */
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

  /** Release the audio and remove every listener (the model closed, or the view that owned it went). */
  dispose() {
    if (this.disposed) return;
    this.capture.stop();
    this.playback.teardown();
    this.disposed = true;
    this.direct.close();
    this.lifetime.abort();
    this.views.clear();
    closeDebug(this.debug);
  }
}
