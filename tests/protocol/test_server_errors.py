"""error_info: one reading of an error event's ``error`` object, whatever shape the server sent."""

from __future__ import annotations

import pytest

from rtwidget.protocol.server_errors import ErrorInfo, error_info


def test_a_whole_error_event_reads_its_error_object() -> None:
    info = error_info(
        {
            "type": "error",
            "event_id": "evt_server",
            "error": {
                "type": "invalid_request_error",
                "code": "invalid_value",
                "message": "bad voice",
                "param": "session.audio.output.voice",
                "event_id": "evt_client_7",
            },
        }
    )
    assert info == ErrorInfo(
        code="invalid_value",
        message="bad voice",
        type="invalid_request_error",
        param="session.audio.output.voice",
        event_id="evt_client_7",
    )
    assert info.label == "invalid_value" and str(info) == "invalid_value: bad voice"
    assert not info.harmless and not info.terminal


def test_the_error_object_alone_reads_the_same() -> None:
    assert error_info({"code": "session_expired", "message": "gone"}).terminal
    assert error_info({"code": "response_cancel_not_active", "message": "late"}).harmless


@pytest.mark.parametrize(
    ("raw", "message"),
    [({"type": "error", "error": "plain words"}, "plain words"), ({"type": "error"}, ""), (["x"], "['x']")],
)
def test_malformed_errors_keep_their_words_and_have_no_code(raw: object, message: str) -> None:
    info = error_info(raw)
    assert info.code is None and info.message == message and info.label == "error"


def test_non_string_fields_are_dropped_or_stringified() -> None:
    info = error_info({"type": "error", "error": {"code": 42, "type": "", "message": {"a": 1}, "event_id": None}})
    assert info.code is None and info.type is None and info.event_id is None
    assert info.message == "{'a': 1}"
    assert error_info({"message": None}).message == ""
