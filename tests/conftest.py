"""Shared fixtures: the built book (built once per session) and the record of what nbval collected."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

from shb_lib.precision import use_float64

# The tests run as the chapters do: JAX's 64-bit mode on (shb_lib.precision; importing shb_lib changes nothing).
use_float64()

ROOT = pathlib.Path(__file__).resolve().parent.parent
_NBVAL_COLLECTED: set[pathlib.Path] = set()


def pytest_collection_modifyitems(session, config, items):
    for item in items:
        path = pathlib.Path(str(item.fspath)).resolve()
        if path.suffix == ".ipynb":
            _NBVAL_COLLECTED.add(path)


@pytest.fixture(scope="session")
def nbval_collected() -> set[pathlib.Path]:
    """The notebooks that nbval collected in this session (resolved paths)."""
    return _NBVAL_COLLECTED


@pytest.fixture(scope="session")
def full_run(request) -> bool:
    """True when pytest runs the whole suite (no paths given, so ``testpaths`` applies)."""
    return not request.config.invocation_params.args or all(
        a.startswith("-") for a in request.config.invocation_params.args
    )


def build_book(out_dir: pathlib.Path) -> subprocess.CompletedProcess:
    """``jupyter-book build . -W -n --keep-going --all`` into ``out_dir``; returns the finished process."""
    exe = pathlib.Path(sys.executable).parent / "jupyter-book"
    cmd = [str(exe), "build", str(ROOT), "--path-output", str(out_dir), "-W", "-n", "--keep-going", "--all"]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="session")
def book_build(tmp_path_factory):
    """Build the whole book once per session, warnings as errors; returns (process, html folder)."""
    out = tmp_path_factory.mktemp("book")
    proc = build_book(out)
    return proc, out / "_build" / "html"


@pytest.fixture(scope="session")
def built_book(request) -> pathlib.Path:
    """The ``_build/html`` folder of a warning-free build of the book (fails the test if the build failed).

    ``SHB_BUILT_BOOK=<folder>/_build/html`` uses a book built beforehand instead (a targeted run of the browser
    tests; the suite's own run leaves it unset and builds)."""
    given = os.environ.get("SHB_BUILT_BOOK")
    if given:
        html = pathlib.Path(given)
        if not (html / "book").is_dir():
            pytest.fail(f"SHB_BUILT_BOOK={given} is not the _build/html folder of a build of the book")
        return html
    proc, html = request.getfixturevalue("book_build")
    if proc.returncode != 0:
        pytest.fail(f"jupyter-book build failed (exit {proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return html


@pytest.fixture(scope="session")
def artifacts_dir() -> pathlib.Path:
    """Where tests leave artifacts for people to look at (screenshots); gitignored."""
    path = pathlib.Path(os.environ.get("SHB_TEST_ARTIFACTS", ROOT / "test-artifacts"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def chromium():
    """Debian's Chromium under Playwright (tests/browser_support.py), one per test module: skipped without a browser,
    failed instead when ``SHB_REQUIRE_BROWSER=1``. Module scope, not session: Playwright's sync API allows one running
    instance at a time, and a module may start its own."""
    import browser_support

    browser_support.need_browser()
    with browser_support.launch() as browser:
        yield browser



# Property tests draw the same examples on every run (CI must not pass or fail by chance); cases they once found are
# pinned with @example.
from hypothesis import settings as _hypothesis_settings  # noqa: E402

_hypothesis_settings.register_profile("shb", derandomize=True, database=None)
_hypothesis_settings.load_profile("shb")
