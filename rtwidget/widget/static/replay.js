// The replay bar: shown only while the widget replays a cassette (the `replay` trait is not empty; see
// rtwidget/widget/replay.py and docs/widget-contract.md). Play/pause, the speed (1x, 2x, instantly), the position
// (a slider and "m:ss / m:ss") and the cassette's name; each control sends a `replay` message. In replay mode the
// root gets `rtwidget-replaying`, which hides the live-only controls (replay.css). A new `epoch` (the kernel
// started over on a fresh session: a seek backward) makes the view ask for a fresh snapshot.
import { h, hRt, listen, option, setText } from "./dom.js";
import { formatClock } from "./format.js";

/** The speeds offered: the select's value, its label. */
const REPLAY_SPEEDS = [
  ["1", "1x"],
  ["2", "2x"],
  ["instant", "instantly"],
];
const REPLAY_AUDIO_NOTE = "The model's voice plays at 1x only: at 2x and instantly the audio is not played.";

/**
 * The `replay` trait read safely: null when live (empty or not an object).
 * @param {any} value
 * @returns {{name: string, duration: number, position: number, speed: number | string, playing: boolean, epoch: number} | null}
 */
export function replayState(value) {
  if (!value || typeof value !== "object" || !("duration" in value)) return null;
  return {
    name: String(value.name ?? ""),
    duration: Number(value.duration) || 0,
    position: Number(value.position) || 0,
    speed: value.speed === "instant" ? "instant" : Number(value.speed) || 1,
    playing: Boolean(value.playing),
    epoch: Number(value.epoch) || 0,
  };
}

export class ReplayBar {
  /**
   * @param {{get: (name: string) => any}} model
   * @param {(message: object) => void} send to the kernel
   * @param {() => void} resync asks the kernel for a fresh snapshot of this view
   */
  constructor(model, send, resync) {
    this.model = model;
    this.send = send;
    this.resync = resync;
    this.el = hRt("div", "replay-bar", "rtwidget-replay");
    this.el.hidden = true;
    this.play = hRt("button", "replay-play", "rtwidget-btn rtwidget-primary", "Play");
    this.speed = hRt("select", "replay-speed", "rtwidget-select");
    for (const [value, label] of REPLAY_SPEEDS) this.speed.appendChild(option(value, label));
    this.speed.title = REPLAY_AUDIO_NOTE;
    this.slider = hRt("input", "replay-position", "rtwidget-replay-slider rtwidget-grow");
    this.slider.type = "range";
    this.slider.min = "0";
    this.slider.step = "0.1";
    this.slider.setAttribute("aria-label", "Position in the recording");
    this.time = hRt("span", "replay-time", "rtwidget-replay-time", "0:00 / 0:00");
    this.name = hRt("span", "replay-name", "rtwidget-replay-name");
    this.el.append(h("span", "rtwidget-replay-label", "Replay"), this.play, this.speed, this.slider, this.time, this.name);
    for (const e of [this.el, this.play, this.speed, this.slider, this.time, this.name]) {
      e.dataset.testid = e.dataset.rt ?? ""; // (the browser tests look for either name)
    }
    /** The slider is being dragged: the kernel's position does not move it meanwhile. */
    this.dragging = false;
    /** The kernel's session epoch this view's panels show (a view made later starts at the current one). */
    this.epoch = replayState(model.get("replay"))?.epoch ?? 0;
  }

  /** @param {AbortSignal} signal */
  bind(signal) {
    listen(this.play, "click", () => this.send({ kind: "replay", action: this.playing() ? "pause" : "play" }), signal);
    listen(this.speed, "change", () => {
      const value = this.speed.value === "instant" ? "instant" : Number(this.speed.value);
      this.send({ kind: "replay", action: "speed", value });
    }, signal);
    listen(this.slider, "input", () => {
      this.dragging = true;
      this.drawTime(Number(this.slider.value));
    }, signal);
    listen(this.slider, "change", () => {
      this.dragging = false;
      this.send({ kind: "replay", action: "seek", value: Number(this.slider.value) });
    }, signal);
  }

  /** @returns {boolean} */
  playing() {
    return Boolean(replayState(this.model.get("replay"))?.playing);
  }

  /**
   * Redraw from the `replay` trait; the root is marked as replaying (or not).
   * @param {HTMLElement} root
   */
  draw(root) {
    const state = replayState(this.model.get("replay"));
    this.el.hidden = state === null;
    root.classList.toggle("rtwidget-replaying", state !== null);
    if (state === null) return;
    if (state.epoch !== this.epoch) {
      this.epoch = state.epoch;
      this.resync(); // the kernel started over on a fresh session: this view's panels follow it
    }
    setText(this.play, state.playing ? "Pause" : "Play");
    this.play.title = state.playing ? "Pause the replay" : "Play the replay from here";
    this.speed.value = state.speed === "instant" ? "instant" : String(state.speed);
    this.slider.max = String(state.duration);
    if (!this.dragging) {
      this.slider.value = String(state.position);
      this.drawTime(state.position);
    }
    setText(this.name, state.name);
    this.name.title = `Replaying the cassette ${state.name}: no connection, nothing is sent`;
  }

  /** @param {number} position */
  drawTime(position) {
    const state = replayState(this.model.get("replay"));
    setText(this.time, `${formatClock(position)} / ${formatClock(state ? state.duration : 0)}`);
  }
}
