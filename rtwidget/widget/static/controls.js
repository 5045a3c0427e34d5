// The control bars of one view: connection, status and the session actions (clear, new session); the
// primary control ("Start talking" / "Stop"), the labelled level meters, mute, turn mode, push-to-talk,
// interrupt, voice and echo cancellation; the text box. Built, drawn from the traits and the model state,
// and wired to them; every listener lives until the view's signal aborts. (The instructions are in the
// Session panel's form.)
import { h, hRt, isTyping, listen, onAbort, option, setText } from "./dom.js";
import { levelToFraction } from "./format.js";
import { DOWNLOADS, recordingLabel } from "./media.js";
import { PUSH_TO_TALK } from "./model.js";
import { LIVE_STATUSES, connectionButtons, primaryAction, statusLine } from "./statusline.js";

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
 * A level meter with its visible label: the group, the outer span (`data-rt`) and the bar scaled inside it.
 * @param {string} rt
 * @param {string} label
 * @param {string} title
 * @returns {[HTMLElement, HTMLElement, HTMLElement]}
 */
function meter(rt, label, title) {
  const group = h("span", "rtwidget-level");
  group.title = title;
  const outer = hRt("span", rt, "rtwidget-meter");
  outer.setAttribute("role", "meter");
  outer.setAttribute("aria-label", title);
  const bar = h("span");
  outer.appendChild(bar);
  group.append(h("span", "rtwidget-level-label", label), outer);
  return [group, outer, bar];
}

/** A meter's bar moves in steps of 1/METER_STEPS of its width (60 px: 2 px): a smaller change is not drawn. */
const METER_STEPS = 30;

/**
 * Scale a meter's bar to `fraction` (0..1), rounded to a visible step; the page restyles it only when that changes
 * (the levels arrive ~20 times a second during duplex speech, and each restyle costs the page a frame).
 * @param {HTMLElement} bar
 * @param {number} fraction
 */
function drawMeter(bar, fraction) {
  const transform = `scaleX(${Math.round(fraction * METER_STEPS) / METER_STEPS})`;
  if (bar.style.transform !== transform) bar.style.transform = transform;
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
    this.clear = button("clear", "Clear conversation", "Delete every item of the conversation on the server");
    this.newSession = button("new-session", "New session", "Close this connection and start a fresh server session");
    this.dot = h("span", "rtwidget-dot");
    this.status = hRt("span", "status", "rtwidget-status");
    this.mic = button("mic", "Start talking");
    this.mic.classList.add("rtwidget-primary");
    const [micLevel, micMeter, micBar] = meter("mic-meter", "you", "Your microphone's level");
    this.micLevel = micLevel;
    this.micMeter = micMeter;
    this.micBar = micBar;
    this.mute = button("mute", "Mute", "Silence the model's voice here (it keeps talking)");
    const [outLevel, outMeter, outBar] = meter("out-meter", "model", "The model's voice level");
    this.outLevel = outLevel;
    this.outMeter = outMeter;
    this.outBar = outBar;
    this.turnMode = hRt("select", "turn-mode", "rtwidget-select");
    this.ptt = button("ptt", "Hold to talk", "Hold (or hold the space bar) while you speak");
    this.ptt.classList.add("rtwidget-ptt");
    this.interrupt = button("interrupt", "Interrupt", "Stop the model's reply now");
    this.echo = hRt("input", "echo");
    this.echo.type = "checkbox";
    this.voice = hRt("select", "voice", "rtwidget-select");
    this.text = hRt("input", "text", "rtwidget-input rtwidget-grow");
    this.text.placeholder = "Type a message, Enter to send";
    this.text.spellcheck = false;
    this.send = button("send", "Send");
    this.record = button("record", "Record");
    this.record.dataset.testid = "record";
    this.record.setAttribute("aria-pressed", "false");
    /** The download buttons by what they download (media.js DOWNLOADS). @type {[string, HTMLButtonElement][]} */
    this.downloads = DOWNLOADS.map(([what, label, title]) => {
      const b = button(`download-${what}`, label, title);
      b.dataset.testid = `download-${what}`;
      return /** @type {[string, HTMLButtonElement]} */ ([what, b]);
    });
    this.mute.setAttribute("aria-pressed", "false");
    this.spaceHeld = false;
    /** Text sent while not connected: kept in the box until the session connects (then it has gone out). */
    this.heldText = "";
  }

  /** @returns {HTMLElement[]} the bars, top to bottom */
  bars() {
    const connection = h("div", "rtwidget-bar");
    const session = h("span", "rtwidget-bar-group");
    session.append(this.connect, this.disconnect, this.clear, this.newSession);
    const status = h("span", "rtwidget-bar-group rtwidget-status-group");
    status.append(this.dot, this.status);
    const media = h("span", "rtwidget-bar-group rtwidget-media-group");
    media.append(this.record, h("span", "rtwidget-media-label", "Download:"), ...this.downloads.map(([, b]) => b));
    connection.append(session, media, status);
    const talk = h("div", "rtwidget-bar rtwidget-talk");
    const levels = h("span", "rtwidget-bar-group");
    levels.append(this.micLevel, this.outLevel, this.mute);
    const turns = h("span", "rtwidget-bar-group");
    turns.append(labelled("How the model knows you finished speaking", "Turns ", this.turnMode), this.ptt, this.interrupt);
    const settings = h("span", "rtwidget-bar-group");
    const echo =
      "Let the browser remove the model's voice (and noise) from your microphone, so the model does not hear " +
      "itself through your speakers. Takes effect the next time the microphone starts.";
    settings.append(labelled("The model's voice", "Voice ", this.voice), labelled(echo, this.echo, "Echo cancellation"));
    talk.append(this.mic, levels, turns, settings);
    const send = h("div", "rtwidget-bar rtwidget-send");
    send.append(this.text, this.send);
    return [connection, talk, send];
  }

  drawStatus() {
    const { status, text, title } = statusLine(this.model, Date.now() / 1000);
    setText(this.status, text);
    this.status.title = title;
    this.dot.className = `rtwidget-dot rtwidget-dot-${status}`;
    const buttons = connectionButtons(status);
    this.connect.disabled = !buttons.connect;
    this.disconnect.disabled = !buttons.disconnect;
    this.clear.disabled = status !== "connected";
    this.clear.title = this.clear.disabled
      ? "Connect first: the conversation lives on the server"
      : "Delete every item of the conversation on the server";
    this.newSession.disabled = status === "closing" || status === "connecting";
    this.drawHeldText(status);
    this.drawMic();
    this.drawRecording();
  }

  /** The Record button from the `recording` trait (a recording started from a cell shows too). */
  drawRecording() {
    const { on, label, title } = recordingLabel(this.model.get("recording"), Date.now() / 1000);
    setText(this.record, label); // recording: a red dot before it (media.css)
    this.record.title = title;
    this.record.classList.toggle("rtwidget-recording", on);
    this.record.setAttribute("aria-pressed", String(on));
  }

  /**
   * Text sent while not connected stays in the box; once the session is connected it has gone out (the kernel
   * sends it as soon as the session opens), so the box empties, unless the person typed something else since.
   * A failed connect leaves it there (a notice says why).
   * @param {string} status
   */
  drawHeldText(status) {
    if (!this.heldText) return;
    if (status === "connected") {
      if (this.text.value.trim() === this.heldText) this.text.value = "";
      this.heldText = "";
    } else if (status === "error") {
      this.heldText = ""; // could not connect: the text stays for another try
    }
  }

  drawControls() {
    this.drawMic();
    this.drawTurnMode();
    this.drawVoice();
    this.echo.checked = this.model.get("echo_cancellation") !== false;
  }

  drawMic() {
    const micState = this.state.capture.state;
    const action = primaryAction(micState, String(this.model.get("status") ?? "idle"));
    setText(this.mic, action.label);
    this.mic.title = action.title;
    this.mic.classList.toggle("rtwidget-primary-stop", action.stop);
    const muted = !!this.model.get("muted");
    setText(this.mute, muted ? "Muted" : "Mute");
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
    // A greyed button says why, and how to use it.
    this.ptt.title = this.ptt.disabled
      ? "works in push-to-talk mode: choose it under Turns"
      : "hold (or hold the space bar)";
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
    drawMeter(this.micBar, levelToFraction(this.state.capture.state === "on" ? stats.micLevel : 0));
    drawMeter(this.outBar, levelToFraction(stats.outLevel));
  }

  /**
   * @param {string} name
   * @param {any} value
   */
  setTrait(name, value) {
    this.model.set(name, value);
    this.model.save_changes();
  }

  /** Send the box's text. Not connected: the kernel connects first and sends it once open; the text stays in
   * the box until then (see drawHeldText). */
  sendText() {
    const value = this.text.value.trim();
    if (!value) return;
    this.state.send({ kind: "text", text: value });
    const status = String(this.model.get("status") ?? "idle");
    if (status === "connected" || status === "reconnecting") this.text.value = "";
    else this.heldText = value;
  }

  /** The primary control: start the microphone (connecting first when there is no connection), or stop it. */
  toggleTalking() {
    const { state } = this;
    if (state.capture.state !== "off") {
      state.capture.stop();
      return;
    }
    const status = String(this.model.get("status") ?? "idle");
    if (status === "closing") {
      state.notice("info", "The session is closing: press Start talking again once it has closed.");
      return;
    }
    if (!LIVE_STATUSES.has(status)) state.send({ kind: "connect" });
    state.capture.start(); // now, inside the click: browsers grant the microphone to a gesture
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
    on(this.clear, "click", () => state.send({ kind: "clear" }));
    on(this.newSession, "click", () => state.send({ kind: "new_session" }));
    on(this.mic, "click", () => this.toggleTalking());
    on(this.mute, "click", () => this.setTrait("muted", !this.model.get("muted")));
    on(this.turnMode, "change", () => this.setTrait("turn_mode", this.turnMode.value));
    on(this.echo, "change", () => this.setTrait("echo_cancellation", this.echo.checked));
    on(this.voice, "change", () => this.setTrait("voice", this.voice.value));
    on(this.interrupt, "click", () => {
      state.send({ kind: "interrupt" });
      state.playback.flush(false); // silence now; the kernel's flush brings the final report
    });
    on(this.send, "click", () => this.sendText());
    on(this.record, "click", () => state.send({ kind: "record", on: !this.model.get("recording")?.on }));
    for (const [what, b] of this.downloads) on(b, "click", () => state.send({ kind: "download", what }));
    on(this.text, "keydown", (/** @type {KeyboardEvent} */ e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        this.sendText();
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
