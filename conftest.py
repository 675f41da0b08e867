"""Suite-wide hooks (a root conftest, so that they also see nbval's notebook items under book/).

Prints the time each phase of the suite took: unit tests, each chapter under nbval, the book build + browser test;
makes nbval honour a cell's declared numeric tolerance (``tests/nbval_numeric.py``: only cells whose metadata says
``shb.rtol`` with its reason; every other cell is compared exactly); and groups the items for pytest-xdist.

The suite runs on two worker processes (pytest-xdist, ``-n 2 --dist loadscope --no-loadscope-reorder`` in
pyproject.toml), with the scheduler below: ``work_unit`` decides what must share a process (a notebook's cells run in
order in one kernel: one unit per notebook; everything that reads the built book is one unit, so the book is built
once; each portability re-execution is a unit of its own (a subprocess); every other test file is one unit, so its
module fixtures are built once), and the slowest units are handed out first (``SLOWEST_FIRST``), so that the two
workers finish close together. (xdist's own ``--dist loadgroup`` does not group under pytest 9.2: it renames
``item._nodeid``, which pytest 9.2 no longer reads.)
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


#: Test files that use the session's built book (tests/conftest.py ``built_book``): one work unit, one build.
BOOK_FILES = ("test_browser", "test_book_build", "test_offline_book", "test_explorables_browser", "test_pdf")

#: Work units handed out first, slowest first (seconds in a full run on 2 shared cores, 2026-12: portability
#: about 330 each, nbval of chapters 4, 6, 5 306, 204, 179, book build + browser 520); the rest follow in
#: collection order.
SLOWEST_FIRST = ("book build + browser", "portability 04", "book/04", "portability 06", "book/06",
                 "portability 05", "book/05", "book/03")


def work_unit(nodeid: str) -> str:
    """The xdist work unit of a test: the tests that must run in one worker process (see the module docstring)."""
    path = nodeid.split("::")[0]
    if any(name in path for name in BOOK_FILES):
        return "book build + browser"
    if "test_portability" in path:
        return "portability " + nodeid.rsplit("[", 1)[-1].rstrip("]")
    return path


def _rank(nodeid: str) -> int:
    unit = work_unit(nodeid)
    return next((i for i, prefix in enumerate(SLOWEST_FIRST) if unit.startswith(prefix)), len(SLOWEST_FIRST))


def pytest_collection_modifyitems(config, items):
    """Slowest work units first (a stable sort: every unit's tests stay together and in their order)."""
    if getattr(config.option, "numprocesses", None) or hasattr(config, "workerinput"):
        items.sort(key=lambda item: _rank(item.nodeid))


def pytest_xdist_make_scheduler(config, log):
    """xdist's scope scheduler with ``work_unit`` as the scope."""
    from xdist.scheduler import LoadScopeScheduling

    class WorkUnitScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    return WorkUnitScheduling(config, log)


_DURATIONS: dict[str, float] = {}


def _phase(nodeid: str) -> str:
    path = nodeid.split("::")[0]
    if path.endswith(".ipynb"):
        return f"nbval {pathlib.Path(path).name}"
    if any(name in path for name in BOOK_FILES):
        return "book build + browser"
    if "test_portability" in path:
        return "nbval, every chapter under SSE4.2"
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
