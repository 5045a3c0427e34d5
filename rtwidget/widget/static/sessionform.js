// The Session panel's form: the effective config (the `session_config` trait, i.e. the last
// session.updated) as the fields people change. A change goes to the kernel as one `config`
// message ({kind: "config", session: {friendly name: value}}, docs/widget-contract.md), applied
// with session.update; the form shows the new value once session.updated brings it back.
import { h, hRt, listen, option, setText } from "./dom.js";

/** Turn detection choices: (turn_mode value, label). "push_to_talk" is turn_detection null on the wire. */
const FORM_TURN_TYPES = [
  ["server_vad", "server VAD"],
  ["semantic_vad", "semantic VAD"],
  ["push_to_talk", "none (push-to-talk)"],
];
/** server_vad number fields: (GA key, data-rt, label, step). */
const FORM_VAD_NUMBERS = [
  ["threshold", "form-threshold", "threshold (0\u20131)", "0.05"],
  ["prefix_padding_ms", "form-prefix-padding", "prefix padding (ms)", "50"],
  ["silence_duration_ms", "form-silence-duration", "silence duration (ms)", "50"],
];
/** Booleans of both VAD types: (GA key, data-rt, label). */
const FORM_VAD_BOOLS = [
  ["create_response", "form-create-response", "reply when I stop"],
  ["interrupt_response", "form-interrupt-response", "my speech interrupts"],
];
/** How long a sent change may take to come back in session.updated before the form shows the config again. */
const FORM_REVERT_MS = 3000;
/** Output modalities: (value, label). */
const FORM_MODALITIES = [
  ["audio", "speech"],
  ["text", "text only"],
];

/**
 * @typedef {object} FormTraits what the form reads from the model
 * @property {Record<string, any>} config the effective session config (GA shape)
 * @property {string[]} voices
 * @property {string} voice the voice trait (used before any session.updated)
 * @property {boolean} voiceLocked
 * @property {string} turnMode the turn_mode trait (used before any session.updated)
 * @property {{transcription_models?: string[], eagerness?: string[]}} choices the form_choices trait
 */

/**
 * One labelled field of the form.
 * @param {string} label
 * @param {HTMLElement} control
 * @param {string} [cls]
 * @returns {HTMLElement}
 */
function formField(label, control, cls = "") {
  const f = h("label", `rtwidget-form-field ${cls}`.trim());
  f.append(h("span", "rtwidget-form-label", label), control);
  return f;
}

/**
 * Fill a select with options once their list changed, keeping `value` selectable.
 * @param {HTMLSelectElement} select
 * @param {string[][]} pairs (value, label)
 * @param {string} value
 */
function formOptions(select, pairs, value) {
  const all = value && !pairs.some(([v]) => v === value) ? [[value, value], ...pairs] : pairs;
  const key = JSON.stringify(all);
  if (select.dataset.options !== key) {
    select.replaceChildren(...all.map(([v, label]) => option(v, label)));
    select.dataset.options = key;
  }
  select.value = value;
}

/**
 * The turn detection object of the config, or null (push-to-talk), or undefined (not known yet).
 * @param {Record<string, any>} config
 * @returns {Record<string, any> | null | undefined}
 */
export function configTurnDetection(config) {
  const input = config?.audio?.input;
  if (!input || !("turn_detection" in input)) return undefined;
  return input.turn_detection ?? null;
}

/**
 * Whether the config transcribes the user's speech.
 * @param {Record<string, any>} config
 * @returns {boolean}
 */
export function transcribing(config) {
  return !!config?.audio?.input?.transcription;
}

export class SessionForm {
  /**
   * @param {(message: object) => void} send a message to the kernel
   * @param {AbortSignal} signal the view's lifetime
   */
  constructor(send, signal) {
    this.send = send;
    this.el = hRt("div", "session-form", "rtwidget-form");
    this.turnType = hRt("select", "form-turn-type", "rtwidget-select");
    formOptions(this.turnType, FORM_TURN_TYPES, "server_vad");
    this.turnType.title =
      "server VAD: a turn ends after a set silence; semantic VAD: when the words sound finished; none: hold to talk";
    /** @type {Record<string, HTMLInputElement>} */
    this.numbers = {};
    /** @type {Record<string, HTMLInputElement>} */
    this.bools = {};
    const turn = h("div", "rtwidget-form-grid");
    turn.append(formField("turn detection", this.turnType));
    for (const [key, rt, label, step] of FORM_VAD_NUMBERS) {
      const input = hRt("input", rt, "rtwidget-input rtwidget-form-number");
      input.type = "number";
      input.step = step;
      input.min = "0";
      this.numbers[key] = input;
      turn.append(formField(label, input, "rtwidget-form-server"));
    }
    this.eagerness = hRt("select", "form-eagerness", "rtwidget-select");
    turn.append(formField("eagerness", this.eagerness, "rtwidget-form-semantic"));
    for (const [key, rt, label] of FORM_VAD_BOOLS) {
      const input = hRt("input", rt, "rtwidget-form-check");
      input.type = "checkbox";
      this.bools[key] = input;
      turn.append(formField(label, input, "rtwidget-form-vad rtwidget-form-inline"));
    }
    this.transcribe = hRt("input", "form-transcription", "rtwidget-form-check");
    this.transcribe.type = "checkbox";
    this.transcriptionModel = hRt("select", "form-transcription-model", "rtwidget-select");
    this.voice = hRt("select", "form-voice", "rtwidget-select");
    this.modalities = hRt("select", "form-modalities", "rtwidget-select");
    this.modalities.title = "speech: the model speaks (with a transcript); text only: it writes";
    const other = h("div", "rtwidget-form-grid");
    other.append(
      formField("transcribe my speech", this.transcribe, "rtwidget-form-inline"),
      formField("transcription model", this.transcriptionModel, "rtwidget-form-wide"),
      formField("voice", this.voice),
      formField("output", this.modalities),
    );
    this.turnGrid = turn;
    this.instructions = hRt("textarea", "instructions", "rtwidget-input rtwidget-form-instructions");
    this.apply = hRt("button", "instructions-apply", "rtwidget-btn", "Apply");
    this.instructionsState = hRt("span", "instructions-state", "rtwidget-form-state");
    this.el.append(turn, other, this.instructionsBlock());
    /** Instructions sent and not yet seen in a session.updated (null: none pending). @type {string | null} */
    this.pendingInstructions = null;
    /** The instructions of the effective config. @type {string | undefined} */
    this.confirmedInstructions = undefined;
    this.instructionsEdited = false;
    this.configKey = "";
    /** The traits last drawn (a refused change reverts to them). @type {FormTraits | null} */
    this.traits = null;
    this.revertTimer = 0;
    this.bind(signal);
    signal.addEventListener("abort", () => clearTimeout(this.revertTimer), { once: true });
  }

  /** @returns {HTMLElement} */
  instructionsBlock() {
    this.instructions.rows = 3;
    this.instructions.placeholder = "System instructions for the model (Apply, or Ctrl+Enter)";
    this.apply.type = "button";
    this.instructionsState.setAttribute("aria-live", "polite");
    const row = h("div", "rtwidget-form-apply");
    row.append(this.apply, this.instructionsState);
    const block = h("div", "rtwidget-form-block");
    block.append(h("span", "rtwidget-form-label", "instructions"), this.instructions, row);
    return block;
  }

  /** @param {AbortSignal} signal */
  bind(signal) {
    const on = (/** @type {EventTarget} */ el, /** @type {string} */ type, /** @type {(e: any) => void} */ fn) =>
      listen(el, type, fn, signal);
    on(this.turnType, "change", () => {
      const type = this.turnType.value;
      this.showTurnFields(type);
      this.sendConfig({ turn_detection: type === "push_to_talk" ? null : { type } });
    });
    for (const input of [...Object.values(this.numbers), ...Object.values(this.bools), this.eagerness]) {
      on(input, "change", () => this.sendConfig({ turn_detection: this.turnDetection() }));
    }
    on(this.transcribe, "change", () => this.sendTranscription());
    on(this.transcriptionModel, "change", () => {
      if (this.transcribe.checked) this.sendTranscription();
    });
    on(this.voice, "change", () => this.sendConfig({ voice: this.voice.value }));
    on(this.modalities, "change", () => this.sendConfig({ output_modalities: [this.modalities.value] }));
    on(this.instructions, "input", () => {
      this.instructionsEdited = true;
      this.pendingInstructions = null;
      setText(this.instructionsState, "not applied yet");
      this.instructionsState.className = "rtwidget-form-state";
    });
    on(this.apply, "click", () => this.applyInstructions());
    on(this.instructions, "keydown", (/** @type {KeyboardEvent} */ e) => {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        this.applyInstructions();
      }
    });
  }

  /** @param {Record<string, unknown>} session friendly session fields */
  sendConfig(session) {
    this.send({ kind: "config", session });
    // What the kernel or the server refuses (an error notice says why) never comes back in a session.updated:
    // the fields then show the effective config again, rather than a value that is not in effect.
    clearTimeout(this.revertTimer);
    this.revertTimer = Number(setTimeout(() => this.revert(), FORM_REVERT_MS));
  }

  /** Show the effective config again in every field but the instructions (their text is the user's). */
  revert() {
    this.configKey = "";
    if (this.traits) this.draw(this.traits);
  }

  sendTranscription() {
    this.sendConfig({ transcription: this.transcribe.checked ? { model: this.transcriptionModel.value } : null });
  }

  /** The turn detection object the form's fields describe (the VAD type's fields only). */
  turnDetection() {
    const type = this.turnType.value;
    if (type === "push_to_talk") return null;
    /** @type {Record<string, unknown>} */
    const td = { type };
    if (type === "server_vad") {
      for (const [key, input] of Object.entries(this.numbers)) td[key] = input.value === "" ? null : Number(input.value);
    } else td.eagerness = this.eagerness.value;
    for (const [key, input] of Object.entries(this.bools)) td[key] = input.checked;
    return td;
  }

  applyInstructions() {
    const text = this.instructions.value;
    this.instructionsEdited = false;
    if (text === this.confirmedInstructions) {
      this.pendingInstructions = null;
      this.showApplied();
      return;
    }
    this.pendingInstructions = text;
    setText(this.instructionsState, "applying\u2026");
    this.instructionsState.className = "rtwidget-form-state";
    this.sendConfig({ instructions: text });
  }

  showApplied() {
    setText(this.instructionsState, "\u2713 applied");
    this.instructionsState.className = "rtwidget-form-state rtwidget-form-applied";
  }

  /** @param {string} type a turn_mode value */
  showTurnFields(type) {
    this.turnGrid.dataset.turn = type;
    for (const f of /** @type {HTMLElement[]} */ (Array.from(this.turnGrid.children))) {
      const cls = f.className;
      f.hidden =
        (cls.includes("rtwidget-form-server") && type !== "server_vad") ||
        (cls.includes("rtwidget-form-semantic") && type !== "semantic_vad") ||
        (cls.includes("rtwidget-form-vad") && type === "push_to_talk");
    }
  }

  /**
   * Show the traits' values; a field the user is editing keeps its text.
   * @param {FormTraits} t
   */
  draw(t) {
    this.traits = t;
    const { config } = t;
    const key = JSON.stringify([config, t.voices, t.voice, t.voiceLocked, t.turnMode, t.choices]);
    if (key === this.configKey) return;
    this.configKey = key;
    const td = configTurnDetection(config);
    const type = td === undefined ? t.turnMode || "server_vad" : td ? String(td.type) : "push_to_talk";
    formOptions(this.turnType, FORM_TURN_TYPES, type);
    this.showTurnFields(type);
    for (const [k, input] of Object.entries(this.numbers)) {
      // A number being typed stays (a session.updated for another change, e.g. the tools, may come meanwhile).
      if (input !== document.activeElement) input.value = td && td[k] != null ? String(td[k]) : "";
    }
    const eager = (t.choices.eagerness ?? []).map((e) => [e, e]);
    formOptions(this.eagerness, eager, td?.eagerness ?? eager[0]?.[0] ?? "");
    for (const [k, input] of Object.entries(this.bools)) input.checked = td ? td[k] !== false : true;
    const tr = config?.audio?.input?.transcription;
    const models = (t.choices.transcription_models ?? []).map((m) => [m, m]);
    this.transcribe.checked = !!tr;
    formOptions(this.transcriptionModel, models, tr?.model ?? models[0]?.[0] ?? "");
    const voice = String(config?.audio?.output?.voice ?? t.voice ?? "");
    formOptions(this.voice, (t.voices ?? []).map((v) => [v, v]), voice);
    this.voice.disabled = t.voiceLocked;
    this.voice.title = t.voiceLocked ? "The voice cannot change after the model has spoken in this session." : "";
    const modality = (config?.output_modalities ?? ["audio"]).includes("audio") ? "audio" : "text";
    formOptions(this.modalities, FORM_MODALITIES, modality);
    this.drawInstructions(config);
  }

  /** @param {Record<string, any>} config */
  drawInstructions(config) {
    this.confirmedInstructions = typeof config?.instructions === "string" ? config.instructions : undefined;
    const confirmed = this.confirmedInstructions ?? "";
    if (this.pendingInstructions !== null && confirmed === this.pendingInstructions) {
      this.pendingInstructions = null;
      this.showApplied();
    }
    // Text the user typed (and did not apply) stays, connected or not.
    if (!this.instructionsEdited && this.pendingInstructions === null && this.instructions.value !== confirmed) {
      this.instructions.value = confirmed;
    }
  }
}
