// The direct channel: this page's messages to the kernel over a WebSocket straight to the kernel
// (rtwidget/widget/direct.py), when the kernel offers one (a `direct` message) and this page can
// reach it; the comm carries every message whenever the socket is not open. In JupyterLab each
// comm message from the page makes the kernel publish a busy/idle status pair that the whole page
// reacts to: the microphone's ten messages a second cost several times less over this socket.
//
// Frame: 4-byte little-endian length, that many bytes of JSON (the content plus `buffers`: each
// buffer's byte length), then the buffers' bytes.

/** The kernel's first frame on the socket, followed by the URL's token (direct.py). */
const GREETING = "rtwidget-direct ";
/** Hosts whose 127.0.0.1 may be the kernel's: the page is served from this machine. */
const LOCAL_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]", "::1"]);

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
   * @param {{hostname?: string}} [where] the page's location (tests pass their own)
   */
  constructor(where = globalThis.location) {
    this.hostname = where?.hostname ?? "";
    /** @type {WebSocket | null} */
    this.ws = null;
    this.url = "";
    this.greeted = false;
    /** Messages sent over the socket (debug figures). */
    this.sent = 0;
  }

  /** Can this page use a direct channel at all (served from the kernel's machine, with WebSocket)? */
  possible() {
    return typeof WebSocket !== "undefined" && LOCAL_HOSTS.has(this.hostname);
  }

  /** @returns {boolean} the socket is open and the kernel greeted: messages go through it */
  get open() {
    return this.ws !== null && this.greeted && this.ws.readyState === 1;
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
    this.greeted = false;
    // Only the kernel that offered the URL knows its token: nothing is sent before it says it.
    const greeting = GREETING + url.slice(url.lastIndexOf("/") + 1);
    ws.addEventListener("message", (/** @type {any} */ e) => {
      if (this.ws === ws && e.data === greeting) this.greeted = true;
    });
    const lost = () => {
      if (this.ws === ws) this.ws = null;
    };
    ws.addEventListener("close", lost);
    ws.addEventListener("error", lost);
    this.ws = ws;
  }

  /**
   * Send over the socket if it is open.
   * @param {object} content
   * @param {(ArrayBuffer | ArrayBufferView)[]} [buffers]
   * @returns {boolean} whether it was sent (else the caller uses the comm)
   */
  send(content, buffers) {
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

  close() {
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      try {
        ws.close();
      } catch {
        /* already closed */
      }
    }
  }
}
