"""Smoke tests of the browser infrastructure itself: an anywidget renders and round-trips in JupyterLab, and the
fake microphone delivers the speech file (not Chromium's built-in beep)."""

from __future__ import annotations

import base64
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytestmark = pytest.mark.browser

HELLO_WIDGET = '''
import anywidget, traitlets

class Hello(anywidget.AnyWidget):
    _esm = """
    function render({ model, el }) {
      const b = document.createElement("button");
      b.dataset.smoke = "hello";
      const show = () => { b.textContent = `count ${model.get("count")}`; };
      b.onclick = () => { model.set("count", model.get("count") + 1); model.save_changes(); };
      model.on("change:count", show);
      show();
      el.appendChild(b);
    }
    export default { render };
    """
    count = traitlets.Int(0).tag(sync=True)

hello = Hello()
hello
'''


@pytest.mark.parametrize("front_end", ["lab", "nb7"])
def test_trivial_anywidget_renders_and_round_trips(request: pytest.FixtureRequest, front_end: str) -> None:
    """JupyterLab 4 and Notebook 7: open a notebook, run cells, click -> kernel, kernel -> DOM."""
    lab = request.getfixturevalue(front_end)
    lab.open("smoke-anywidget.ipynb", [HELLO_WIDGET, "hello.count = 41"])
    lab.run_cell(0)
    button = lab.page.locator("[data-smoke=hello]")
    button.wait_for(state="visible")
    assert button.text_content() == "count 0"
    button.click()
    lab.wait_kernel("hello.count == 1", what="the click to reach the kernel")
    lab.run_cell(1)
    lab.wait_js("() => document.querySelector('[data-smoke=hello]').textContent === 'count 41'", what="kernel -> DOM")
    lab.screenshot("anywidget", button)


CAPTURE = """
async (seconds) => {
    const stream = await navigator.mediaDevices.getUserMedia({
        audio: {echoCancellation: false, noiseSuppression: false, autoGainControl: false},
    });
    const ctx = new AudioContext();
    const source = ctx.createMediaStreamSource(stream);
    const proc = ctx.createScriptProcessor(4096, 1, 1);
    const want = Math.round(seconds * ctx.sampleRate);
    const samples = new Int16Array(want);
    let n = 0;
    await new Promise((resolve) => {
        proc.onaudioprocess = (e) => {
            const x = e.inputBuffer.getChannelData(0);
            for (let i = 0; i < x.length && n < want; i++, n++) {
                samples[n] = Math.max(-32768, Math.min(32767, Math.round(x[i] * 32767)));
            }
            if (n >= want) resolve();
        };
        source.connect(proc);
        proc.connect(ctx.destination);
    });
    stream.getTracks().forEach((t) => t.stop());
    await ctx.close();
    let s = "";
    const bytes = new Uint8Array(samples.buffer);
    for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return {rate: ctx.sampleRate, pcm: btoa(s)};
}
"""


def _read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64), w.getframerate()


def test_fake_microphone_plays_the_speech_file(lab: Any, speech_wav: Path) -> None:
    # Any page of the server is a secure context (127.0.0.1) where getUserMedia works.
    lab.page.goto(f"{lab.server.url}/api/status")
    source, src_rate = _read_wav(speech_wav)
    period_s = len(source) / src_rate
    got = lab.page.evaluate(CAPTURE, period_s + 1.0)
    captured = np.frombuffer(base64.b64decode(got["pcm"]), dtype="<i2").astype(np.float64)
    rate = int(got["rate"])
    assert np.sqrt(np.mean(captured**2)) > 100, "the fake microphone delivered silence"
    # Bring the source to the capture rate and find it in the capture: the file, not Chromium's beep.
    n = round(len(source) * rate / src_rate)
    ref = np.interp(np.arange(n) * src_rate / rate, np.arange(len(source)), source)
    # The file loops: one period of the capture (after a settling half second) is a rotation of the source.
    skip = rate // 2
    seg = captured[skip : skip + n]
    assert len(seg) == n
    corr = np.fft.irfft(np.fft.rfft(seg) * np.conj(np.fft.rfft(ref)), n)
    shift = int(np.argmax(corr))
    aligned = np.roll(ref, shift)
    score = float(np.dot(seg, aligned) / (np.linalg.norm(seg) * np.linalg.norm(aligned) + 1e-9))
    assert abs(score) > 0.9, f"captured audio does not match the speech file (correlation {score:.2f})"
