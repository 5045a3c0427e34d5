"""Standalone browser smoke check of the front end: the joined widget module in Debian's Chromium, with a
stub model instead of a kernel (no JupyterLab). Run by hand: `python js/smoke/run.py [--shots DIR]`.

It checks the DOM contract (data-rt names), the event log's frame times with 100k rows then 1000 rows/s,
filters and the error -> cause link, the real capture worklet with Chromium's fake microphone, push-to-talk
ordering, the real playback worklet (played counts, start latency, flush), and takes light/dark screenshots.
Needs: /usr/bin/chromium and the Python playwright package. Prints figures; exits non-zero on a failed check.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import math
import shutil
import struct
import sys
import tempfile
import threading
import wave
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, sync_playwright

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

sys.path.insert(0, str(REPO / "tests" / "browser"))

import jlab  # noqa: E402

from rtwidget.widget import bundle as assets  # noqa: E402

# The browser tests' flags (tests/browser/jlab.py), with the fake microphone's own beep (no file).
CHROMIUM_ARGS = [*jlab.CHROMIUM_ARGS, "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]
DATA_RT = [
    "connect", "disconnect", "status", "mic", "mic-meter", "mute", "out-meter", "turn-mode", "ptt", "text", "send",
    "interrupt", "voice", "instructions", "echo", "notice", "panel-conversation", "panel-log", "panel-tools",
    "panel-session", "log-filter-type", "log-filter-dir", "log-detail", "exceptions",
]  # fmt: skip

failures: list[str] = []


def check(ok: bool, what: str) -> None:
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


def write_wav(path: Path, rate: int = 48000, seconds: float = 2.0, freq: float = 440.0) -> None:
    n = int(rate * seconds)
    frames = b"".join(struct.pack("<h", int(12000 * math.sin(2 * math.pi * freq * i / rate))) for i in range(n))
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)


def serve(directory: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/page.html"


def sent(page: Page, kind: str) -> list[dict[str, Any]]:
    return page.evaluate("(k) => window.sent.filter((m) => m.kind === k)", kind)


def run(page: Page, shots: Path | None) -> None:
    page.wait_for_function("window.ready === true")
    for name in DATA_RT:
        check(page.locator(f'[data-rt="{name}"]').count() == 1, f"data-rt={name} present once")
    hello = sent(page, "hello")
    check(len(hello) == 1, "render sends one hello")
    view = hello[0]["view"]

    # Snapshot: rows with an error caused by a client event, items (one truncated, one out of band), tools.
    page.evaluate(
        """(view) => window.model.receive({kind: "snapshot", view, rows_dropped: 3,
          rows: [
            {id: 1, t: 0.01, dir: "client", type: "session.update", size: 300, count: 1, text: "", event_id: "evt_A",
             data: {type: "session.update", event_id: "evt_A", session: {instructions: "x"}}},
            {id: 2, t: 0.02, dir: "server", type: "error", size: 200, count: 1, text: "bad field", cause_id: "evt_A",
             data: {type: "error", error: {message: "bad field", event_id: "evt_A"}}},
            {id: 3, t: 0.5, dir: "server", type: "response.output_audio_transcript.delta", size: 900, count: 12,
             text: "Hello there, how can I help?", data: {type: "response.output_audio_transcript.delta"}}],
          items: [
            {id: "i1", type: "message", role: "user", status: "completed", text: "what is the weather",
             lane: "default"},
            {id: "i2", type: "function_call", name: "get_weather", arguments: "{\\"city\\":\\"Paris\\"}",
             call_id: "c1", status: "completed", lane: "default"},
            {id: "i3", type: "function_call_output", output: "{\\"temp\\": 21}", call_id: "c1", lane: "default"},
            {id: "i4", type: "message", role: "assistant", status: "incomplete", text: "It is 21 degrees in Par",
             audio_ms: 3400, heard_ms: 1200, lane: "default"},
            {id: "i5", type: "message", role: "assistant", status: "completed", text: "Summary: weather",
             lane: "out_of_band"}],
          tools: [{call_id: "c1", name: "get_weather", arguments: "{\\"city\\":\\"Paris\\"}",
                   output: "{\\"temp\\": 21}", status: "done", duration_ms: 12.5, response_id: "resp_1",
                   followup: "sent"}],
          responses: [{id: "resp_1", status: "completed", lane: "default",
                       usage: {total_tokens: 50, input_tokens: 30, output_tokens: 20,
                               input_token_details: {text_tokens: 10, audio_tokens: 20, cached_tokens: 0},
                               output_token_details: {text_tokens: 5, audio_tokens: 15}}}]})""",
        view,
    )
    page.wait_for_function("document.querySelectorAll('[data-rt=item]').length === 5")
    check("heard 1.2 s of 3.4 s" in page.inner_text('[data-rt="panel-conversation"]'), "truncated item marked")
    check(page.locator('[data-rt="tool-row"]').count() == 1, "tool row rendered")
    page.evaluate(
        """() => window.model.receive({kind: "batch", items: [
            {id: "i0", type: "message", role: "system", text: "inserted first", index: 0, lane: "default"},
            {id: "i1", index: 1}, {id: "i2", index: 2}, {id: "i3", index: 3}, {id: "i4", index: 4}]})"""
    )
    page.wait_for_function("document.querySelectorAll('[data-rt=item]').length === 6")
    order = page.eval_on_selector_all(".rtwidget-lane-default [data-rt=item]", "els => els.map(e => e.dataset.id)")
    check(order == ["i0", "i1", "i2", "i3", "i4"], f"items sorted by index ({order})")
    check("3 older rows not kept" in page.inner_text('[data-rt="panel-log"]'), "dropped-rows counter")
    page.click('[data-rt="log-cause"]')
    page.wait_for_function("document.querySelector('[data-rt=log-detail]').textContent.includes('evt_A')")
    selected = page.locator(".rtwidget-log-row.rtwidget-selected .rtwidget-log-type").inner_text()
    check(selected == "session.update", f"error row links to its cause (selected {selected})")
    check("\u00d712" in page.inner_text('[data-rt="panel-log"]'), "count badge for merged deltas")

    # An exception from a user's tool: a collapsible block under the widget, the traceback inside, dismissable.
    check(not page.locator('[data-rt="exceptions"]').is_visible(), "no error area while there is no exception")
    page.evaluate(
        """() => window.model.receive({kind: "exception", error: {source: "tool", name: "get_weather",
            error_type: "ValueError", message: "no such city",
            traceback: "Traceback ...\\nValueError: no such city"}})"""
    )
    block = page.locator('[data-rt="exception"]')
    block.wait_for(state="visible")
    check("ValueError in tool get_weather: no such city" in block.inner_text(), "exception title and message")
    check(not page.locator(".rtwidget-exception-traceback").is_visible(), "traceback collapsed at first")
    page.click('[data-rt="exception"] summary')
    check(page.locator(".rtwidget-exception-traceback").is_visible(), "traceback shown when expanded")
    if shots:
        page.screenshot(path=str(shots / "exception.png"), full_page=True)
    page.click('[data-rt="exception-dismiss"]')
    check(page.locator('[data-rt="exception"]').count() == 0, "exception dismissed")
    if shots:
        page.screenshot(path=str(shots / "light.png"), full_page=True)
        page.evaluate("document.body.classList.add('dark')")
        page.screenshot(path=str(shots / "dark.png"), full_page=True)
        page.evaluate("document.body.classList.remove('dark')")

    # Event log under load: 100k rows (log_limit 5000), then 1000 rows/s with merged-row updates.
    for limit in (5000, 100000):
        figures = page.evaluate(
            """async (limit) => {
              const model = window.model;
              model.set("log_limit", limit);
              const stats = globalThis.__rtwidget.models.at(-1).stats;
              let id = 1000000 * (limit === 5000 ? 1 : 2);
              const mk = (n) => Array.from({length: n}, () => ({id: id++, t: id / 1000,
                  dir: id % 3 ? "server" : "client",
                  type: id % 2 ? "response.output_audio.delta" : "input_audio_buffer.append", size: 6400, count: 1,
                  text: id % 5 ? "" : "some transcript text", data: {type: "x", delta: "<6400 bytes>"}}));
              for (let i = 0; i < 100; i++) model.receive({kind: "batch", rows: mk(1000)});
              await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
              stats.frameTimes.length = 0;
              // rAF gaps measure whole frames (message handling + layout + paint), not only our render.
              const gaps = []; let last = performance.now(); let running = true;
              const loop = (t) => { gaps.push(t - last); last = t; if (running) requestAnimationFrame(loop); };
              requestAnimationFrame(loop);
              const handle = [];
              await new Promise((done) => {
                let n = 0;
                const timer = setInterval(() => {
                  const t0 = performance.now();
                  model.receive({kind: "batch", rows: mk(50), row_updates: [{id: id - 1, count: 3, text: "merged"}]});
                  handle.push(performance.now() - t0);
                  if (++n === 60) { clearInterval(timer); done(); }
                }, 50);
              });
              running = false;
              const ft = stats.frameTimes.slice().sort((a, b) => a - b);
              const g = gaps.slice(2).sort((a, b) => a - b);
              const h = handle.sort((a, b) => a - b);
              return {frames: ft.length, renderMax: ft.at(-1), top3: ft.slice(-3).map((x) => +x.toFixed(1)),
                      renderP95: ft[Math.floor(ft.length * 0.95)],
                      gapMax: g.at(-1), gapP95: g[Math.floor(g.length * 0.95)], handleMax: h.at(-1),
                      rowsInDom: document.querySelectorAll("[data-rt=log-row]").length};
            }""",
            limit,
        )
        print(f"     log_limit={limit}: {figures}")
        check(figures["frames"] > 20, f"log rendered every frame while streaming (limit {limit})")
        check(figures["renderMax"] < 50, f"log render under 50 ms per frame (limit {limit})")
        check(figures["rowsInDom"] < 80, "only visible rows are in the DOM")
    page.fill('[data-rt="log-filter-type"]', "append")
    page.wait_for_timeout(100)
    types = page.eval_on_selector_all('[data-rt="log-row"] .rtwidget-log-type', "els => els.map(e => e.textContent)")
    check(bool(types) and all("append" in t for t in types), "type filter")
    page.select_option('[data-rt="log-filter-dir"]', "client")
    page.wait_for_timeout(100)
    arrows = page.eval_on_selector_all('[data-rt="log-row"] .rtwidget-log-dir', "els => els.map(e => e.textContent)")
    check(bool(arrows) and all(a == "\u2192" for a in arrows), "direction filter")
    page.fill('[data-rt="log-filter-type"]', "")
    page.select_option('[data-rt="log-filter-dir"]', "")

    # Microphone (Chromium's fake device plays a WAV).
    page.click('[data-rt="mic"]')
    page.wait_for_function("window.sent.filter((m) => m.kind === 'mic').length >= 10", timeout=15000)
    mics = sent(page, "mic")
    check(all(m["bytes"] == 4800 for m in mics), f"mic chunks are 100 ms of 24 kHz PCM16 ({mics[0]['bytes']} bytes)")
    check([m["seq"] for m in mics] == list(range(len(mics))), "mic seq increases")
    skew = page.evaluate("(t) => Date.now() - t", mics[-1]["t"])
    check(0 <= skew < 2000, f"mic t is the capture time in epoch ms ({skew} ms before now)")
    check(sent(page, "mic_state")[0]["on"] is True, "mic_state on")
    rate = page.evaluate("globalThis.__rtwidget.models.at(-1).stats.captureRate")
    print(f"     capture context rate {rate}")
    meter = page.evaluate("getComputedStyle(document.querySelector('[data-rt=mic-meter] span')).transform")
    check(meter not in ("none", "matrix(0, 0, 0, 1, 0, 0)"), f"input meter moves ({meter})")

    # Push-to-talk: only while held; the partial chunk goes before the release.
    page.select_option('[data-rt="turn-mode"]', "push_to_talk")
    check(page.evaluate("window.model.get('turn_mode')") == "push_to_talk", "turn-mode select sets the trait")
    page.wait_for_timeout(300)
    page.evaluate("window.sent.length = 0")
    page.wait_for_timeout(300)
    check(not sent(page, "mic"), "push-to-talk not held: no mic chunks")
    box = page.locator('[data-rt="ptt"]').bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + 5, box["y"] + 5)
    page.mouse.down()
    page.wait_for_timeout(450)
    page.mouse.up()
    page.wait_for_function("window.sent.some((m) => m.kind === 'ptt' && m.down === false)")
    seq = page.evaluate("window.sent.filter((m) => m.kind === 'ptt' || m.kind === 'mic')")
    kinds = [f"{m['kind']}:{m.get('down', m.get('bytes'))}" for m in seq]
    print(f"     ptt sequence {kinds}")
    check(kinds[0] == "ptt:True" and kinds[-1] == "ptt:False", "ptt down ... up")
    check(len(seq) >= 5 and seq[-2]["kind"] == "mic" and seq[-2]["bytes"] < 4800, "partial chunk before release")
    page.focus(".rtwidget-root")
    page.evaluate("window.sent.length = 0")
    page.keyboard.down(" ")
    page.wait_for_timeout(250)
    page.keyboard.up(" ")
    page.wait_for_function("window.sent.some((m) => m.kind === 'ptt' && m.down === false)")
    check(sent(page, "ptt")[0]["down"] is True, "space bar is push-to-talk")
    page.focus('[data-rt="text"]')
    page.evaluate("window.sent.length = 0")
    page.keyboard.type("hi there")
    page.keyboard.press("Enter")
    typed = (sent(page, "ptt"), sent(page, "text"))
    check(typed == ([], [{"kind": "text", "text": "hi there"}]), f"typing in the text box: no ptt {typed}")
    page.select_option('[data-rt="turn-mode"]', "server_vad")
    page.click('[data-rt="mic"]')
    page.wait_for_function("window.sent.some((m) => m.kind === 'mic_state' && m.on === false)")

    # Playback: 1 s of audio in 100 ms deltas; played counts, start latency, ended report.
    page.evaluate("window.sent.length = 0")
    page.evaluate(
        """() => {
          const chunk = (k) => { const a = new Int16Array(2400);
            for (let i = 0; i < a.length; i++) a[i] = 8000 * Math.sin(2 * Math.PI * 440 * (k * 2400 + i) / 24000);
            return new DataView(a.buffer); };
          for (let k = 0; k < 10; k++) setTimeout(() => window.model.receive(
            {kind: "audio", item_id: "it1", response_id: "r1", seq: k, t: Date.now()}, [chunk(k)]), k * 20);
        }"""
    )
    page.wait_for_function("window.sent.some((m) => m.kind === 'played' && m.item_id === 'it1' && m.samples === 24000)")
    stats = page.evaluate("globalThis.__rtwidget.models.at(-1).stats")
    lat = [p["latency_ms"] for p in stats["playStarts"]]
    print(f"     playStarts latency ms {lat[:3]} ... {lat[-1]}")
    check(stats["playedSamples"].get("it1") == 24000, "played samples counted exactly")
    check(len(stats["playStarts"]) == 10, "one playStart per chunk")
    played = sent(page, "played")
    times = [m["samples"] for m in played]
    print(f"     played reports {times}")
    check(len(played) <= 6, "played at most every 250 ms (plus the end)")

    # Flush mid-item: the final report carries what was played.
    page.evaluate("window.sent.length = 0")
    page.evaluate(
        """() => { for (let k = 0; k < 20; k++) window.model.receive(
            {kind: "audio", item_id: "it2", response_id: "r2", seq: 100 + k, t: Date.now()},
            [new DataView(new Int16Array(2400).fill(3000).buffer)]); }"""
    )
    page.wait_for_timeout(400)
    page.evaluate("window.model.receive({kind: 'flush', reason: 'speech_started'})")
    page.wait_for_function("window.sent.some((m) => m.kind === 'played' && m.final)")
    final = [m for m in sent(page, "played") if m["final"]]
    print(f"     final after flush {final}")
    check(len(final) == 1 and final[0]["item_id"] == "it2" and 0 < final[0]["samples"] < 48000, "flush final")
    page.wait_for_timeout(300)
    after = page.evaluate("globalThis.__rtwidget.models.at(-1).stats.playedSamples.it2")
    check(after == final[0]["samples"], "nothing plays after the flush")
    page.click('[data-rt="interrupt"]')
    check(sent(page, "interrupt") == [{"kind": "interrupt"}], "interrupt button")
    page.click('[data-rt="mute"]')
    check(page.evaluate("window.model.get('muted')") is True, "mute sets the trait")

    # Removing the last view stops the audio.
    page.click('[data-rt="mic"]')
    page.wait_for_function("window.sent.some((m) => m.kind === 'mic_state' && m.on === true)")
    page.evaluate("window.cleanupView()")
    page.wait_for_function("window.sent.filter((m) => m.kind === 'mic_state').at(-1).on === false")
    check(page.locator(".rtwidget-root").count() == 0, "view removed")
    page.evaluate("window.cleanupInit()")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shots", type=Path, help="write light.png and dark.png here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        shutil.copy(Path(__file__).with_name("page.html"), root / "page.html")
        (root / "widget.mjs").write_text(assets.esm(), encoding="utf-8")
        (root / "widget.css").write_text(assets.css(), encoding="utf-8")
        wav = root / "tone.wav"
        write_wav(wav)
        server, url = serve(root)
        if args.shots:
            args.shots.mkdir(parents=True, exist_ok=True)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(
                    executable_path="/usr/bin/chromium",
                    headless=True,
                    args=[*CHROMIUM_ARGS, f"--use-file-for-fake-audio-capture={wav}"],
                )
                try:
                    page = browser.new_page(viewport={"width": 1200, "height": 900})
                    errors: list[str] = []
                    page.on("pageerror", lambda e: errors.append(str(e)))
                    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
                    page.goto(url)
                    run(page, args.shots)
                    check(not errors, f"no page errors {errors[:3]}")
                finally:
                    browser.close()
        finally:
            server.shutdown()
    print("FAILED: " + "; ".join(failures) if failures else "all checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
