"""Debian's Chromium driven by Playwright, set up once for every browser test (and for ``shb_lib.pdf``'s tests).

* :func:`need_browser` skips a test when Playwright or Chromium is missing, or fails it when ``SHB_REQUIRE_BROWSER=1``
  (CI), so that a missing browser cannot pass for a green run.
* :func:`launch` starts Chromium (``SHB_CHROMIUM``, default ``/usr/bin/chromium``) with the flags a container needs;
  the ``chromium`` fixture of ``tests/conftest.py`` wraps it (one browser per test module).
* :class:`OfflinePage` opens one page from ``file://`` with every other request blocked, as a reader without network
  sees it, and records what went wrong: requests outside ``file:``/``data:``/``blob:``/``about:`` (``blocked``),
  requests that failed (``failed``), uncaught exceptions (``page_errors``), console errors (``console_errors``), and
  the files the page loaded with their size on disk (``loaded``, for the page-weight budget).
"""

from __future__ import annotations

import os
import pathlib
import urllib.parse
import urllib.request

import pytest

# The executable (SHB_CHROMIUM, default /usr/bin/chromium), its flags and the launch are shb_lib.pdf's, which prints
# the book with the same browser.
from shb_lib.pdf import CHROMIUM, CHROMIUM_ARGS  # noqa: E402,F401
from shb_lib.pdf import launch_chromium as launch  # noqa: E402,F401

#: The schemes a page may load from: its own files and what it makes itself.
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")
#: TeX left as text when MathJax did not run (or did not find the math).
RAW_TEX = ("\\(", "\\)", "\\[", "\\]", "$$", "\\begin{", "\\end{")
#: Pages of a jupyter-book build that are not content.
NON_CONTENT = {"genindex.html", "search.html", "py-modindex.html"}


def content_pages(html_root: pathlib.Path) -> list[pathlib.Path]:
    """The content pages of a built book: not the index, search or redirect pages, nothing under ``_static``."""
    out = []
    for p in sorted(html_root.rglob("*.html")):
        rel = p.relative_to(html_root)
        if p.name in NON_CONTENT or any(part.startswith("_") for part in rel.parts):
            continue
        if 'http-equiv="Refresh"' in p.read_text(encoding="utf-8", errors="replace")[:500]:
            continue  # index.html: a redirect to the root page
        out.append(p)
    return out


def browser_problem() -> str | None:
    """Why no browser test can run here (None: Playwright imports and Chromium is an executable)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:
        return f"the playwright package is not importable ({exc})"
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return f"no Chromium at {CHROMIUM} (apt-get install -y chromium)"
    return None


def need_browser() -> None:
    """Skip the calling test without a browser; fail it instead when ``SHB_REQUIRE_BROWSER=1``."""
    problem = browser_problem()
    if problem:
        if os.environ.get("SHB_REQUIRE_BROWSER") == "1":
            pytest.fail(f"SHB_REQUIRE_BROWSER=1 but {problem}")
        pytest.skip(problem)


def file_path(url: str) -> pathlib.Path | None:
    """The file a ``file://`` URL names (None for any other URL)."""
    if not url.startswith("file:"):
        return None
    return pathlib.Path(urllib.request.url2pathname(urllib.parse.urlsplit(url).path))


class OfflinePage:
    """One page opened from disk in a fresh browser context with the network blocked.

    Args:
        browser: a Playwright ``Browser`` (the ``chromium`` fixture).
        target: a local file (``pathlib.Path``) or a URL (``file://`` or ``about:``).
        width, height: the viewport in CSS pixels.
        javascript: run the page's scripts (False: what an untrusted notebook shows).
        wait_until: Playwright's load state to wait for ("load", "domcontentloaded", "networkidle").
        init_script: JavaScript run in the page before any of its own scripts.

    Use as a context manager, or call :meth:`close`.
    """

    def __init__(self, browser, target, width: int = 1280, height: int = 900, javascript: bool = True,
                 wait_until: str = "load", init_script: str | None = None):
        self.context = browser.new_context(viewport={"width": width, "height": height},
                                           java_script_enabled=javascript)
        self.blocked: list[str] = []
        self.failed: list[str] = []
        self.page_errors: list[str] = []
        self.console_errors: list[tuple[str, str]] = []
        self.loaded: dict[str, tuple[str, int]] = {}  # url -> (resource type, bytes on disk)

        def route(r):
            if r.request.url.startswith(LOCAL_SCHEMES):
                r.continue_()
            else:
                self.blocked.append(r.request.url)
                r.abort()

        self.context.route("**/*", route)
        if init_script:
            self.context.add_init_script(init_script)
        self.page = self.context.new_page()
        self.page.on("pageerror", lambda exc: self.page_errors.append(str(exc)))
        self.page.on("requestfailed", self._request_failed)
        self.page.on("request", self._request)

        def console(msg):
            if msg.type == "error":
                self.console_errors.append((msg.text, (msg.location or {}).get("url", "")))

        self.page.on("console", console)
        url = target.resolve().as_uri() if isinstance(target, pathlib.Path) else str(target)
        self.page.goto(url, wait_until=wait_until)

    def _request(self, request) -> None:
        path = file_path(request.url)
        if path is not None and path.is_file():
            self.loaded[request.url] = (request.resource_type, path.stat().st_size)

    def _request_failed(self, request) -> None:
        if request.url not in self.blocked:
            self.failed.append(request.url)

    def errors(self) -> list[str]:
        """Every JavaScript error: uncaught exceptions, then console errors other than the "Failed to load
        resource" of a request this page blocked (those are in :attr:`blocked`)."""
        console = [text for text, url in self.console_errors
                   if not (text.startswith("Failed to load resource") and url and not url.startswith("file:"))]
        return self.page_errors + console

    def wait_for_math(self) -> None:
        """Wait until MathJax, where the page loads it, has typeset the page (its deferred script has run by
        the load event; typesetting finishes with ``MathJax.startup.promise``)."""
        self.page.evaluate("async () => { if (window.MathJax && MathJax.startup && MathJax.startup.promise)"
                           " { await MathJax.startup.promise; } }")

    def close(self) -> None:
        self.context.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
