// The control bars of one view: connection and status, microphone, mute, turn mode, push-to-talk,
// interrupt, echo cancellation, voice, the text box and the instructions. Built, drawn from the
// traits and the model state, and wired to them; every listener lives until the view's signal aborts.
import { h, hRt, isTyping, listen, onAbort, option, setText } from "./dom.js";
import { formatClock, levelToFraction } from "./format.js";
import { PUSH_TO_TALK } from "./model.js";

/** Labels of the turn modes this front end knows; the choices come from the `turn_modes` trait. */
const TURN_MODE_LABELS = /** @type {Record<string, string>} */ ({
  server_vad: "server VAD",
  semantic_vad: "semantic VAD",
  [PUSH_TO_TALK]: "push-to-talk",
});

/**
 * The turn modes to offer: the `turn_modes` trait, or (an older kernel without it) the known ones.
 * @param {import("./model.js").AnyModel} model
 * @returns {string[]}
 */
export function turnModes(model) {
  const modes = model.get("turn_modes");
  return Array.isArray(modes) && modes.length ? modes.map(String) : Object.keys(TURN_MODE_LABELS);
}

/**
 * @param {string} mode
 * @returns {string}
 */
export function turnModeLabel(mode) {
  return TURN_MODE_LABELS[mode] ?? mode;
}

/** Statuses during which the session holds (or is getting) a connection: Connect is off, Disconnect on. */
const LIVE_STATUSES = new Set(["connecting", "connected", "reconnecting"]);

/**
 * The status line: "connected · local server (local) · model · ga · connected 1:05 · 29:55 left — message".
 * A message that begins with the status word says more than it ("reconnecting (attempt 2, in 1.5 s): why",
 * "closed (code 1000)"): it leads the line in the status word's place.
 * @param {import("./model.js").AnyModel} model
 * @param {number} now Unix seconds
 * @returns {{status: string, text: string, message: string}}
 */
export function statusLine(model, now) {
  const status = String(model.get("status") ?? "idle");
  const message = String(model.get("status_message") || "");
  const leads = message !== "" && message.startsWith(status);
  const ep = model.get("endpoint") ?? {};
  const parts = [leads ? message : status];
  const where = ep.label || ep.kind;
  if (where) parts.push(ep.kind && ep.label && ep.label !== ep.kind ? `${ep.label} (${ep.kind})` : where);
  if (ep.model) parts.push(ep.model);
  if (ep.dialect) parts.push(ep.dialect);
  const connectedAt = Number(model.get("connected_at")) || 0;
  const expiresAt = Number(model.get("expires_at")) || 0;
  if (status === "connected" && connectedAt > 0) parts.push(`connected ${formatClock(now - connectedAt)}`);
  if (status === "connected" && expiresAt > 0) parts.push(`${formatClock(expiresAt - now)} left`);
  const tail = message && !leads ? ` \u2014 ${message}` : "";
  return { status, text: parts.join(" \u00b7 ") + tail, message };
}

/**
 * Which connection buttons work in a status: Connect when there is no connection, Disconnect while there is
 * one (or one is being made or remade); neither while closing.
 * @param {string} status
 * @returns {{connect: boolean, disconnect: boolean}}
 */
export function connectionButtons(status) {
  const live = LIVE_STATUSES.has(status);
  return { connect: !live && status !== "closing", disconnect: live };
}

/**
 * Make a select hold exactly these options (rebuilt only when they differ).
 * @param {HTMLSelectElement} select
 * @param {string[]} values
 * @param {(value: string) => string} label
 */
function setOptions(select, values, label) {
  if ([...select.options].map((o) => o.value).join("\n") === values.join("\n")) return;
  select.textContent = "";
  for (const v of values) select.appendChild(option(v, label(v)));
}

/**
 * @param {string} rt
 * @param {string} label
 * @param {string} [title]
 * @returns {HTMLButtonElement}
 */
function button(rt, label, title) {
  const b = hRt("button", rt, "rtwidget-btn", label);
  if (title) b.title = title;
  return b;
}

/**
 * A level meter: the outer span (`data-rt`) and the bar scaled inside it.
 * @param {string} rt
 * @param {string} title
 * @returns {[HTMLElement, HTMLElement]}
 */
function meter(rt, title) {
  const outer = hRt("span", rt, "rtwidget-meter");
  outer.title = title;
  const bar = h("span");
  outer.appendChild(bar);
  return [outer, bar];
}

/**
 * A checkbox or select with its label text.
 * @param {string} title
 * @param {...(Node | string)} parts
 * @returns {HTMLLabelElement}
 */
function labelled(title, ...parts) {
  const label = h("label", "rtwidget-check");
  if (title) label.title = title;
  label.append(...parts);
  return label;
}

/** The controls of one view. */
export class Controls {
  /** @param {import("./model.js").ModelState} state */
  constructor(state) {
    this.state = state;
    this.model = state.model;
    this.connect = button("connect", "Connect");
    this.disconnect = button("disconnect", "Disconnect");
    this.dot = h("span", "rtwidget-dot");
    this.status = hRt("span", "status", "rtwidget-status");
    this.mic = button("mic", "Mic off");
    const [micMeter, micBar] = meter("mic-meter", "input level");
    this.micMeter = micMeter;
    this.micBar = micBar;
    this.mute = button("mute", "Mute");
    const [outMeter, outBar] = meter("out-meter", "output level");
    this.outMeter = outMeter;
    this.outBar = outBar;
    this.turnMode = hRt("select", "turn-mode", "rtwidget-select");
    this.turnMode.title = "turn detection";
    this.ptt = button("ptt", "Hold to talk", "hold (or hold the space bar)");
    this.ptt.classList.add("rtwidget-ptt");
    this.interrupt = button("interrupt", "Interrupt", "stop the reply");
    this.echo = hRt("input", "echo");
    this.echo.type = "checkbox";
    this.voice = hRt("select", "voice", "rtwidget-select");
    this.text = hRt("input", "text", "rtwidget-input rtwidget-grow");
    this.text.placeholder = "Type a message, Enter to send";
    this.text.spellcheck = false;
    this.send = button("send", "Send");
    this.instructions = hRt("textarea", "instructions", "rtwidget-input");
    this.instructions.rows = 3;
    this.instructions.placeholder = "System instructions (applied on blur or Ctrl+Enter)";
    for (const b of [this.mic, this.mute]) b.setAttribute("aria-pressed", "false");
    this.spaceHeld = false;
  }

  /** @returns {HTMLElement[]} the bars, top to bottom */
  bars() {
    const connection = h("div", "rtwidget-bar");
    connection.append(this.connect, this.disconnect, this.dot, this.status);
    const audio = h("div", "rtwidget-bar");
    const echo = "echo cancellation, noise suppression, auto gain (next mic start)";
    audio.append(
      this.mic,
      this.micMeter,
      this.mute,
      this.outMeter,
      this.turnMode,
      this.ptt,
      this.interrupt,
      labelled(echo, this.echo, " echo cancel"),
      labelled("", "voice ", this.voice),
    );
    const send = h("div", "rtwidget-bar rtwidget-send");
    send.append(this.text, this.send);
    const instructions = h("details", "rtwidget-instr");
    instructions.append(h("summary", "", "Instructions"), this.instructions);
    return [connection, audio, send, instructions];
  }

  drawStatus() {
    const { status, text, message } = statusLine(this.model, Date.now() / 1000);
    setText(this.status, text);
    this.status.title = message;
    this.dot.className = `rtwidget-dot rtwidget-dot-${status}`;
    const buttons = connectionButtons(status);
    this.connect.disabled = !buttons.connect;
    this.disconnect.disabled = !buttons.disconnect;
  }

  drawControls() {
    this.drawMic();
    this.drawTurnMode();
    this.drawVoice();
    this.echo.checked = this.model.get("echo_cancellation") !== false;
    if (document.activeElement !== this.instructions) {
      const value = String(this.model.get("instructions") ?? "");
      if (this.instructions.value !== value) this.instructions.value = value;
    }
  }

  drawMic() {
    const micState = this.state.capture.state;
    this.mic.textContent = micState === "on" ? "Mic on" : micState === "starting" ? "Mic\u2026" : "Mic off";
    this.mic.setAttribute("aria-pressed", String(micState !== "off"));
    this.mic.classList.toggle("rtwidget-on", micState === "on");
    const muted = !!this.model.get("muted");
    this.mute.textContent = muted ? "Muted" : "Mute";
    this.mute.setAttribute("aria-pressed", String(muted));
    this.mute.classList.toggle("rtwidget-on", muted);
    const held = this.state.capture.sender.held;
    this.ptt.classList.toggle("rtwidget-on", held);
    this.ptt.setAttribute("aria-pressed", String(held));
  }

  drawTurnMode() {
    const mode = String(this.model.get("turn_mode") ?? "server_vad");
    const modes = turnModes(this.model);
    setOptions(this.turnMode, modes.includes(mode) ? modes : [...modes, mode], turnModeLabel);
    if (this.turnMode.value !== mode) this.turnMode.value = mode;
    this.ptt.disabled = mode !== PUSH_TO_TALK;
  }

  drawVoice() {
    const voices = /** @type {string[]} */ (this.model.get("voices") ?? []);
    const current = String(this.model.get("voice") ?? "");
    setOptions(this.voice, voices.includes(current) || !current ? voices : [current, ...voices], (v) => v);
    this.voice.value = current;
    this.voice.disabled = !!this.model.get("voice_locked");
    this.voice.title = this.voice.disabled ? "the voice cannot change after the assistant has spoken" : "voice";
  }

  drawLevels() {
    const stats = this.state.stats;
    this.micBar.style.transform = `scaleX(${levelToFraction(this.state.capture.state === "on" ? stats.micLevel : 0)})`;
    this.outBar.style.transform = `scaleX(${levelToFraction(stats.outLevel)})`;
  }

  /**
   * @param {string} name
   * @param {any} value
   */
  setTrait(name, value) {
    this.model.set(name, value);
    this.model.save_changes();
  }

  sendText() {
    const value = this.text.value.trim();
    if (!value) return;
    this.state.send({ kind: "text", text: value });
    this.text.value = "";
  }

  applyInstructions() {
    const value = this.instructions.value;
    if (value !== String(this.model.get("instructions") ?? "")) this.setTrait("instructions", value);
  }

  /** Push-to-talk pressed (button or space bar). */
  pressTalk() {
    this.state.resumeAudio();
    this.state.capture.pressTalk();
  }

  releaseSpace() {
    if (!this.spaceHeld) return;
    this.spaceHeld = false;
    this.state.capture.releaseTalk();
  }

  /**
   * Wire the controls (and the view's keyboard shortcuts on `root`) until `signal` aborts.
   * @param {HTMLElement} root
   * @param {AbortSignal} signal
   */
  bind(root, signal) {
    const { state } = this;
    const on = (/** @type {EventTarget} */ t, /** @type {string} */ type, /** @type {(e: any) => void} */ fn) =>
      listen(t, type, fn, signal);
    on(this.connect, "click", () => state.send({ kind: "connect" }));
    on(this.disconnect, "click", () => state.send({ kind: "disconnect" }));
    on(this.mic, "click", () => (state.capture.state === "off" ? state.capture.start() : state.capture.stop()));
    on(this.mute, "click", () => this.setTrait("muted", !this.model.get("muted")));
    on(this.turnMode, "change", () => this.setTrait("turn_mode", this.turnMode.value));
    on(this.echo, "change", () => this.setTrait("echo_cancellation", this.echo.checked));
    on(this.voice, "change", () => this.setTrait("voice", this.voice.value));
    on(this.interrupt, "click", () => {
      state.send({ kind: "interrupt" });
      state.playback.flush(false); // silence now; the kernel's flush brings the final report
    });
    on(this.send, "click", () => this.sendText());
    on(this.text, "keydown", (/** @type {KeyboardEvent} */ e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        this.sendText();
      }
    });
    on(this.instructions, "blur", () => this.applyInstructions());
    on(this.instructions, "keydown", (/** @type {KeyboardEvent} */ e) => {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        this.applyInstructions();
      }
    });
    this.bindTalkButton(signal);
    this.bindSpaceBar(root, signal);
    onAbort(signal, () => this.releaseSpace());
  }

  /** @param {AbortSignal} signal */
  bindTalkButton(signal) {
    const ptt = this.ptt;
    const release = () => this.state.capture.releaseTalk();
    listen(
      ptt,
      "pointerdown",
      (/** @type {PointerEvent} */ e) => {
        if (ptt.disabled) return;
        e.preventDefault();
        try {
          ptt.setPointerCapture(e.pointerId);
        } catch {
          // synthetic events have no capturable pointer
        }
        this.pressTalk();
      },
      signal,
    );
    for (const type of ["pointerup", "pointercancel", "lostpointercapture"]) listen(ptt, type, release, signal);
    listen(ptt, "contextmenu", (/** @type {Event} */ e) => e.preventDefault(), signal); // long touch
  }

  /**
   * The space bar is push-to-talk while the view has focus (and no text field does).
   * @param {HTMLElement} root
   * @param {AbortSignal} signal
   */
  bindSpaceBar(root, signal) {
    const keydown = (/** @type {KeyboardEvent} */ e) => {
      if (isTyping(e.target)) {
        e.stopPropagation(); // typing here must not trigger notebook shortcuts
        return;
      }
      if (e.code !== "Space" || this.model.get("turn_mode") !== PUSH_TO_TALK) return;
      e.preventDefault();
      e.stopPropagation();
      if (!e.repeat && !this.spaceHeld) {
        this.spaceHeld = true;
        this.pressTalk();
      }
    };
    const keyup = (/** @type {KeyboardEvent} */ e) => {
      if (e.code !== "Space" || !this.spaceHeld) return;
      e.preventDefault();
      e.stopPropagation();
      this.releaseSpace();
    };
    listen(root, "keydown", keydown, signal);
    listen(root, "keyup", keyup, signal);
    listen(
      root,
      "focusout",
      (/** @type {FocusEvent} */ e) => {
        if (!root.contains(/** @type {Node | null} */ (e.relatedTarget))) this.releaseSpace();
      },
      signal,
    );
  }
}
