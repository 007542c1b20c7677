"""Paging the people on call: a small port with a recording fake and real transports."""

from escapevelocity.adapters.notify.pager import (
    EmailPager,
    FanoutPager,
    Page,
    Pager,
    PageResult,
    RecordingPager,
    WebhookPager,
    pager_from_env,
)

__all__ = ["EmailPager", "FanoutPager", "Page", "PageResult", "Pager", "RecordingPager",
           "WebhookPager", "pager_from_env"]
