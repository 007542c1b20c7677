"""The pure rules of outbound replies: what a reply button says, which switch wins, the
idempotency key and Bluesky's record key derived from it, a form's text as a setting."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from escapevelocity.domain.outbound import Mode, idempotency_key, load_mode, reply_label


def test_the_button_says_where_the_words_go():
    assert reply_label("public", live=False, can_send=True, title="Mastodon") == \
        "Send public reply (dry run)"
    assert reply_label("private", live=True, can_send=True, title="Mastodon") == \
        "Send private reply — sends to Mastodon"
    assert reply_label("public", live=True, can_send=False, title="RSS / Atom feeds") == \
        "Send public reply (recorded only: RSS / Atom feeds cannot send)"
    assert reply_label("public", live=False, can_send=False, title="RSS") == \
        "Send public reply (dry run)"  # the default says nothing leaves, on every channel


def test_a_connection_s_switch_beats_its_channel_s_which_beats_the_workspace_s():
    mode = Mode("dry_run", {"acme-masto": "live", "reddit": "live", "r-quiet": "dry_run"})
    assert mode.live_for("acme-masto", "mastodon")
    assert mode.live_for("r-acme", "reddit") and not mode.live_for("r-quiet", "reddit")
    assert not mode.live_for("sky", "bluesky")
    assert Mode("live").live_for("sky", "bluesky")
    with pytest.raises(ValueError):
        load_mode(b'{"workspace": "loud"}')


def test_one_key_per_reply_and_a_valid_stable_bluesky_record_key():
    from escapevelocity.channels.bluesky.send import record_key

    key = idempotency_key("c1f2", 42)
    assert key == "ev-c1f2-42" and key != idempotency_key("c1f2", 43)
    at = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)
    rkey = record_key(key, at)
    assert re.fullmatch(r"[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}", rkey)
    assert rkey == record_key(key, at) and rkey != record_key(idempotency_key("c1f2", 43), at)
    assert record_key(key, at + timedelta(seconds=1)) > rkey  # TIDs sort by time


def test_form_text_becomes_typed_settings():
    from escapevelocity.services.connections import coerce, shown

    assert coerce("hashtags", "#acme, #help ,") == ["#acme", "#help"]
    assert coerce("ssl", "false") is False and coerce("speed", "60") == 60
    assert coerce("timeout", "2.5") == 2.5 and coerce("base_url", " https://a ") == "https://a"
    assert shown({"urls": ["a", "b"], "ssl": True, "handles": {"d": "h"}}) == {
        "urls": "a, b", "ssl": "true"}


def test_a_reply_window_closes_after_its_length_and_none_never_does():
    from datetime import UTC, datetime, timedelta

    from escapevelocity.domain.outbound import window_closed

    posted = datetime(2026, 1, 1, tzinfo=UTC)
    day = timedelta(days=1)
    assert not window_closed(180 * day, posted, posted + 180 * day)
    assert window_closed(180 * day, posted, posted + 181 * day)
    assert not window_closed(None, posted, posted + 10_000 * day)
