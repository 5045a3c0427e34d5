// The direct channel: this page's messages to the kernel over a WebSocket straight to the kernel
// (rtwidget/widget/direct.py), when the kernel offers one (a `direct` message) and this page can
// reach it; the comm carries every message whenever the socket is not open. In JupyterLab each
// comm message from the page makes the kernel publish a busy/idle status pair that the whole page
// reacts to: the microphone's ten messages a second cost several times less over this socket.
//
// Order across the switch: after the kernel's greeting the page sends {kind: "direct_ready", n}
// over the comm and holds every later message until the kernel answers with the same `n` (it has
// then handled everything the comm carried before the marker); then what was held, and all that
// follows, goes over the socket. No answer in ACK_MS, more than MAX_HELD held, or the socket
// closing: what was held goes over the comm, in order, and the comm stays the path.
//
// Frame: 4-byte little-endian length, that many bytes of JSON (the content plus `buffers`: each
// buffer's byte length), then the buffers' bytes.

/** The kernel's first frame on the socket, followed by the URL's token (direct.py). */
const GREETING = "rtwidget-direct ";
/** Hosts whose 127.0.0.1 may be the kernel's: the page is served from this machine. */
const LOCAL_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]", "::1"]);
/** How long the page waits for the kernel's `direct_ready` answer before it stays on the comm. */
export const ACK_MS = 5000;
/** Messages held while waiting for it (ten mic chunks a second): beyond this, the comm. */
export const MAX_HELD = 200;

/**
 * @callback CommSend a message over the comm (the path that always works)
 * @param {object} content
 * @param {(ArrayBuffer | ArrayBufferView)[]} [buffers]
 * @returns {void}
 */

/**
 * @param {object} content
 * @param {(ArrayBuffer | ArrayBufferView)[]} [buffers]
 * @returns {ArrayBuffer}
 */
export function encodeFrame(content, buffers = []) {
  const parts = buffers.map((b) =>
    b instanceof ArrayBuffer ? new Uint8Array(b) : new Uint8Array(b.buffer, b.byteOffset, b.byteLength),
  );
  const head = new TextEncoder().encode(JSON.stringify({ ...content, buffers: parts.map((p) => p.byteLength) }));
  const total = 4 + head.byteLength + parts.reduce((n, p) => n + p.byteLength, 0);
  const out = new Uint8Array(total);
  new DataView(out.buffer).setUint32(0, head.byteLength, true);
  out.set(head, 4);
  let at = 4 + head.byteLength;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out.buffer;
}

/** One model's direct socket to its kernel, or none. */
export class DirectLink {
  /**
   * @param {CommSend} viaComm how a message goes over the comm (the marker, and what was held on a fall back)
   * @param {{hostname?: string}} [where] the page's location (tests pass their own)
   */
  constructor(viaComm, where = globalThis.location) {
    this.viaComm = viaComm;
    this.hostname = where?.hostname ?? "";
    /** @type {WebSocket | null} */
    this.ws = null;
    this.url = "";
    /** The nonce of the `direct_ready` marker awaiting the kernel's answer ("" when none is). */
    this.waiting = "";
    /** The kernel answered: messages go over the socket. */
    this.ready = false;
    /** @type {[object, (ArrayBuffer | ArrayBufferView)[] | undefined][]} messages held until it answers */
    this.held = [];
    /** @type {ReturnType<typeof setTimeout> | null} */
    this.timer = null;
    /** Messages sent over the socket (debug figures). */
    this.sent = 0;
  }

  /** Can this page use a direct channel at all (served from the kernel's machine, with WebSocket)? */
  possible() {
    return typeof WebSocket !== "undefined" && LOCAL_HOSTS.has(this.hostname);
  }

  /** @returns {boolean} the socket is open and the kernel confirmed the switch: messages go through it */
  get open() {
    return this.ws !== null && this.ready && this.ws.readyState === 1;
  }

  /**
   * The kernel offers a direct channel at `url`: try it (once per URL; a failure leaves the comm).
   * @param {unknown} url
   */
  connect(url) {
    if (typeof url !== "string" || !url.startsWith("ws://127.0.0.1:") || url === this.url || !this.possible()) return;
    this.close();
    this.url = url;
    let ws;
    try {
      ws = new WebSocket(url);
    } catch (err) {
      console.debug("[rtwidget] no direct channel", err);
      return;
    }
    ws.binaryType = "arraybuffer";
    // Only the kernel that offered the URL knows its token: nothing is sent before it says it.
    const greeting = GREETING + url.slice(url.lastIndexOf("/") + 1);
    ws.addEventListener("message", (/** @type {any} */ e) => {
      if (this.ws === ws && e.data === greeting && !this.waiting && !this.ready) this.mark();
    });
    // The kernel went (widget closed, kernel stopped or restarted): quietly back to the comm.
    const lost = () => {
      if (this.ws === ws) this.fallBack();
    };
    ws.addEventListener("close", lost);
    ws.addEventListener("error", lost);
    this.ws = ws;
  }

  /** Greeted: the marker over the comm; later messages are held until the kernel answers it. */
  mark() {
    this.waiting = globalThis.crypto?.randomUUID?.() ?? `${Date.now()}-${Math.random()}`.slice(0, 64);
    this.viaComm({ kind: "direct_ready", n: this.waiting });
    this.timer = setTimeout(() => {
      console.debug("[rtwidget] the kernel did not confirm the direct channel: the comm stays");
      this.close();
    }, ACK_MS);
  }

  /**
   * The kernel's `direct_ready` answer (to every page of the widget: only this page's nonce counts).
   * @param {unknown} n
   */
  confirmed(n) {
    if (!this.waiting || n !== this.waiting) return;
    this.stopWaiting();
    this.ready = true;
    const held = this.held;
    this.held = [];
    for (const [content, buffers] of held) {
      if (!this.send(content, buffers)) this.viaComm(content, buffers);
    }
  }

  stopWaiting() {
    this.waiting = "";
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  /**
   * Send over the socket if it is open; hold while the kernel has not confirmed the switch.
   * @param {object} content
   * @param {(ArrayBuffer | ArrayBufferView)[]} [buffers]
   * @returns {boolean} whether it was taken (else the caller uses the comm)
   */
  send(content, buffers) {
    if (this.waiting) {
      this.held.push([content, buffers]);
      if (this.held.length > MAX_HELD) this.close();
      return true;
    }
    if (!this.open || !this.ws) return false;
    try {
      this.ws.send(encodeFrame(content, buffers));
    } catch (err) {
      console.debug("[rtwidget] direct send failed; back to the comm", err);
      this.close();
      return false;
    }
    this.sent++;
    return true;
  }

  /** No socket from now on: what was held goes over the comm, in the order it was sent. */
  fallBack() {
    this.ws = null;
    this.ready = false;
    this.stopWaiting();
    const held = this.held;
    this.held = [];
    for (const [content, buffers] of held) this.viaComm(content, buffers);
  }

  close() {
    const ws = this.ws;
    this.fallBack();
    if (ws) {
      try {
        ws.close();
      } catch {
        /* already closed */
      }
    }
  }
}
