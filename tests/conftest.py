"""Shared test configuration: deterministic hypothesis runs and a clean plotting environment."""

import os

from hypothesis import HealthCheck, settings

# Reproducible property tests: the same examples on every run, no wall-clock deadline (2-core CI).
settings.register_profile(
    "book",
    derandomize=True,
    deadline=None,
    max_examples=60,
    suppress_health_check=[HealthCheck.too_slow],
    database=None,
)
settings.load_profile("book")

# Notebooks run by nbval must use the inline backend so that figures are produced as in the book.
os.environ.pop("MPLBACKEND", None)
