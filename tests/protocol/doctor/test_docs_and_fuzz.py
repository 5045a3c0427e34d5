"""The rules' pages in docs/doctor.md, and hostile event sequences the doctor must take without raising."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rtwidget.protocol.doctor import DOCS_PAGE, LEVELS, Doctor, Hint
from rtwidget.protocol.events import Codec

from .. import fuzz_strategies as F
from .flow import T0

DOCS = Path(__file__).resolve().parents[3] / DOCS_PAGE
FUZZ = settings(
    max_examples=80,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def anchors() -> list[str]:
    return re.findall(r'<a id="([a-z0-9-]+)"></a>\n## ([a-z0-9-]+)\n', DOCS.read_text(encoding="utf-8"))


def test_every_rule_has_its_section_and_every_section_is_a_rule() -> None:
    rules = list(Doctor().rules)
    found = anchors()
    assert all(anchor == heading for anchor, heading in found), found
    assert sorted(a for a, _ in found) == sorted(rules)
    assert len(re.findall(r'<a id="', DOCS.read_text(encoding="utf-8"))) == len(rules)


def test_every_section_shows_the_wrong_and_the_right_flow() -> None:
    sections = DOCS.read_text(encoding="utf-8").split('<a id="')[1:]
    for section in sections:
        assert "**Watches:**" in section and "**Why:**" in section, section[:40]
        assert "\nWrong:\n```" in section and "\nRight:\n```" in section, section[:40]


CLIENT = st.fixed_dictionaries(
    {
        "type": st.sampled_from(
            [
                "response.create",
                "conversation.item.create",
                "session.update",
                "conversation.item.truncate",
                "input_audio_buffer.append",
                "transcription_session.update",
            ]
        )
    },
    optional={"event_id": F.ID, "item": F.ANY, "response": F.ANY, "session": F.ANY, "item_id": F.ID},
)


def check(hints: list[Hint]) -> None:
    for hint in hints:
        assert hint.level in LEVELS and hint.what and hint.fix and hint.url.startswith(DOCS_PAGE)
        assert all(isinstance(i, str) and i for i in hint.event_ids)


@FUZZ
@given(F.session_events(), st.lists(CLIENT, max_size=8), st.sampled_from(["ga", "beta"]), st.data())
def test_hostile_sequences_never_raise(events: list[Any], sent: list[Any], dialect: str, data: st.DataObject) -> None:
    doctor = Doctor(dialect)
    codec = Codec(dialect)
    now = T0
    for i, raw in enumerate(events):
        now += data.draw(st.floats(0, 3))
        event = codec.decode(F.wire(raw))
        if event.type == "error":
            event.cause = data.draw(st.one_of(st.none(), F.ANY.filter(lambda v: isinstance(v, dict))))
        check(doctor.server_received(event, now))
        if i < len(sent):
            check(doctor.client_sent(sent[i], now))
            check(doctor.client_refused(sent[i], "refused", now))
        check(doctor.input_level(data.draw(st.floats(allow_nan=True)), data.draw(st.floats(allow_nan=True)), now))
        doctor.playback(data.draw(st.sampled_from(F.IDS)), data.draw(st.floats(allow_nan=True)), True, now)
        deadline = doctor.next_deadline()
        ticked = max(deadline, now) if deadline is not None else now
        check(doctor.tick(ticked))
        later = doctor.next_deadline()
        assert later is None or later > ticked  # a tick at the deadline moves it on: the caller's timer never spins
