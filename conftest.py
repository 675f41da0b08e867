"""Suite-wide hooks (a root conftest, so that they also see nbval's notebook items under book/).

Prints the time each phase of the suite took: unit tests, each chapter under nbval, the book build + browser test.
"""

from __future__ import annotations

import os
import pathlib


def pytest_configure(config):
    # nbval's kernels inherit this environment. A non-inline MPLBACKEND (e.g. Agg, common on CI machines) would make
    # every figure vanish from the re-executed chapters; without it matplotlib picks Agg by itself when headless.
    os.environ.pop("MPLBACKEND", None)


_DURATIONS: dict[str, float] = {}


def _phase(nodeid: str) -> str:
    path = nodeid.split("::")[0]
    if path.endswith(".ipynb"):
        return f"nbval {pathlib.Path(path).name}"
    if "test_browser" in path or "test_book_build" in path:
        return "book build + browser"
    return "unit tests"


def pytest_runtest_logreport(report):
    _DURATIONS[_phase(report.nodeid)] = _DURATIONS.get(_phase(report.nodeid), 0.0) + report.duration


def pytest_terminal_summary(terminalreporter):
    """Print how long each phase of the suite took (CI reads this)."""
    if not _DURATIONS:
        return
    terminalreporter.section("time per phase")
    for name, seconds in sorted(_DURATIONS.items()):
        terminalreporter.write_line(f"{name:<45s} {seconds:8.1f} s")
