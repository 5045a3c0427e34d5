"""Shapes: output-not-string, bad-tool-arguments, beta-on-ga."""

from __future__ import annotations

import pytest

from .. import wire_events as S
from .flow import Flow, calls_turn, output, session_update


@pytest.mark.parametrize(
    ("out", "kind"), [({"temp": 21}, "is a dict,"), ([1, 2], "is a list,"), (3, "is an int,"), (None, "is None,")]
)
def test_output_not_string_refused_by_validation(out: object, kind: str) -> None:
    flow = Flow()
    flow.receive(*calls_turn("resp_1", ("call_1", "get_weather")))
    [hint] = flow.refuse(output("call_1", out, event_id="evt_o"))
    assert (hint.rule, hint.level, hint.event_ids) == ("output-not-string", "error", ("evt_o",))
    assert "call_1 (get_weather)" in hint.what and kind in hint.what and "refused" in hint.what
    assert "json.dumps" in hint.fix


def test_output_not_string_sent_by_a_client_that_skipped_validation() -> None:
    flow = Flow()
    event = output("call_9", {"a": 1}, event_id="evt_raw")
    del event["item"]["output"]
    [hint] = flow.send(event)
    assert "missing" in hint.what and "for call_9 is missing" in hint.what and "never sees the result" in hint.what


def test_output_not_string_quiet_on_strings() -> None:
    flow = Flow()
    flow.send(output("call_1", '{"temp": 21}'), output("call_2", ""))
    assert "output-not-string" not in flow.rules()


@pytest.mark.parametrize(
    ("arguments", "words"),
    [('{"city": ', "not valid JSON"), ("[1, 2]", "not an object"), ("x" * 100, "...")],
)
def test_bad_tool_arguments(arguments: str, words: str) -> None:
    flow = Flow()
    flow.receive(*calls_turn("resp_1", ("call_1", "get_weather"), args=arguments))
    [hint] = [h for h in flow.hints if h.rule == "bad-tool-arguments"]  # arguments.done and response.done: once
    assert hint.level == "warning" and "get_weather (call_1)" in hint.what and words in hint.what
    assert "function_call_output" in hint.fix and len(hint.event_ids) == 1


def test_bad_tool_arguments_in_response_done_only_and_not_text() -> None:
    flow = Flow()
    item = S.function_call_item("item_1", "call_1", "lookup", "")
    item["arguments"] = {"q": 1}
    [hint] = flow.receive(S.response_done("resp_1", output=[item, {"type": "message"}, "junk"]))
    assert "are dict, not JSON text" in hint.what


def test_bad_tool_arguments_quiet_on_an_object() -> None:
    flow = Flow()
    flow.receive(*calls_turn("resp_1", ("call_1", "a"), args="{}"))
    flow.receive(*calls_turn("resp_2", ("call_2", "b"), args='{"x": [1, 2]}'))
    assert flow.hints == []


def test_beta_client_event_refused_on_ga() -> None:
    flow = Flow()
    event = {"type": "transcription_session.update", "event_id": "evt_t", "session": {}}
    [hint] = flow.refuse(event)
    assert (hint.rule, hint.level, hint.event_ids) == ("beta-on-ga", "error", ("evt_t",))
    assert "beta event name" in hint.what and "session.type" in hint.fix


def test_beta_server_name_sent_by_a_client() -> None:
    flow = Flow()
    [hint] = flow.send({"type": "response.audio.delta", "event_id": "evt_x"})
    assert "response.output_audio.delta" in hint.what and "do not send server events" in hint.fix


def test_beta_session_fields_refused_on_ga() -> None:
    flow = Flow()
    [hint] = flow.refuse(session_update("evt_s", voice="marin", modalities=["audio"], instructions="hi"))
    assert "voice and modalities" in hint.what and "voice -> audio.output.voice" in hint.fix
    assert flow.refuse(session_update(voice=3, temperature=0.7))[0].rule == "beta-on-ga"


def test_beta_session_fields_refused_before_an_event_id_was_given() -> None:
    # session.send refuses before it stamps an event_id: the hint must not read "session.update  has ...".
    [hint] = Flow().refuse({"type": "session.update", "session": {"voice": "marin", "modalities": ["audio"]}})
    assert hint.what == (
        "A session.update has the beta fields voice and modalities and was refused before sending: "
        "this connection speaks GA."
    )
    [hint] = Flow().refuse(session_update("evt_s", voice="marin"))
    assert hint.what.startswith("session.update evt_s has the beta field voice and was refused before sending")


def test_beta_names_received_on_ga_once_per_name() -> None:
    flow = Flow()
    beta_delta = {"type": "response.audio.delta", "event_id": "ev_1", "response_id": "r", "item_id": "i", "delta": ""}
    [hint] = flow.receive(beta_delta, {**beta_delta, "event_id": "ev_2"})
    assert (hint.rule, hint.level, hint.event_ids) == ("beta-on-ga", "warning", ("ev_1",))
    assert "response.output_audio.delta" in hint.what and 'dialect="beta"' in hint.fix


def test_beta_dialect_is_quiet() -> None:
    flow = Flow("beta")
    flow.receive({"type": "response.audio.delta", "event_id": "ev_1", "response_id": "r", "item_id": "i", "delta": ""})
    flow.send({"type": "transcription_session.update", "session": {}}, session_update(voice="marin"))
    assert flow.hints == []


def test_ga_names_are_quiet() -> None:
    flow = Flow()
    flow.send(session_update(instructions="x"), {"type": "session.update", "session": "odd"})
    flow.receive(S.item_added(S.user_text_item("item_1", "hi"), kind="created"))  # GA accepts item.created
    assert flow.hints == []


def test_beta_client_event_sent_raw_gets_the_validators_fix() -> None:
    flow = Flow()
    [hint] = flow.send({"type": "transcription_session.update", "event_id": "evt_t"})
    assert "went out" in hint.what and hint.fix.startswith("In GA send session.update with session.type")
    assert hint.fix.endswith(".")
    assert Flow().refuse({"type": "transcription_session.update"}) != []


def test_a_refusal_without_a_fix_still_gets_one() -> None:
    hints = Flow().doctor.client_refused({"type": "transcription_session.update"}, "refused", 0.0)
    assert hints[0].fix.startswith("Send the event's GA form")


def test_the_validators_word_on_a_valid_event_is_nothing() -> None:
    from rtwidget.protocol.doctor.rules.shapes import _refusal

    assert _refusal({"type": "response.create"}) == ""
    assert "unknown client event type" in _refusal({"type": "transcription_session.update"})
