"""The barge-in playhead without a session: what was forwarded and played per item, flushes, and the truncate."""

from __future__ import annotations

from rtwidget.audio import SAMPLES_PER_MS
from rtwidget.widget.playhead import Playhead, Truncate


def playing(forwarded: int, played: int = 0, item: str = "a") -> Playhead:
    head = Playhead()
    assert head.forward(item, forwarded)
    if played:
        assert head.report(item, played, final=False) is None
    return head


def test_forwarded_and_played_add_up_per_item() -> None:
    head = Playhead()
    assert not head.unplayed()
    assert head.forward("a", 2400) and head.forward("a", 2400) and head.forward("b", 100)
    assert head.forwarded == {"a": 4800, "b": 100}
    assert head.unplayed()
    assert head.report("a", 4800, final=False) is None
    assert head.report("a", 1000, final=False) is None  # reports are cumulative: a smaller one changes nothing
    assert head.played == {"a": 4800}
    assert head.unplayed()  # b is still queued
    assert head.report("b", 100, final=False) is None
    assert not head.unplayed()


def test_a_final_report_after_a_flush_truncates_at_the_played_position() -> None:
    head = playing(forwarded=24_000, played=4_800)
    head.flush()
    assert head.awaiting_final and head.flushed == {"a"}
    cut = head.report("a", 7_200, final=True)
    assert cut == Truncate("a", 7_200 / SAMPLES_PER_MS) == Truncate("a", 300.0)
    assert not head.awaiting_final
    # The item's playback is over: nothing of it counts as unplayed any more.
    assert head.forwarded["a"] == head.played["a"] == 7_200 and not head.unplayed()


def test_nothing_is_cut_when_playback_had_finished() -> None:
    head = playing(forwarded=24_000, played=24_000)
    head.flush()
    assert head.report("a", 24_000, final=True) is None
    assert not head.awaiting_final


def test_the_cut_stays_within_the_audio_received() -> None:
    head = playing(forwarded=4_800)
    head.flush()
    assert head.report("a", 9_600, final=True) is None  # more reported than ever sent: nothing to cut


def test_only_the_final_report_after_a_flush_truncates() -> None:
    head = playing(forwarded=24_000)
    assert head.report("a", 100, final=True) is None  # final without a flush (e.g. the mic stopped): no cut
    head.flush()
    assert head.report("a", 200, final=False) is None  # a periodic report in between: still waiting
    assert head.report("a", 300, final=True) == Truncate("a", 300 / SAMPLES_PER_MS)
    assert head.report("a", 400, final=True) is None  # one truncate per flush


def test_a_final_report_without_an_item_ends_the_wait_and_cuts_nothing() -> None:
    head = playing(forwarded=24_000)
    head.flush()
    assert head.report(None, 0, final=True) is None
    assert not head.awaiting_final
    assert head.report("a", 10, final=True) is None


def test_deltas_in_flight_for_a_flushed_item_are_not_played() -> None:
    head = playing(forwarded=4_800)
    head.flush()
    assert not head.forward("a", 2_400)
    assert head.forwarded == {"a": 4_800}
    assert head.forward("b", 2_400)  # the next response's item plays
    assert head.forwarded == {"a": 4_800, "b": 2_400}


def test_reset_forgets_everything() -> None:
    head = playing(forwarded=4_800, played=100)
    head.flush()
    head.reset()
    assert (head.forwarded, head.played, head.flushed, head.awaiting_final) == ({}, {}, set(), False)
    assert head.forward("a", 10)  # after a reconnect an id is new again
