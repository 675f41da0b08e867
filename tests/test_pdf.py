"""The book as one PDF (``python -m shb_lib.pdf``, issue 15 item 5), printed by Debian's Chromium from the built book.

* every page of the toc is in the PDF, in order, each with a bookmark and its title in its pages' text;
* equations are typeset: the chapters' pages carry MathJax's glyphs (embedded as Type 3 fonts; the text fonts are
  TrueType), and no raw TeX delimiter is left in the PDF's text;
* figures are embedded: each chapter's pages hold at least as many raster images as the page shows;
* no page is cut off: every PDF page is A4, nothing is wider than the printed column after wrapping and scaling
  (``cut`` empty), and each chapter's last paragraph is in its pages' text;
* the checks can fail: a page with raw TeX is refused, a block placed outside the column is reported as cut, wide
  code wraps and a wide table is scaled; bad arguments are refused with the parameter named.

The PDF is printed once per module from the ``built_book`` fixture (tests/conftest.py); without Chromium the tests
skip, unless ``SHB_REQUIRE_BROWSER=1``.
"""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys
import unicodedata

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
A4_PT = (595.3, 841.9)  # 210 x 297 mm; Chromium rounds up


def _toc_pages() -> list[str]:
    from test_browser import _toc_pages as toc_pages

    return toc_pages()


def _norm(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).replace("\u00ad", "")  # ligatures (ﬁ, ﬀ) as letters
    text = re.sub(r"-\n", "-", text)
    return re.sub(r"\s+", " ", text).strip()


@pytest.fixture(scope="module")
def book_pdf(chromium, built_book, tmp_path_factory):
    from pypdf import PdfReader

    from shb_lib.pdf import build_pdf

    out = tmp_path_factory.mktemp("pdf") / "book.pdf"
    report = build_pdf(built_book, out, browser=chromium)
    print("\n" + report.summary())
    reader = PdfReader(str(out))
    ranges, start = {}, 0
    for page in report.pages:
        ranges[page.rel] = range(start, start + page.pdf_pages)
        start += page.pdf_pages
    assert start == len(reader.pages)
    return report, reader, ranges


def _text(reader, pages: range) -> str:
    return _norm(" ".join(reader.pages[i].extract_text() or "" for i in pages))


def _type3_fonts(reader, pages: range) -> int:
    n = 0
    for i in pages:
        fonts = (reader.pages[i].get("/Resources") or {}).get("/Font") or {}
        n += sum(1 for f in fonts.values() if f.get_object().get("/Subtype") == "/Type3")
    return n


def test_every_chapter_present(book_pdf):
    report, reader, ranges = book_pdf
    assert [p.rel for p in report.pages] == _toc_pages()
    assert [o.title for o in reader.outline] == [p.title for p in report.pages]
    for page in report.pages:
        assert page.pdf_pages >= 1
        assert _norm(page.title) in _text(reader, ranges[page.rel]), f"{page.rel}: title not in its pages"


def test_equations_typeset(book_pdf):
    from shb_lib.pdf import RAW_TEX

    report, reader, ranges = book_pdf
    for page in report.pages:
        text = _text(reader, ranges[page.rel])
        raw = [d for d in RAW_TEX if d in text]
        assert not raw, f"{page.rel}: raw TeX in the PDF text: {raw}"
        if page.equations:
            assert _type3_fonts(reader, ranges[page.rel]) > 0, f"{page.rel}: {page.equations} equations, no glyphs"
    chapters = [p for p in report.pages if re.match(r"book/\d\d-", p.rel)]
    assert chapters and all(p.equations > 0 for p in chapters)


def test_figures_embedded(book_pdf):
    report, reader, ranges = book_pdf
    total = 0
    for page in report.pages:
        embedded = sum(len(reader.pages[i].images) for i in ranges[page.rel])
        assert embedded >= page.images, f"{page.rel}: shows {page.images} images, {embedded} in its PDF pages"
        total += embedded
    assert total >= 10


def test_no_page_cut_off(book_pdf):
    report, reader, ranges = book_pdf
    for i, p in enumerate(reader.pages):
        size = (float(p.mediabox.width), float(p.mediabox.height))
        assert all(abs(a - b) <= 2 for a, b in zip(size, A4_PT)), f"PDF page {i + 1} is {size} pt, not A4"
    for page in report.pages:
        assert not page.cut, f"{page.rel}: cut off at the right margin: {page.cut}"
        if page.last_words:
            assert _norm(page.last_words) in _text(reader, ranges[page.rel]), (
                f"{page.rel}: its last paragraph ({page.last_words!r}) is not in its pages")


def test_checks_can_fail(chromium, tmp_path):
    """A page left with raw TeX is refused; wide code wraps, a wide table is scaled, a block outside the column is
    reported as cut."""
    from shb_lib.pdf import PdfError, print_page

    raw = tmp_path / "raw.html"
    raw.write_text("<!doctype html><html><body><main><h1>Raw</h1><p>Math as text: \\(x^2\\).</p></main></body></html>")
    with pytest.raises(PdfError, match="math not typeset"):
        print_page(chromium, raw)

    wide = tmp_path / "wide.html"
    cells = "".join(f"<td>column {i} with words</td>" for i in range(30))
    wide.write_text(
        "<!doctype html><html><body><main><h1>Wide</h1><pre>" + "x = 1;  " * 80 + "</pre>"
        f"<table><tr>{cells}</tr></table>"
        "<div style='position:relative; left:900px; width:50px'>outside</div></main></body></html>")
    pdf, shown = print_page(chromium, wide)
    assert pdf.startswith(b"%PDF")
    assert [s["what"] for s in shown["scaled"]] == ["table"], shown["scaled"]
    assert shown["cut"] and all("pre" not in c for c in shown["cut"]), shown["cut"]


def test_bad_arguments(tmp_path):
    from shb_lib.pdf import build_pdf, reading_order

    with pytest.raises(ValueError, match="build=.*no index.html"):
        reading_order(tmp_path)
    with pytest.raises(ValueError, match="folds='half'"):
        build_pdf(tmp_path, tmp_path / "x.pdf", folds="half")
    with pytest.raises(ValueError, match="out=.*must name a .pdf"):
        build_pdf(tmp_path, tmp_path / "x.txt")
    with pytest.raises(ValueError, match="out=.*does not exist"):
        build_pdf(tmp_path, tmp_path / "missing" / "x.pdf")
    proc = subprocess.run([sys.executable, "-m", "shb_lib.pdf", "--build", str(tmp_path), "--out",
                           str(tmp_path / "b.pdf")], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2 and "no index.html" in proc.stderr, proc.stderr
    assert not (tmp_path / "b.pdf").exists()


def test_reading_order_follows_the_book(built_book):
    from shb_lib.pdf import reading_order

    assert [p.relative_to(built_book.resolve()).as_posix() for p in reading_order(built_book)] == _toc_pages()
