// The widget's media (rtwidget/widget/media.py on the kernel side): the Record button's label, files the
// kernel sends for the download buttons (saved with a Blob and a temporary <a download>), and an item's
// audio played on click: the model's ItemPlayer plays it through the playback's item node (beside the live
// one, so the live playhead and its `played` reports never see it) and reports `item_played`; each view's
// ItemPlayerView draws a small player under the item (the heard part, the cut part marked, the position).
import { h, listen, setText } from "./dom.js";
import { API_RATE, pcmBytes } from "./dsp.js";
import { formatClock, formatSeconds } from "./format.js";

/** The download buttons: what the kernel exports, the button's label and its title. */
export const DOWNLOADS = [
  ["transcript", "Transcript", "Download the conversation as Markdown (session.export_transcript())"],
  ["wav", "WAV", "Download the audio as a stereo WAV: you left, the model right (session.export_wav)"],
  ["log", "Log", "Download the event log as JSON Lines (session.export_events)"],
];
/** An item's non-final `item_played` reports go out at most this often (ms). */
const ITEM_REPORT_MS = 250;

/**
 * Save bytes the kernel sent (a `file` message) as a download.
 * @param {{name?: string, mime?: string}} content
 * @param {DataView | ArrayBuffer | undefined} buffer
 * @returns {Blob} what was saved (for tests)
 */
export function saveFile(content, buffer) {
  // A Blob copies a view's own bytes (offset and length kept); a comm buffer is never a SharedArrayBuffer.
  const parts = buffer ? [/** @type {BlobPart} */ (buffer)] : [];
  const blob = new Blob(parts, { type: content.mime || "application/octet-stream" });
  const url = URL.createObjectURL(blob);
  const a = h("a");
  a.href = url;
  a.download = content.name || "rtwidget-download";
  a.style.display = "none";
  document.body.appendChild(a);
  a.click();
  a.remove();
  // The download has started by now; the URL is freed a little later (some browsers read it after the click).
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  return blob;
}

/**
 * The Record button's words for the `recording` trait.
 * @param {any} recording the trait: {on, path, started_at} or {}
 * @param {number} now seconds since the epoch
 * @returns {{on: boolean, label: string, title: string}}
 */
export function recordingLabel(recording, now) {
  if (!recording || !recording.on) {
    return {
      on: false,
      label: "Record",
      title: "Record this session into a cassette file (rtwidget-<date>-<time>.cassette in the kernel's folder)",
    };
  }
  const name = String(recording.path ?? "");
  const clock = formatClock(now - Number(recording.started_at || now));
  return { on: true, label: `Recording ${clock} (${name})`, title: `Stop recording: writes ${name}` };
}

/**
 * @typedef {object} ItemPlay one item's audio played on click
 * @property {string} item_id
 * @property {string} key the id the worklet knows it by (a new one per play: its counts start at 0)
 * @property {string} role
 * @property {number} samples the item's audio, whole
 * @property {number} heard_samples the part that was heard (what plays)
 * @property {number} played samples played so far
 * @property {boolean} playing
 */

/** The item player of one model: one item's audio at a time. */
export class ItemPlayer {
  /** @param {import("./model.js").ModelState} owner */
  constructor(owner) {
    this.owner = owner;
    /** @type {ItemPlay | null} */
    this.current = null;
    this.plays = 0;
    this.lastReport = 0;
    /** @type {AudioWorkletNode | null} */
    this.node = null;
    owner.playback.onItemGone = () => this.gone();
  }

  /**
   * A click on an item: stop it when it is the one playing, else ask the kernel for its audio.
   * @param {string} itemId
   */
  toggle(itemId) {
    if (this.current?.playing && this.current.item_id === itemId) {
      this.stop();
      return;
    }
    this.owner.send({ kind: "play_item", item_id: itemId });
  }

  /**
   * An `item_audio` message: play it (whatever played before stops).
   * @param {any} content
   * @param {DataView | ArrayBuffer | undefined} buffer PCM16 at 24 kHz: the heard part
   */
  play(content, buffer) {
    this.stop();
    if (!buffer || typeof content.item_id !== "string") return;
    const play = {
      item_id: content.item_id,
      key: `${content.item_id}#${++this.plays}`,
      role: String(content.role ?? ""),
      samples: Number(content.samples) || 0,
      heard_samples: Number(content.heard_samples) || 0,
      played: 0,
      playing: true,
    };
    this.current = play;
    this.owner.emit("media");
    const pcm = pcmBytes(buffer);
    this.owner.playback
      .itemNode((m) => this.onWorklet(m))
      .then((node) => {
        this.node = node;
        if (this.current !== play || !play.playing) return; // another item asked for, or stopped, meanwhile
        node.port.postMessage({ type: "chunk", item_id: play.key, seq: 0, t: Date.now(), pcm }, [pcm]);
      })
      .catch((/** @type {any} */ err) => {
        if (this.current === play) play.playing = false;
        this.owner.notice("error", `Cannot play the item's audio: ${err?.message ?? err}`);
        this.owner.emit("media");
      });
  }

  /** Stop the item playing (its final report follows from the worklet). */
  stop() {
    const play = this.current;
    if (!play?.playing) return;
    if (this.node) this.node.port.postMessage({ type: "flush", id: 0, report: true });
    else this.finish(play);
  }

  /** @param {any} m a report of the item node's worklet (playback-worklet.js) */
  onWorklet(m) {
    const play = this.current;
    if (!play || m.item_id !== play.key) return;
    if (typeof m.samples === "number") play.played = m.samples;
    if (m.type === "progress" && play.playing && Date.now() - this.lastReport >= ITEM_REPORT_MS) {
      this.report(play, false);
    } else if (m.type === "ended" || m.type === "flushed") {
      if (play.playing) this.finish(play);
      return;
    }
    this.owner.emit("media");
  }

  /** @param {ItemPlay} play ended, stopped or gone: the final report */
  finish(play) {
    play.playing = false;
    this.report(play, true);
    this.owner.emit("media");
  }

  /**
   * @param {ItemPlay} play
   * @param {boolean} final
   */
  report(play, final) {
    this.lastReport = Date.now();
    this.owner.send({ kind: "item_played", item_id: play.item_id, samples: play.played, final });
  }

  /** The playback was torn down (no view left, the session closed): the item stops where it was. */
  gone() {
    this.node = null;
    if (this.current?.playing) this.finish(this.current);
  }
}

/** Buttons, links and fields inside an item keep their own clicks. */
const OWN_CLICKS = new Set(["BUTTON", "A", "INPUT", "SELECT", "TEXTAREA", "SUMMARY"]);

/** One view's item players: the click on an item, and the player drawn under the item playing. */
export class ItemPlayerView {
  /**
   * @param {ItemPlayer} player
   * @param {HTMLElement} conversation the conversation panel's element (items: [data-rt=item][data-id])
   * @param {AbortSignal} signal
   */
  constructor(player, conversation, signal) {
    this.player = player;
    this.conversation = conversation;
    /** @type {HTMLElement | null} */
    this.el = null;
    listen(conversation, "click", (/** @type {MouseEvent} */ e) => this.click(e), signal);
  }

  /** @param {MouseEvent} e */
  click(e) {
    const target = /** @type {HTMLElement} */ (e.target);
    const item = /** @type {HTMLElement | null} */ (target?.closest?.('[data-rt="item"]'));
    if (!item || !item.dataset.id) return;
    for (let n = /** @type {any} */ (target); n && n !== item; n = n.parentNode) if (OWN_CLICKS.has(n.tagName)) return;
    const selected = typeof getSelection === "function" ? String(getSelection() ?? "") : "";
    if (selected) return; // selecting words to copy is not asking for audio
    this.player.toggle(item.dataset.id);
  }

  /** @param {string} id @returns {HTMLElement | null} */
  itemEl(id) {
    for (const e of this.conversation.querySelectorAll('[data-rt="item"]')) {
      if (/** @type {HTMLElement} */ (e).dataset.id === id) return /** @type {HTMLElement} */ (e);
    }
    return null;
  }

  /** Draw the player under the item playing (or played last); nothing when there is none. */
  draw() {
    const play = this.player.current;
    const item = play ? this.itemEl(play.item_id) : null;
    if (!play || !item) {
      this.el?.remove();
      return;
    }
    const el = this.el ?? this.build();
    if (el.parentElement !== item) item.appendChild(el);
    const [label, bar] = /** @type {HTMLElement[]} */ (Array.from(el.children));
    const [heard, cut, head] = /** @type {HTMLElement[]} */ (Array.from(bar.children));
    const whole = Math.max(play.samples, play.heard_samples, 1);
    const pct = (/** @type {number} */ n) => `${((100 * Math.min(n, whole)) / whole).toFixed(2)}%`;
    heard.style.width = pct(play.heard_samples);
    cut.style.width = pct(whole - play.heard_samples);
    cut.hidden = play.samples <= play.heard_samples;
    head.style.left = pct(play.played);
    const sec = (/** @type {number} */ n) => formatSeconds((1000 * n) / API_RATE);
    const cutText = cut.hidden ? "" : ` \u00b7 cut at ${sec(play.heard_samples)} of ${sec(play.samples)}`;
    setText(label, `${play.playing ? "\u25a0 playing" : "\u25b6 played"} ${sec(play.played)} / ${sec(play.heard_samples)}${cutText}`);
    el.title = play.playing ? "Click the item again to stop" : "Click the item to play it again";
    el.dataset.playing = String(play.playing);
  }

  /** @returns {HTMLElement} */
  build() {
    const el = h("div", "rtwidget-item-player");
    el.dataset.rt = "item-player";
    const bar = h("div", "rtwidget-item-player-bar");
    const heard = h("span", "rtwidget-item-player-heard");
    const cut = h("span", "rtwidget-item-player-cut");
    cut.title = "cut: never heard";
    cut.dataset.rt = "item-player-cut";
    const head = h("span", "rtwidget-item-player-head");
    bar.append(heard, cut, head);
    el.append(h("span", "rtwidget-item-player-label"), bar);
    this.el = el;
    return el;
  }
}
