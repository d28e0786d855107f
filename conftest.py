"""Shared pytest configuration (tests and nbval): deterministic hypothesis runs, a clean plotting
environment, and the per-chapter execution budget."""

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


# Time budget: every chapter should execute in under CHAPTER_BUDGET_S seconds (30 by default) when
# nbval re-runs it; durations of a notebook's cells are summed (on the xdist controller too) and
# reported. Wall-clock time depends on the machine's load, so the run fails only on a gross overrun,
# GROSS_OVERRUN times the budget (2 by default): CI stays green on a busy machine, a chapter that
# became several times slower still fails.
import collections  # noqa: E402

CHAPTER_BUDGET_S = float(os.environ.get("CHAPTER_BUDGET_S", "30"))
GROSS_OVERRUN = float(os.environ.get("GROSS_OVERRUN", "2"))
_notebook_seconds = collections.defaultdict(float)


def pytest_runtest_logreport(report):
    path = report.nodeid.split("::", 1)[0]
    if path.endswith(".ipynb"):
        _notebook_seconds[path] += report.duration


def pytest_terminal_summary(terminalreporter):
    if not _notebook_seconds:
        return
    terminalreporter.section("chapter execution times (nbval)")
    for path, seconds in sorted(_notebook_seconds.items()):
        flag = ("  GROSS OVERRUN" if seconds > GROSS_OVERRUN * CHAPTER_BUDGET_S
                else "  over budget" if seconds > CHAPTER_BUDGET_S else "")
        terminalreporter.write_line(f"{seconds:6.1f} s  {path}{flag}")


def pytest_sessionfinish(session, exitstatus):
    limit = GROSS_OVERRUN * CHAPTER_BUDGET_S
    over = {p: round(s, 1) for p, s in _notebook_seconds.items() if s > limit}
    if over and exitstatus == 0:
        session.exitstatus = 1
        print(f"\nchapters over {GROSS_OVERRUN:g} x the {CHAPTER_BUDGET_S:.0f} s budget: {over}")
