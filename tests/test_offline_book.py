"""The built book reads the same with no network: equations and tables need nothing from outside the build.

* MathJax is served by the book itself: ``sphinx-mathjax-offline`` (pinned in requirements.txt, enabled in
  _config.yml) copies MathJax 3 into ``_static/mathjax`` and points ``mathjax_path`` at it. No page's ``<script src>``
  or ``<link href>`` leaves the build (``test_no_page_loads_anything_from_outside_the_build``), and the MathJax file
  every page with math names exists in the build, with its fonts (``test_mathjax_is_served_by_the_book``).
* In Debian's Chromium, every non-``file:`` request blocked, every page's equations are typeset (``mjx-container``
  elements, no MathJax error, no undefined macro) and no raw TeX delimiter is left in the text a reader sees
  (``test_equations_typeset_with_the_network_blocked``). Screenshots of chapter 1 at 1280 and 390 px go to
  ``test-artifacts/screenshots/offline-math__*.png``.
* Markdown tables in outputs are tables: :class:`shb_lib.plotting.estimators.MarkdownTable` has an accessible HTML
  rendering (``test_markdown_table_html_has_header_cells``), and every table a notebook output holds is a
  ``<table>`` on its page, with no pipe-table text left (``test_output_tables_render_as_tables``).

The book is built once per session by the ``built_book`` fixture (tests/conftest.py); the browser comes from the
``chromium`` fixture of tests/conftest.py, pages are opened by ``browser_support.OfflinePage`` (skipped without
Chromium unless ``SHB_REQUIRE_BROWSER=1``).
"""

from __future__ import annotations

import html as html_lib
import pathlib
import posixpath
import re
from html.parser import HTMLParser

import pytest

from browser_support import RAW_TEX, OfflinePage
from browser_support import content_pages as _content_pages

#: Hosts that serve JavaScript and CSS to pages; none may appear in a page's script or link tags.
CDN_HOSTS = ("cdn.jsdelivr.net", "jsdelivr", "cdnjs", "unpkg.com", "polyfill", "googleapis", "gstatic",
             "cloudflare", "mathjax.org", "rawgit", "bootstrapcdn")


class _Tags(HTMLParser):
    """The ``(tag, attributes)`` of every ``<script>`` and ``<link>`` of a page."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "link"):
            self.tags.append((tag, dict(attrs)))


def _tags(page: pathlib.Path) -> list[tuple[str, dict]]:
    parser = _Tags()
    parser.feed(page.read_text(encoding="utf-8", errors="replace"))
    return parser.tags


def _html_pages(built: pathlib.Path) -> list[pathlib.Path]:
    return sorted(p for p in built.rglob("*.html") if "_static" not in p.relative_to(built).parts)


def _mathjax_src(page: pathlib.Path) -> str | None:
    srcs = [a.get("src") or "" for t, a in _tags(page) if t == "script"]
    found = [s for s in srcs if "mathjax" in s.lower() or s.rsplit("/", 1)[-1].startswith("tex-")]
    assert len(found) <= 1, f"{page.name} loads MathJax more than once: {found}"
    return found[0] if found else None


def test_no_page_loads_anything_from_outside_the_build(built_book):
    """No ``<script src>`` and no ``<link href>`` of any built page points at a CDN, or at any other host."""
    pages = _html_pages(built_book)
    assert len(pages) >= 8
    remote = []
    for page in pages:
        for tag, attrs in _tags(page):
            url = attrs.get("src" if tag == "script" else "href") or ""
            if tag == "link" and attrs.get("rel", "") in ("canonical",):
                continue  # an address of the page itself, never fetched
            if re.match(r"^(?:[a-z][a-z0-9+.-]*:)?//", url, re.I) and not url.startswith("file:"):
                remote.append(f"{page.relative_to(built_book)}: <{tag}> {url}")
            assert not any(h in url.lower() for h in CDN_HOSTS), f"{page.name}: <{tag}> from a CDN: {url}"
    assert not remote, "pages load from the network:\n" + "\n".join(remote)


def test_mathjax_is_served_by_the_book(built_book):
    """Every chapter has math, and every page with math loads one MathJax 3 file that is in the build, with the
    fonts its CHTML output asks for (fetched on first use, relative to the script)."""
    from shb_lib.book import ROOT, toc_notebooks

    chapters = {built_book / nb.relative_to(ROOT).with_suffix(".html") for nb in toc_notebooks()}
    with_math = 0
    for page in _html_pages(built_book):
        src = _mathjax_src(page)
        if src is None:
            assert page not in chapters, f"{page.name}: a chapter without MathJax"
            continue
        with_math += 1
        rel = posixpath.normpath(posixpath.join(page.parent.relative_to(built_book).as_posix(), src.split("?")[0]))
        script = built_book / rel
        assert rel.startswith("_static/mathjax/") and script.is_file(), f"{page.name}: MathJax {src} not in the build"
        head = script.read_text(encoding="utf-8", errors="replace")
        assert re.search(r'VERSION="3\.\d+\.\d+"', head), f"{rel}: not a MathJax 3 file"
        fonts = script.parent / "output" / "chtml" / "fonts" / "woff-v2"
        for font in ("MathJax_Main-Regular.woff", "MathJax_Math-Italic.woff", "MathJax_Size1-Regular.woff"):
            assert (fonts / font).is_file(), f"{rel}: font {font} missing from the build"
    assert with_math >= len(chapters) > 0


# --------------------------------------------------------------------------------------------------------------------
# in the browser, offline
# --------------------------------------------------------------------------------------------------------------------

_READ_MATH = """async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) { await MathJax.startup.promise; }
  const skip = new Set(['PRE', 'CODE', 'SCRIPT', 'STYLE', 'TEXTAREA', 'MJX-CONTAINER']);
  const root = document.querySelector('main') || document.body;
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT, {acceptNode: n => {
    for (let e = n.parentElement; e && e !== root.parentElement; e = e.parentElement) {
      if (skip.has(e.tagName)) return NodeFilter.FILTER_REJECT;
    }
    return NodeFilter.FILTER_ACCEPT; }});
  let text = '';
  while (walker.nextNode()) text += walker.currentNode.nodeValue + ' ';
  const math = [...document.querySelectorAll('mjx-container')];
  return {
    version: window.MathJax ? (MathJax.version || null) : null,
    containers: math.length,
    errors: document.querySelectorAll('mjx-merror').length,
    // noundefined: an unknown macro is typeset as its own name in red, so a backslash survives in the math
    undefined: math.filter(m => /\\\\[A-Za-z]/.test(m.textContent)).map(m => m.textContent.slice(0, 60)),
    text: text,
  };
}"""


def _open_offline(browser, page_path: pathlib.Path, width: int):
    o = OfflinePage(browser, page_path, width=width)
    return o.context, o.page, o.blocked, o.failed


def _raw_tex(text: str) -> list[str]:
    hits = []
    for d in RAW_TEX:
        for m in re.finditer(re.escape(d), text):
            hits.append(text[max(0, m.start() - 30): m.end() + 30].replace("\n", " "))
    return hits


def test_equations_typeset_with_the_network_blocked(chromium, built_book, artifacts_dir):
    """Every content page opened from ``file://`` with every other request blocked: MathJax 3 ran from the build,
    every chapter has typeset math, no MathJax error or undefined macro, no raw TeX delimiter in the visible text
    (code blocks excepted), nothing requested outside the build and nothing failed to load (fonts included)."""
    from shb_lib.book import ROOT, toc_notebooks

    chapters = {built_book / nb.relative_to(ROOT).with_suffix(".html") for nb in toc_notebooks()}
    pages = _content_pages(built_book)
    assert chapters <= set(pages)
    report = []
    for path in pages:
        rel = path.relative_to(built_book).as_posix()
        context, page, blocked, failed = _open_offline(chromium, path, 1280)
        try:
            r = page.evaluate(_READ_MATH)
        finally:
            context.close()
        report.append(f"{rel}: {r['containers']} typeset, MathJax {r['version']}")
        assert not blocked, f"{rel} requested outside the build: {blocked}"
        assert not failed, f"{rel}: resources failed to load: {failed}"
        if path in chapters:
            assert r["version"] and r["version"].startswith("3."), f"{rel}: MathJax did not run ({r['version']})"
            assert r["containers"] > 0, f"{rel}: no typeset math"
        assert r["errors"] == 0, f"{rel}: {r['errors']} MathJax errors"
        assert not r["undefined"], f"{rel}: undefined macros typeset as text: {r['undefined']}"
        raw = _raw_tex(r["text"])
        assert not raw, f"{rel}: raw TeX in the rendered text ({len(raw)}), e.g. {raw[:5]}"
    print("\n" + "\n".join(report))

    # what a reader sees: the first chapter around its first display equation, on a laptop and on a phone
    first = built_book / toc_notebooks()[0].relative_to(ROOT).with_suffix(".html")
    shots = artifacts_dir / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    for width in (1280, 390):
        context, page, _, _ = _open_offline(chromium, first, width)
        try:
            page.evaluate("async () => { await MathJax.startup.promise; }")
            eq = page.locator("mjx-container[display='true']").first
            if eq.count():
                eq.scroll_into_view_if_needed()
            page.screenshot(path=str(shots / f"offline-math__{first.stem}-{width}.png"))
            # display equations wider than a phone scroll inside themselves; the page never scrolls sideways
            sw, cw = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
            assert sw <= cw, f"{first.name} at {width} px is {sw} px wide"
        finally:
            context.close()


# --------------------------------------------------------------------------------------------------------------------
# tables
# --------------------------------------------------------------------------------------------------------------------


class _TableCells(HTMLParser):
    """Every ``<table>``'s rows as ``[(tag, scope, text)]``, and which section (thead / tbody) each row is in."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tables: list[dict] = []
        self._section = None
        self._cell = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self.tables.append({"thead": [], "tbody": []})
        elif tag in ("thead", "tbody"):
            self._section = tag
        elif tag == "tr":
            self.tables[-1][self._section].append([])
        elif tag in ("th", "td"):
            self._cell = [tag, attrs.get("scope"), ""]

    def handle_data(self, data):
        if self._cell is not None:
            self._cell[2] += data

    def handle_endtag(self, tag):
        if tag in ("th", "td") and self._cell is not None:
            self.tables[-1][self._section][-1].append(tuple(self._cell))
            self._cell = None


def test_markdown_table_html_has_header_cells():
    """The HTML of a MarkdownTable is one ``<table>``: a ``<thead>`` row of ``<th scope="col">`` with the headers,
    then one ``<tbody>`` row per row with a ``<th scope="row">`` first; cells escaped; every rendering the notebook
    stores (text/html, text/markdown, text/plain) the same on every call."""
    from IPython.core.interactiveshell import InteractiveShell

    from shb_lib.plotting.estimators import MarkdownTable

    headers = ["estimator", "K", "learned α₀", "J − J*"]
    rows = [["truncated backprop", 1, "0.0168 ± 0.014", "<b>&"], ["persistent ES", 1000, "1.49", "0"]]
    table = MarkdownTable(headers, rows)
    parser = _TableCells()
    parser.feed(table._repr_html_())
    assert len(parser.tables) == 1
    (t,) = parser.tables
    assert t["thead"] == [[("th", "col", h) for h in headers]]
    assert t["tbody"] == [[("th", "row", str(r[0]))] + [("td", None, str(c)) for c in r[1:]] for r in rows]
    assert "<b>" not in table._repr_html_() and "&lt;b&gt;&amp;" in table._repr_html_()

    # the mime bundle Jupyter stores: HTML first for the book, markdown and plain text unchanged and deterministic
    shell = InteractiveShell.instance()
    bundle, _ = shell.display_formatter.format(table)
    again, _ = shell.display_formatter.format(MarkdownTable(headers, rows))
    assert bundle == again
    assert {"text/html", "text/markdown", "text/plain"} <= set(bundle)
    assert bundle["text/markdown"] == bundle["text/plain"] == table.markdown()
    assert table.markdown().splitlines()[:2] == ["| estimator | K | learned α₀ | J − J* |", "|---|---|---|---|"]
    with pytest.raises(ValueError, match="one entry per header"):
        MarkdownTable(["a", "b"], [["only one"]])


def _output_tables(nb_path: pathlib.Path) -> int:
    """How many outputs of a notebook are a table (HTML ``<table>`` or a markdown pipe table)."""
    import nbformat

    nb = nbformat.read(nb_path, as_version=4)
    count = 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            html = "".join(data.get("text/html", ""))
            md = "".join(data.get("text/markdown", ""))
            if "<table" in html or re.search(r"^\|.*\|\s*\n\|\s*:?-{3,}", md, re.M):
                count += 1
    return count


def test_output_tables_render_as_tables(built_book):
    """Each chapter page shows at least as many ``<table>`` elements in its cell outputs as its notebook has table
    outputs, and no paragraph of any page is pipe-table text (``| a | b |``)."""
    from shb_lib.book import ROOT, toc_notebooks

    total = 0
    for nb in toc_notebooks():
        page = (built_book / nb.relative_to(ROOT).with_suffix(".html")).read_text(encoding="utf-8")
        expected = _output_tables(nb)
        outputs = re.split(r'<div class="cell_output', page)[1:]
        shown = sum(o.split('<div class="cell ', 1)[0].count("<table") for o in outputs)
        assert shown >= expected, f"{nb.name}: {expected} table outputs, {shown} shown as <table>"
        total += expected
    assert total >= 4  # chapter 6's four tables at least
    for page in _html_pages(built_book):
        text = html_lib.unescape(page.read_text(encoding="utf-8", errors="replace"))
        pipes = [p for p in re.findall(r"<p>(\|[^<]*)", text) if p.count("|") >= 3]
        assert not pipes, f"{page.name}: pipe-table text instead of a table: {pipes[0][:120]}"
