"""Calls handed over to the user (tools declared with raw events): owed no more, and the follow-up of their
response is the user's; the tools a connection knows the session has (reported by the server, or sent)."""

from __future__ import annotations

from rtwidget.protocol.connection import Connection

from . import wire_events as S
from .connection_helpers import feed, sent
from .test_tracker import Client, calls_turn


def test_a_handed_over_call_is_owed_no_more_and_its_users_output_wants_no_reply() -> None:
    c = Client()
    [call] = c.recv(*calls_turn("resp_1", 1))
    c.tracker.hand_over(call.call_id)
    assert c.tracker.owed == {}
    assert not c.due
    c.output(call.call_id)  # the user's own output: the reply is the user's too
    assert not c.due
    c.create()
    assert c.tracker.busy


def test_a_mixed_response_leaves_the_reply_to_the_user() -> None:
    c = Client()
    ours, users = c.recv(*calls_turn("resp_1", 2))
    c.tracker.hand_over(users.call_id)
    assert set(c.tracker.owed) == {ours.call_id}
    c.output(ours.call_id)  # rtwidget's output for its registered tool: no reply of its own
    assert c.tracker.owed == {} and not c.due
    c.output(users.call_id)
    assert not c.due


def test_handing_over_an_unknown_call_changes_no_reply() -> None:
    c = Client()
    [call] = c.recv(*calls_turn("resp_1", 1))
    c.tracker.hand_over("call_never_seen")
    assert set(c.tracker.owed) == {call.call_id}
    c.output(call.call_id)
    assert c.due  # the rule holds for calls not handed over


def test_declared_tools_come_from_the_server_report_and_from_what_was_sent() -> None:
    conn = Connection()
    assert conn.declared_tools() == {}
    raw = {"type": "function", "name": "raw_tool", "parameters": {"type": "object", "properties": {}}}
    server = {"type": "function", "name": "reported", "parameters": {}}
    feed(conn, S.session_created(tools=[server, {"type": "mcp", "server_label": "x"}, "junk", {"name": 3}]))
    assert list(conn.declared_tools()) == ["reported"]
    conn.send({"type": "session.update", "session": {"type": "realtime", "tools": [raw]}})
    assert sent(conn)[0]["session"]["tools"] == [raw]
    assert list(conn.declared_tools()) == ["reported", "raw_tool"]
    conn.send({"type": "session.update", "session": {"type": "realtime", "instructions": "hi"}})  # keeps tools
    feed(conn, S.session_updated(tools=[raw]))
    assert conn.declared_tools() == {"raw_tool": raw}
    feed(conn, S.session_updated(tools="not a list"))
    assert conn.declared_tools() == {"raw_tool": raw}
    conn.reset()  # a new server session: what the client declared is still the client's
    assert conn.declared_tools() == {"raw_tool": raw}


def test_a_connection_hands_a_call_over_to_its_tracker() -> None:
    conn = Connection()
    feed(conn, *calls_turn("resp_1", 1))
    [call] = conn.function_calls_to_run()
    conn.hand_over(call)
    assert conn.tracker.owed == {}
    conn.function_output(call.call_id, "done")
    assert conn.reply_if_due() is None
