// Capture worklet: microphone at the context's native rate -> 24 kHz mono Int16 chunks.
//
// Runs in the AudioWorkletGlobalScope. rtwidget/widget/bundle.py prepends dsp.js to this file (and drops
// the import line), and the widget loads the result from a Blob URL.
//
// Port protocol (main -> worklet):
//   {type: "config", chunkMs}   change the chunk length
//   {type: "reset"}             drop the partial chunk (push-to-talk pressed: start fresh)
//   {type: "flush", id}         post the partial chunk now, then {type: "flushed", id}
// Worklet -> main:
//   {type: "chunk", pcm: ArrayBuffer (transferred), rms, t, partial}
//   {type: "flushed", id}
// `t` is Date.now() at the chunk's last sample (estimated from the samples captured after it).
import { API_RATE, ChunkBuilder, Resampler, msToSamples } from "./dsp.js";

class RtCaptureProcessor extends AudioWorkletProcessor {
  /** @param {{processorOptions?: {chunkMs?: number}}} [options] */
  constructor(options) {
    super();
    const chunkMs = options?.processorOptions?.chunkMs ?? 100;
    this.resampler = new Resampler(sampleRate, API_RATE);
    this.chunker = new ChunkBuilder(msToSamples(chunkMs));
    /** Mono mix of the input, reused across blocks. */
    this.mono = new Float32Array(128);
    this.port.onmessage = (/** @type {MessageEvent} */ e) => this.onMessage(e.data);
  }

  /** @param {{type: string, chunkMs?: number, id?: number}} msg */
  onMessage(msg) {
    if (msg.type === "config" && typeof msg.chunkMs === "number") {
      this.chunker.setSize(msToSamples(msg.chunkMs));
    } else if (msg.type === "reset") {
      this.chunker.reset();
    } else if (msg.type === "flush") {
      const chunk = this.chunker.flush();
      if (chunk) this.post(chunk, true);
      this.port.postMessage({ type: "flushed", id: msg.id });
    }
  }

  /**
   * @param {import("./dsp.js").Chunk} chunk
   * @param {boolean} partial
   */
  post(chunk, partial) {
    const t = Date.now() - (chunk.after * 1000) / API_RATE;
    const pcm = chunk.pcm.buffer;
    this.port.postMessage({ type: "chunk", pcm, rms: chunk.rms, t, partial }, [pcm]);
  }

  /**
   * @param {Float32Array[][]} inputs
   * @returns {boolean}
   */
  process(inputs) {
    const channels = inputs[0];
    // No input connected (yet, or the track ended): nothing to capture, keep the node alive.
    if (!channels || channels.length === 0) return true;
    let mono = channels[0];
    if (channels.length > 1) {
      // The node asks for mono, but average defensively if a browser hands over more channels.
      if (this.mono.length !== mono.length) this.mono = new Float32Array(mono.length);
      this.mono.fill(0);
      for (const ch of channels) for (let i = 0; i < ch.length; i++) this.mono[i] += ch[i] / channels.length;
      mono = this.mono;
    }
    const resampled = this.resampler.process(mono);
    for (const chunk of this.chunker.push(resampled)) this.post(chunk, false);
    return true;
  }
}

registerProcessor("rtwidget-capture", RtCaptureProcessor);
