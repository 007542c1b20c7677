"""The log readers' watermark (domain/watermark.py): the low mark stops below a hole, what is
above it is handled once, a hole waits GAP_SECONDS, a hole too wide to time is passed over."""

from __future__ import annotations

from escapevelocity.domain.watermark import GAP_SECONDS, MAX_SPAN, Watermark


def test_a_hole_holds_the_low_mark_and_filling_it_releases_the_mark():
    mark = Watermark.at(10).advance([11, 13, 14], now=0.0)
    assert (mark.low, mark.high, dict(mark.missing)) == (11, 14, {12: 0.0})
    mark = mark.advance([], now=1.0)  # nothing came: still waiting, nothing moved
    assert (mark.low, mark.high, set(mark.missing)) == (11, 14, {12})
    mark = mark.advance([12, 15], now=2.0)
    assert (mark.low, mark.high, dict(mark.missing)) == (15, 15, {})


def test_a_hole_that_never_fills_is_given_up_after_the_gap():
    mark = Watermark.at(0).advance([1, 4], now=100.0)
    assert mark.low == 1 and set(mark.missing) == {2, 3}
    assert mark.advance([], now=100.0 + GAP_SECONDS - 0.1).low == 1
    later = mark.advance([5], now=100.0 + GAP_SECONDS)
    assert (later.low, later.high, dict(later.missing)) == (5, 5, {})


def test_each_hole_waits_from_when_it_was_first_missed():
    mark = Watermark.at(0).advance([2], now=0.0).advance([4], now=8.0)
    assert dict(mark.missing) == {1: 0.0, 3: 8.0}
    mark = mark.advance([], now=GAP_SECONDS)  # 1 given up, 3 still waited for
    assert (mark.low, dict(mark.missing)) == (2, {3: 8.0})


def test_a_hole_wider_than_max_span_is_not_waited_for():
    far = 1 + MAX_SPAN + 2
    mark = Watermark.at(0).advance([1, far], now=0.0)
    assert (mark.low, mark.high, dict(mark.missing)) == (far, far, {})


def test_seqs_told_again_or_below_the_mark_change_nothing():
    mark = Watermark.at(5).advance([7], now=0.0)
    assert mark.advance([3, 7], now=1.0) == Watermark(5, 7, mark.missing)
