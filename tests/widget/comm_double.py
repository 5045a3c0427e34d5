"""A stand-in for the browser: a comm that records what the kernel sends, and messages delivered the way
ipywidgets delivers them. The comm is the one thing not real in the widget tests."""

from __future__ import annotations

import threading
from typing import Any

from rtwidget.widget import RealtimeWidget
from tests.support import wait_until

Sent = list[tuple[dict[str, Any], list[bytes]]]


class MockComm:
    """Records every message the widget sends; thread-safe like the kernel's iopub."""

    def __init__(self, **kwargs: Any) -> None:
        self.comm_id = kwargs.get("comm_id") or f"comm-{id(self):x}"
        self.opened = kwargs
        self.sent: Sent = []
        self.lock = threading.Lock()
        self.kernel = object()  # ipywidgets only sends when the comm has a kernel
        self.closed = False

    def send(self, data: Any = None, metadata: Any = None, buffers: Any = None) -> None:
        with self.lock:
            self.sent.append((data, [bytes(b) for b in buffers or ()]))

    def on_msg(self, callback: Any) -> None:
        self.callback = callback

    def on_close(self, callback: Any) -> None:
        pass

    def close(self, *args: Any, **kwargs: Any) -> None:
        self.closed = True

    def custom(self, kind: str | None = None) -> Sent:
        """Custom messages sent so far (optionally of one ``kind``), with their buffers."""
        with self.lock:
            out = [(d["content"], b) for d, b in self.sent if isinstance(d, dict) and d.get("method") == "custom"]
        return [(c, b) for c, b in out if kind is None or c.get("kind") == kind]

    def batches(self) -> list[dict[str, Any]]:
        """Every panel batch so far, in order: ``batch`` messages and the batches that rode with ``audio``."""
        out = []
        for content, _ in self.custom():
            if content.get("kind") == "batch":
                out.append(content)
            elif content.get("kind") == "audio" and isinstance(content.get("batch"), dict):
                out.append(content["batch"])
        return out

    def kinds(self) -> list[str]:
        """The ``kind`` of every custom message so far, in order."""
        return [c["kind"] for c, _ in self.custom()]

    def states(self) -> list[dict[str, Any]]:
        with self.lock:
            return [d["state"] for d, _ in self.sent if isinstance(d, dict) and d.get("method") == "update"]


def comm_of(comms: list[MockComm], w: RealtimeWidget) -> MockComm:
    return next(c for c in comms if c.comm_id == w.model_id)


def browser_says(w: RealtimeWidget, content: Any, buffers: list[bytes] | tuple[bytes, ...] = ()) -> None:
    """Deliver a custom message as ipywidgets would, from another thread (like a kernel subshell)."""
    msg = {"content": {"data": {"method": "custom", "content": content}}, "buffers": list(buffers)}
    t = threading.Thread(target=w._handle_msg, args=(msg,))
    t.start()
    t.join()


def browser_sets(w: RealtimeWidget, **state: Any) -> None:
    """Set traits as the browser does (an ``update`` message through ipywidgets' own handler)."""
    msg = {"content": {"data": {"method": "update", "state": state, "buffer_paths": []}}, "buffers": []}
    t = threading.Thread(target=w._handle_msg, args=(msg,))
    t.start()
    t.join()


def barrier(w: RealtimeWidget, comm: MockComm, view: str) -> dict[str, Any]:
    """Every browser message sent before this one has been handled: the I/O loop handles them in order, and
    this one (a ``hello``) answers with a snapshot, which is returned."""
    browser_says(w, {"kind": "hello", "view": view})
    return wait_until(lambda: [c for c, _ in comm.custom("snapshot") if c["view"] == view], what=f"snapshot {view}")[0]
