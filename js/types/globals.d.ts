// Globals the static files rely on but TypeScript's DOM library does not declare.

// Injected by rtwidget/widget/bundle.py at the top of the joined widget module: each worklet's source
// text (dsp.js + the worklet file). mic.js and playback.js read it only inside functions.
declare const WORKLET_SOURCES: { capture: string; playback: string };

// AudioWorkletGlobalScope (capture-worklet.js, playback-worklet.js).
declare class AudioWorkletProcessor {
  readonly port: MessagePort;
  constructor(options?: unknown);
}
declare function registerProcessor(
  name: string,
  processorCtor: new (options?: any) => AudioWorkletProcessor,
): void;
declare const sampleRate: number;
declare const currentTime: number;
