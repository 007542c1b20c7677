"""twcs replay: a file in the "Customer Support on Twitter" format (CSV or JSONL) replayed in
its original timing, optionally sped up, as live traffic for drills and demos (times moved to
the replay's clock) or as history (original times: never seen by the crisis detectors)."""

from escapevelocity.channels.base import Capabilities, Channel


def _open(settings, secrets, keep):
    from escapevelocity.channels.twcs.client import ReplayConnector

    return ReplayConnector(settings, secrets, keep)


CHANNEL = Channel(
    name="twcs", title="twcs file replay",
    capabilities=Capabilities(reply=False, public=True, private=False, max_chars=280),
    open=_open, settings=("path",), optional=("speed", "live", "batch", "since"), secrets=(),
    notes="`speed` 60 replays an hour a minute; `live` false keeps the original dates "
    "(historical)", defaults={"speed": 1.0, "live": True})
