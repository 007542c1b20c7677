"""Streaming crisis detection: the pure core (no I/O, no clock; time comes in as arguments).

- `CrisisMonitor.observe(...)` per mention: overall and per-topic volume and negative share.
- `VolumeDetector.update(hour, count)` for a pre-aggregated hourly series.
- `ShareDetector`, `OpsDetector` for negative share and operational signals.
See docs/crisis.md for the method and the severity scale.
"""

from escapevelocity.domain.crisis.detectors import SeasonalBaseline, ShareDetector, VolumeDetector
from escapevelocity.domain.crisis.model import (
    EPOCH,
    LEVELS,
    OVERALL,
    RANK,
    Alert,
    Settings,
    hour_index,
    hour_start,
    severity,
    share_step,
    volume_step,
)
from escapevelocity.domain.crisis.monitor import CrisisMonitor
from escapevelocity.domain.crisis.ops import OpsDetector, OpsSettings

__all__ = [
    "EPOCH", "LEVELS", "OVERALL", "RANK", "Alert", "CrisisMonitor", "OpsDetector", "OpsSettings",
    "SeasonalBaseline", "Settings", "ShareDetector", "VolumeDetector", "hour_index", "hour_start",
    "severity", "share_step", "volume_step",
]
