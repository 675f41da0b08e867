"""Suite-wide hooks (a root conftest, so that they also see nbval's notebook items under book/).

Prints the time each phase of the suite took: unit tests, each chapter under nbval, the book build + browser test;
makes nbval honour a cell's declared numeric tolerance (``tests/nbval_numeric.py``: only cells whose metadata says
``shb.rtol`` with its reason; every other cell is compared exactly).
"""

from __future__ import annotations

import os
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent / "tests"))
import nbval_numeric  # noqa: E402


def pytest_configure(config):
    # nbval's kernels inherit this environment. A non-inline MPLBACKEND (e.g. Agg, common on CI machines) would make
    # every figure vanish from the re-executed chapters; without it matplotlib picks Agg by itself when headless.
    os.environ.pop("MPLBACKEND", None)
    nbval_numeric.install()


_DURATIONS: dict[str, float] = {}


def _phase(nodeid: str) -> str:
    path = nodeid.split("::")[0]
    if path.endswith(".ipynb"):
        return f"nbval {pathlib.Path(path).name}"
    if any(name in path for name in ("test_browser", "test_book_build", "test_offline_book",
                                      "test_explorables_browser", "test_pdf")):
        return "book build + browser"
    if "test_portability" in path:
        return "nbval, network chapters under SSE4.2"
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
