// Web Audio plumbing shared by the microphone (mic.js) and playback (playback.js) controllers.

/**
 * @typedef {object} AudioOwner what the audio controllers need of their model's state (model.js)
 * @property {import("./model.js").AnyModel} model
 * @property {import("./debug.js").Stats} stats
 * @property {(content: object, buffers?: (ArrayBuffer | ArrayBufferView)[]) => void} send
 * @property {(what: string) => void} emit
 * @property {(level: string, text: string) => void} notice
 * @property {() => boolean} heard whether a view could hear audio now (false once every view went)
 */

/** How long to wait for a worklet to answer a flush before answering without it (ms). */
export const FLUSH_TIMEOUT_MS = 500;

/**
 * Load a worklet source into a context through a Blob URL (the widget module has no URL of its own).
 * @param {AudioContext} ctx
 * @param {string} source
 */
export async function addWorklet(ctx, source) {
  if (!ctx.audioWorklet) throw Object.assign(new Error("AudioWorklet is not available"), { name: "NoAudioWorklet" });
  const url = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
  try {
    await ctx.audioWorklet.addModule(url);
  } finally {
    URL.revokeObjectURL(url);
  }
}

/** @param {AudioContext | null} ctx */
export function resumeContext(ctx) {
  if (ctx && ctx.state === "suspended") ctx.resume().catch(() => {});
}
