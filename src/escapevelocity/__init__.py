"""Escape Velocity: social media triage and command center.

The public surface: the records that flow through the pipeline, the clock, and `triage_one`,
the pure ingest → enrich → decide → route step that batch triage, the live service, drills
and evaluation all share.
"""

from escapevelocity.domain.clock import Clock, FixedClock, SimulatedClock, SystemClock
from escapevelocity.domain.records import Assignment, Author, Decision, Mention, Signals, Triage

__all__ = [
    "Assignment", "Author", "Clock", "Decision", "FixedClock", "Mention", "Signals",
    "SimulatedClock", "SystemClock", "Triage",
]
__version__ = "0.1.0"
