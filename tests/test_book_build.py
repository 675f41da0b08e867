"""The book builds from the repository root with warnings as errors (`jupyter-book build . -W -n --keep-going`)."""

from __future__ import annotations

import re


def test_book_builds_without_warnings(book_build):
    proc, html = book_build
    log = proc.stdout + proc.stderr
    warnings = [l for l in log.splitlines() if re.search(r"\bWARNING\b|\bERROR\b", l)]
    assert proc.returncode == 0 and not warnings, "build failed or warned:\n" + "\n".join(warnings or [log[-3000:]])
    assert (html / "index.html").is_file()


def test_every_toc_page_rendered(built_book):
    from shb_lib.book import ROOT, toc_notebooks

    for nb in toc_notebooks():
        page = built_book / nb.relative_to(ROOT).with_suffix(".html")
        assert page.is_file(), f"{page} was not rendered"
        text = page.read_text()
        assert "Traceback" not in text, f"{page.name} shows a traceback"
