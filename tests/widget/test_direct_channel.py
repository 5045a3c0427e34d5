"""The direct channel (rtwidget/widget/direct.py): the browser's messages over a WebSocket to the kernel, its
token, its frames, and the widget handling what comes through it like comm messages."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from rtwidget.widget import RealtimeWidget
from rtwidget.widget.direct import GREETING, DirectChannel, decode_frame, encode_frame
from tests.support import sent

from .comm_double import MockComm, browser_says, wait_until


def test_frames_round_trip_and_malformed_ones_are_refused() -> None:
    frame = encode_frame({"kind": "mic", "seq": 1}, [b"\x01\x02", b""])
    assert decode_frame(frame) == ({"kind": "mic", "seq": 1}, [b"\x01\x02", b""])
    assert decode_frame(frame[:-1]) is None  # a buffer cut short
    assert decode_frame(frame + b"x") is None
    assert decode_frame(b"\x05\x00") is None
    assert decode_frame(encode_frame({"kind": "x"})[:4] + b"[1, 2]") is None
    bad = encode_frame({"kind": "x"}).replace(b'"buffers": []', b'"buffers": [-1]')
    assert decode_frame(bad) is None


def test_only_the_token_s_path_gets_through() -> None:
    got: list[tuple[dict[str, Any], list[bytes]]] = []
    arrived = threading.Event()

    def deliver(content: dict[str, Any], buffers: list[bytes]) -> None:
        got.append((content, buffers))
        arrived.set()

    channel = DirectChannel(deliver)
    try:
        assert channel.url.startswith("ws://127.0.0.1:") and channel.token in channel.url
        wrong = channel.url.rsplit("/", 1)[0] + "/guess"
        with connect(wrong) as ws, pytest.raises(ConnectionClosed):
            ws.recv(timeout=5)  # no greeting: closed
        with connect(channel.url) as ws:
            assert ws.recv(timeout=5) == GREETING + channel.token  # the page sends nothing before this
            ws.send("text frames are ignored")
            ws.send(b"\x00")  # malformed: dropped, the connection stays
            ws.send(encode_frame({"kind": "mic", "seq": 7}, [b"\x01\x00"]))
            assert arrived.wait(5)
        assert got == [({"kind": "mic", "seq": 7}, [b"\x01\x00"])] and channel.received == 1
    finally:
        channel.close()
    with pytest.raises(OSError):
        connect(channel.url, open_timeout=2).close()


def test_a_view_that_asks_gets_the_url_and_its_messages_reach_the_session(
    live: tuple[RealtimeWidget, MockComm],
) -> None:
    w, comm = live
    browser_says(w, {"kind": "hello", "view": "plain"})
    assert not comm.custom("direct"), "a page that cannot use it is not offered one"
    browser_says(w, {"kind": "hello", "view": "v1", "direct": True})
    (offer, _), *_ = wait_until(lambda: comm.custom("direct"), what="the direct offer")
    assert w.bridge.direct is not None and offer["url"] == w.bridge.direct.url
    assert all("direct" not in str(state) for state in comm.states()), "the URL is never a (saved) trait"
    with connect(offer["url"]) as ws:
        assert ws.recv(timeout=5) == GREETING + w.bridge.direct.token
        ws.send(encode_frame({"kind": "text", "text": "over the direct channel"}))
        wait_until(lambda: sent(w.session, "conversation.item.create"), what="the text to reach the session")
    assert w.session.conversation[0].text == "over the direct channel"
    url = offer["url"]
    w.close()  # the widget closing stops the channel
    with pytest.raises(OSError):
        connect(url, open_timeout=2).close()
