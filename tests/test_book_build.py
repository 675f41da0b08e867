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


def test_launch_buttons_point_at_the_notebooks_in_the_repository(built_book):
    """Every chapter page has Colab and Binder buttons that open that chapter's notebook from the configured
    repository (the URL the Colab install cell installs from), with no "./" segment in the path."""
    import html as html_lib

    from shb_lib.book import ROOT, repository_url, toc_notebooks

    owner_repo = repository_url().removeprefix("https://github.com/").removesuffix(".git").strip("/")
    assert owner_repo.count("/") == 1, f"repository.url in _config.yml is not a GitHub repository: {repository_url()}"
    for nb in toc_notebooks():
        rel = nb.relative_to(ROOT).as_posix()
        page = html_lib.unescape((built_book / nb.relative_to(ROOT).with_suffix(".html")).read_text())
        colab = f"https://colab.research.google.com/github/{owner_repo}/blob/main/{rel}"
        binder = f"https://mybinder.org/v2/gh/{owner_repo}/main?urlpath=tree/{rel}"
        assert f'href="{colab}"' in page, f"{rel}: no Colab button for {colab}"
        assert f'href="{binder}"' in page, f"{rel}: no Binder button for {binder}"


def test_binder_finds_its_environment_at_the_repository_root():
    """repo2docker reads runtime.txt and requirements.txt at the root; the requirements install the library."""
    from shb_lib.book import ROOT

    runtime = (ROOT / "runtime.txt").read_text().strip()
    # the pins (constraints.txt) are frozen on Python 3.11, the version this project is built and tested on
    assert runtime == "python-3.11", f"runtime.txt says {runtime!r}; the pinned environment is Python 3.11"
    lines = [l.split("#")[0].strip() for l in (ROOT / "requirements.txt").read_text().splitlines()]
    assert "-e ." in lines, "requirements.txt must install the library itself (-e .) for Binder and the README"
