"""The widget's media in a real browser (Debian Chromium, real JupyterLab) against the local server: the Record
button writes a cassette that ``Cassette.open`` reads; each download button saves a file with the session's
export in it; clicking an assistant item plays its heard audio through the item player (the cut part marked), and
the kernel receives ``item_played`` with exactly the heard samples, while the live playhead stays as it was.
"""

from __future__ import annotations

import io
import json
import wave
from pathlib import Path
from typing import Any

import pytest

from .jlab import NotebookPage
from .test_widget_browser import SETUP, open_widget, send_text, wait_reply
from .visual import contrast_of, settle

pytestmark = pytest.mark.browser


def test_record_button_writes_a_cassette(lab: NotebookPage) -> None:
    widget = open_widget(lab, "media-record.ipynb", SETUP)
    record = widget.locator("[data-testid=record]")
    assert record.inner_text() == "Record"
    record.click()
    name = lab.wait_kernel("widget.recording.get('on') and widget.recording['path']", what="the recording to start")
    assert str(name).startswith("rtwidget-") and str(name).endswith(".cassette")
    lab.wait_js(
        "() => document.querySelector('[data-testid=record]').textContent.includes('Recording')",
        what="the button to show the recording",
    )
    assert name in record.inner_text() and record.get_attribute("aria-pressed") == "true"
    send_text(lab, "hello")
    wait_reply(lab)
    lab.screenshot("media-recording", widget)
    record.click()
    lab.wait_kernel("session.recording is None and widget.recording == {}", what="the recording to stop")
    lab.wait_js(
        "() => document.querySelector('[data-testid=record]').textContent === 'Record'",
        what="the button back to Record",
    )
    tape = lab.kernel_json(
        f"(lambda t: {{'types': t.types(), 'model': len(t.audio('model')), 'mid': t.meta['mid_session']}})"
        f"(Cassette.open(os.path.join(os.getcwd(), {name!r})))",
        setup="import os\nfrom rtwidget.cassette import Cassette",
    )
    assert "response.done" in tape["types"] and "conversation.item.create" in tape["types"]
    assert tape["model"] > 24000 and tape["mid"] is True  # started on a connected session

    # A recording started from a cell shows on the button too, and so does its end.
    lab.kernel_exec("session.record('from-a-cell.cassette')")
    lab.wait_js(
        "() => document.querySelector('[data-testid=record]').textContent.includes('(from-a-cell.cassette)')",
        what="the button to show the cell's recording",
    )
    lab.kernel_exec("session.stop_recording()")
    lab.wait_js(
        "() => document.querySelector('[data-testid=record]').textContent === 'Record'",
        what="the button back to Record after the cell stopped it",
    )


def _download(lab: NotebookPage, widget: Any, what: str) -> tuple[str, bytes]:
    with lab.page.expect_download() as info:
        widget.locator(f"[data-testid=download-{what}]").click()
    download = info.value
    return download.suggested_filename, Path(download.path()).read_bytes()


def test_download_buttons_save_the_exports(lab: NotebookPage) -> None:
    widget = open_widget(lab, "media-download.ipynb", SETUP)
    send_text(lab, "hello there")
    wait_reply(lab)
    lab.wait_kernel("not session.response_active", what="the reply to finish")

    name, data = _download(lab, widget, "transcript")
    assert name.endswith("-transcript.md")
    assert data.decode("utf-8") == lab.kernel_json("session.export_transcript()")
    assert "hello there" in data.decode("utf-8")

    name, data = _download(lab, widget, "wav")
    assert name.endswith("-audio.wav")
    with wave.open(io.BytesIO(data)) as wav:
        channels, rate, frames = wav.getnchannels(), wav.getframerate(), wav.getnframes()
    seconds = lab.kernel_json(
        "session.export_wav(os.path.join(tempfile.mkdtemp(), 'w.wav'))", setup="import os, tempfile"
    )
    assert (channels, rate) == (2, 24000) and frames == round(seconds * 24000) and frames > 24000

    name, data = _download(lab, widget, "log")
    assert name.endswith("-events.jsonl")
    rows = [json.loads(line) for line in data.decode("utf-8").splitlines()]
    types = lab.kernel_json("[e.type for e in session.log]")
    assert [r["type"] for r in rows] == types[: len(rows)] and len(rows) >= len(types) - 2
    assert "response.done" in [r["type"] for r in rows]


def test_clicking_an_item_plays_its_heard_audio(lab: NotebookPage) -> None:
    widget = open_widget(lab, "media-item.ipynb", SETUP)
    send_text(lab, "tell me a story")
    item = wait_reply(lab)
    lab.wait_kernel("not session.response_active", what="the reply to finish")
    item_id = item["id"]
    # Heard only in part: the kernel keeps all of it, the player plays the heard part and marks the rest cut.
    lab.kernel_exec(f"session.truncate({item_id!r}, 600)")
    heard = lab.wait_kernel(
        f"(lambda a: a is not None and a.heard_ms == 600 and len(a.heard_pcm) // 2)"
        f"(session.item_audio.get({item_id!r}))",
        what="the truncation to reach the item audio",
    )
    assert heard == 600 * 24
    live_before = lab.js("() => ({...globalThis.__rtwidget.models.at(-1).stats.playedSamples})")
    element = widget.locator(f"[data-rt=item][data-id='{item_id}']")
    element.locator(".rtwidget-item-body").click()
    player = element.locator("[data-rt=item-player]")
    player.wait_for(state="visible")
    report = lab.wait_kernel(
        "(lambda r: r and r['final'] and r)(widget.bridge.media.item_playback)", what="the final item_played report"
    )
    assert report == {"item_id": item_id, "samples": heard, "final": True}
    cut = player.locator("[data-rt=item-player-cut]")
    assert cut.is_visible() and cut.get_attribute("title") == "cut: never heard"
    assert "cut at 0.6 s" in player.inner_text()
    lab.screenshot("media-item-player", element)
    # The player's and the media buttons' words read at >= 4.5:1 in both themes (recording, to colour the button).
    lab.kernel_exec("import os, tempfile\nsession.record(os.path.join(tempfile.mkdtemp(), 'contrast.cassette'))")
    failures = []
    for theme in ("JupyterLab Dark", "JupyterLab Light"):
        lab.set_theme(theme)
        settle(lab)
        lab.screenshot(f"media-{theme.split()[-1].lower()}", widget)
        scan = contrast_of(lab)
        failures += [f for f in scan["failures"] if any(k in f["path"] for k in ("item-player", "media", "record"))]
    assert not failures, f"media texts under 4.5:1: {failures}"
    lab.kernel_exec("session.stop_recording()")
    live_after = lab.js("() => ({...globalThis.__rtwidget.models.at(-1).stats.playedSamples})")
    assert live_after == live_before, "the live playhead saw nothing of the item played on click"
