"""A drill short enough for tests played by people: a one-hour scenario whose mentions all
arrive in its first minutes, with one day of learned history, so it prepares in seconds."""

SCENARIO = """
name: warm-up
title: "Warm-up: a billing glitch"
start: 2026-05-22T18:00:00+01:00
duration_hours: 1
seed: 5
history_days: 1
regular: {per_hour: 1}
keywords: [billing glitch]
personas:
  angry_customer:
    pool: 20
    templates:
      accurate:
        - "billing glitch charged me twice this month, please refund"
        - "your billing glitch took money from my account twice, fix it"
phases:
  - name: glitch
    start: 0
    end: 0.1
    volume: {start: 60, end: 60}
    personas: {angry_customer: 1}
    mix: {accurate: 1.0}
expected:
  level: watch
responders:
  on_duty: [ana, leo]
"""
