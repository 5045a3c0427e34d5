// Playback worklet: a queue of 24 kHz Int16 chunks tagged by item id, played in order.
//
// Runs in the AudioWorkletGlobalScope of a context created at 24 kHz, so no resampling happens
// here. rtwidget/widget/bundle.py prepends dsp.js to this file (and drops the import line).
//
// Port protocol (main -> worklet):
//   {type: "chunk", item_id, seq, t, pcm: ArrayBuffer}   queue audio (t: kernel receive time, epoch ms)
//   {type: "flush", id, report}                          drop everything queued, now
//   {type: "config", startMs}                            start threshold
// Worklet -> main:
//   {type: "started", item_id, seq, t}        the first sample of that chunk is being rendered
//   {type: "progress", item_id, samples, rms} every ~100 ms while playing (rms: output level)
//   {type: "ended", item_id, samples}         the item's queued audio ran out (or the next item began)
//   {type: "flushed", id, report, item_id, samples}  answer to flush: the item that was playing
//   {type: "level", rms: 0}                   once when output falls silent
//
// Port messages are handled between render quanta, so a flush posted after queued chunks takes
// effect before the next quantum: it overtakes the audio still in the queue.
import { PlaybackQueue, msToSamples } from "./dsp.js";

/** Report progress (and the output level) every this many rendered samples: 100 ms at 24 kHz. */
const PLAYBACK_REPORT_SAMPLES = 2400;

class RtPlaybackProcessor extends AudioWorkletProcessor {
  /** @param {{processorOptions?: {startMs?: number}}} [options] */
  constructor(options) {
    super();
    const startMs = options?.processorOptions?.startMs ?? 60;
    this.queue = new PlaybackQueue({ startSamples: msToSamples(startMs) });
    this.block = new Float32Array(128);
    this.sinceReport = 0;
    this.sumSq = 0;
    this.silent = true;
    this.port.onmessage = (/** @type {MessageEvent} */ e) => this.onMessage(e.data);
  }

  /** @param {{type: string, item_id?: string, seq?: number, t?: number, pcm?: ArrayBuffer, id?: number, report?: boolean, startMs?: number}} msg */
  onMessage(msg) {
    if (msg.type === "chunk" && msg.pcm && typeof msg.item_id === "string") {
      this.queue.push(msg.item_id, msg.seq ?? 0, new Int16Array(msg.pcm), msg.t ?? 0);
    } else if (msg.type === "flush") {
      const { item_id, samples } = this.queue.flush();
      this.port.postMessage({ type: "flushed", id: msg.id, report: msg.report !== false, item_id, samples });
    } else if (msg.type === "config" && typeof msg.startMs === "number") {
      this.queue.startSamples = msToSamples(msg.startMs);
    }
  }

  /**
   * @param {Float32Array[][]} _inputs
   * @param {Float32Array[][]} outputs
   * @returns {boolean}
   */
  process(_inputs, outputs) {
    const channels = outputs[0];
    const frames = channels && channels.length > 0 ? channels[0].length : 128;
    if (this.block.length !== frames) this.block = new Float32Array(frames);
    const wasPlaying = this.queue.playing;
    const events = this.queue.render(this.block);
    if (channels) for (const ch of channels) ch.set(this.block);
    for (const ev of events) this.port.postMessage(ev);
    if (wasPlaying || this.queue.playing || events.length > 0) {
      for (let i = 0; i < frames; i++) this.sumSq += this.block[i] * this.block[i];
      this.sinceReport += frames;
      this.silent = false;
      if (this.sinceReport >= PLAYBACK_REPORT_SAMPLES) this.report();
    } else if (!this.silent) {
      // Output fell silent: report the last partial period so the meter drops to zero.
      this.report();
      this.port.postMessage({ type: "level", rms: 0 });
      this.silent = true;
    }
    return true;
  }

  report() {
    const item = this.queue.current;
    const level = this.sinceReport > 0 ? Math.sqrt(this.sumSq / this.sinceReport) : 0;
    if (item !== null) {
      this.port.postMessage({ type: "progress", item_id: item, samples: this.queue.played.get(item) ?? 0, rms: level });
    }
    this.sinceReport = 0;
    this.sumSq = 0;
  }
}

registerProcessor("rtwidget-playback", RtPlaybackProcessor);
