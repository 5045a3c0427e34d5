"""The engine calls each check only for the hooks it implements; Check's own hooks do nothing."""

from __future__ import annotations

from rtwidget.protocol.doctor import Doctor, Hint, Rule
from rtwidget.protocol.doctor.check import Check
from rtwidget.protocol.doctor.engine import _implementing
from rtwidget.protocol.doctor.state import State
from rtwidget.protocol.events import Event


class OnlyReceives(Check):
    rule = Rule("only-receives", "info", "a check with one hook")

    def server_received(self, event: Event, now: float) -> list[Hint]:
        return []


def test_a_check_is_called_only_for_what_it_implements() -> None:
    check = OnlyReceives(State("ga"))
    assert _implementing([check], "server_received") == [check]
    for hook in ("client_sent", "client_refused", "input_level", "tick", "deadline"):
        assert _implementing([check], hook) == []
    # What it does not implement is Check's: nothing raised, no deadline.
    assert Check.server_received(check, Event("response.done", {}), 1.0) == []
    assert check.client_sent({"type": "response.create"}, 1.0) == []
    assert check.client_refused({"type": "x"}, "refused", 1.0) == []
    assert check.input_level(-20.0, 100.0, 1.0) == []
    assert check.tick(1.0) == []
    assert check.deadline() is None


def test_every_rule_runs_for_some_feed_and_the_silence_rules_have_deadlines() -> None:
    doctor = Doctor()
    hooked = {c.rule.id for name, checks in doctor._hooks.items() if name != "deadline" for c in checks}
    assert hooked == set(doctor.rules)
    waiting = {c.rule.id for c in doctor._hooks["deadline"]}
    assert {"silent-after-output", "barge-in-no-truncate", "session-expiring"} <= waiting


def test_timers_next_is_always_the_earliest_due_time() -> None:
    import random

    from rtwidget.protocol.doctor.check import Timers
    from rtwidget.protocol.doctor.state import LIMIT

    rng = random.Random(7)
    timers = Timers()
    for step in range(5000):
        action = rng.random()
        if action < 0.6:
            timers.arm(rng.randrange(LIMIT + 40), rng.uniform(0, 100), step)  # re-arms and trims too
        elif action < 0.8:
            timers.cancel(rng.randrange(LIMIT + 40))
        elif action < 0.99:
            timers.expired(rng.uniform(0, 30))
        else:
            timers.cancel()
        assert timers.next() == min((at for at, _ in timers.due.values()), default=None), step


def test_beta_names_on_a_beta_connection_are_no_mistake() -> None:
    doctor = Doctor("beta")
    assert doctor.server_received(Event("response.audio.delta", {"type": "response.audio.delta"}), 1.0) == []
    doctor.dialect = "ga"
    [hint] = doctor.server_received(Event("response.audio.delta", {"type": "response.audio.delta"}), 2.0)
    assert hint.rule == "beta-on-ga" and "response.output_audio.delta" in hint.what
