"""Shared pytest configuration: the Hypothesis profiles.

``dev`` is the quick default; ``ci`` (what ``make test`` and CI use) runs at least 1,000
examples per property and per stateful test. Choose one with the ``HYPOTHESIS_PROFILE``
environment variable.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile("dev", max_examples=50, deadline=None)
settings.register_profile(
    "ci",
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
