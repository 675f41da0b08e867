"""The whole book as one PDF, printed by Debian's Chromium from the built HTML (for handouts).

::

    .venv/bin/jupyter-book build . -W -n --keep-going       # the book, into _build/html
    .venv/bin/python -m shb_lib.pdf --build _build/html --out book.pdf

Every page of the book, in reading order (the ``rel="next"`` chain of the build, from the page ``index.html``
redirects to), is opened from ``file://`` in headless Chromium (Playwright, ``SHB_CHROMIUM`` or
``/usr/bin/chromium``) with the network blocked, so what is printed is what the offline book shows:

1. MathJax has typeset the page (the MathJax the build serves; a page whose math did not typeset is refused, with
   the raw TeX found, rather than printed);
2. folds are opened (``--folds open``, the default) or printed as their one-line summary (``--folds closed``, for a
   handout that keeps the exercises' solutions folded);
3. laid out at the printed width (A4 less 15 mm margins, 680 CSS px), code and text outputs wrap instead of
   scrolling, and any block still wider than the page (a table, a display equation, a figure) is scaled down to fit,
   so nothing is cut off at the right margin; what was scaled is reported;
4. printed with ``page.pdf`` (backgrounds, a footer with the chapter title and page number).

The pages are merged with pypdf, with one bookmark per chapter. :func:`build_pdf` returns a :class:`PdfReport`
(pages per chapter, equations, images, what was wrapped or scaled); the command prints it.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import html.parser
import io
import os
import pathlib
import re
import sys
import urllib.parse

CHROMIUM = os.environ.get("SHB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
#: Paper and margins. A4 is 210 mm = 793.7 CSS px (96 px per inch); 15 mm margins leave 680 px for the text.
PAPER = "A4"
MARGIN_MM = 15
CONTENT_WIDTH_PX = 680
#: TeX left as text when MathJax did not run.
RAW_TEX = ("\\(", "\\)", "\\[", "\\]", "$$", "\\begin{", "\\end{")

# Print styles added to every page: no chrome (header, sidebars, launch and copy buttons), code and text outputs
# wrapped, figures within the column, no block split across a page break where it can be avoided.
PRINT_CSS = """
@page { size: A4; margin: 15mm; }
html, body { background: #fff !important; }
.bd-header, .bd-header-article, .bd-sidebar-primary, .bd-sidebar-secondary, .bd-footer, .bd-footer-article,
.bd-footer-content, .prev-next-area, .header-article-items, .copybtn, .headerlink, .skip-link, #pst-back-to-top,
.search-button-field, .theme-switch-button, .sidebar-toggle, .toc-entry, .shb-slider input[type=range],
.shb-explorable input[type=range] { display: none !important; }
.bd-main .bd-content, .bd-main, .bd-container, .bd-container__inner, .bd-page-width, .bd-article-container,
.bd-content .bd-article-container, .bd-article, main { max-width: 100% !important; min-width: 0 !important;
  width: 100% !important; margin: 0 !important; padding: 0 !important; }
.bd-main .bd-content .bd-article-container .bd-article { padding: 0 !important; }
pre, .highlight pre, .output pre { white-space: pre-wrap !important; overflow-wrap: anywhere !important;
  word-break: break-word; overflow: visible !important; max-height: none !important; }
div.cell_output, div.output, .highlight { overflow: visible !important; max-height: none !important; }
img { max-width: 100% !important; height: auto !important; break-inside: avoid; }
figure, .cell_output img, table, div.cell_input, div.cell_output .output { break-inside: avoid; }
h1, h2, h3, h4 { break-after: avoid; }
"""

# In the page, after the print CSS: open (or close) the folds, then scale every block still wider than the column.
_PREPARE = r"""([folds, width]) => {
  const open = folds === 'open';
  document.querySelectorAll('details').forEach(d => { d.open = open; });
  if (open) document.querySelectorAll('.toggle-hidden').forEach(e => e.classList.remove('toggle-hidden'));
  const root = document.querySelector('main') || document.body;
  const left = root.getBoundingClientRect().left;
  const scaled = [];
  const blocks = [...root.querySelectorAll('pre, table, div.output, mjx-container[display="true"], img, svg, figure')];
  for (const e of blocks) {
    if (e.closest('[data-shb-print-scaled]')) continue;
    const r = e.getBoundingClientRect();
    const need = Math.max(e.scrollWidth, r.right - left);
    if (r.width > 0 && need > width + 1) {
      const factor = Math.max(0.3, (width - (r.left - left)) / need);
      e.style.zoom = String(factor);
      e.setAttribute('data-shb-print-scaled', factor.toFixed(2));
      scaled.push({what: e.tagName.toLowerCase(), factor: Number(factor.toFixed(2)),
                   text: e.textContent.trim().slice(0, 60)});
    }
  }
  // what is still wider than the column after scaling: cut off in print
  const cut = [...root.querySelectorAll('*')].filter(e => {
    const r = e.getBoundingClientRect();
    return r.width > 0 && r.right - left > width + 2 && !e.closest('mjx-assistive-mml');
  }).slice(0, 20).map(e => `${e.tagName.toLowerCase()}.${e.className}`.slice(0, 80));
  const math = document.querySelectorAll('mjx-container').length;
  const merrors = document.querySelectorAll('mjx-merror').length;
  const skip = new Set(['PRE', 'CODE', 'SCRIPT', 'STYLE', 'TEXTAREA', 'MJX-CONTAINER']);
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT, {acceptNode: n => {
    for (let e = n.parentElement; e && e !== root.parentElement; e = e.parentElement)
      if (skip.has(e.tagName)) return NodeFilter.FILTER_REJECT;
    return NodeFilter.FILTER_ACCEPT; }});
  let text = '';
  while (walker.nextNode()) text += walker.currentNode.nodeValue + ' ';
  const h1 = root.querySelector('h1');
  const paras = [...root.querySelectorAll('p')].filter(p => !p.querySelector('mjx-container, code')
    && !p.closest('.cell_output, footer, aside') && p.textContent.trim().split(/\s+/).length >= 8);
  const last = paras.length ? paras[paras.length - 1].textContent.trim().split(/\s+/).slice(-8).join(' ') : '';
  const images = [...root.querySelectorAll('img')].filter(i => i.getBoundingClientRect().width > 0);
  return {title: h1 ? h1.textContent.replace(/#$/, '').trim() : document.title, math, merrors, text,
          last, images: images.length, undecoded: images.filter(i => !(i.complete && i.naturalWidth > 0)).length,
          scaled, cut};
}"""


class PdfError(RuntimeError):
    """The book could not be printed as asked (a page failed to typeset, to load, or to fit)."""


@dataclasses.dataclass
class PageReport:
    """One printed page of the book: its file, title, PDF pages, what it holds and what had to be fitted."""

    rel: str
    title: str
    pdf_pages: int
    equations: int
    images: int
    last_words: str
    scaled: list[dict]
    cut: list[str]


@dataclasses.dataclass
class PdfReport:
    out: pathlib.Path
    pages: list[PageReport]
    bytes: int

    @property
    def pdf_pages(self) -> int:
        return sum(p.pdf_pages for p in self.pages)

    def summary(self) -> str:
        lines = [f"{self.out}: {self.pdf_pages} pages, {self.bytes / 1e6:.2f} MB, {len(self.pages)} chapters"]
        for p in self.pages:
            scaled = ", ".join(f"{s['what']} x{s['factor']}" for s in p.scaled)
            lines.append(f"  {p.rel}: {p.pdf_pages} pages, {p.equations} equations, {p.images} images"
                         + (f", scaled to fit: {scaled}" if scaled else ""))
        return "\n".join(lines)


class _Links(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.next: str | None = None
        self.refresh: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "link" and a.get("rel") == "next" and self.next is None:
            self.next = a.get("href")
        if tag == "meta" and (a.get("http-equiv") or "").lower() == "refresh":
            m = re.search(r"url=([^;]+)", a.get("content") or "", re.I)
            self.refresh = m.group(1).strip() if m else None


def _links(path: pathlib.Path) -> _Links:
    parser = _Links()
    parser.feed(path.read_text(encoding="utf-8", errors="replace"))
    return parser


def reading_order(build: pathlib.Path) -> list[pathlib.Path]:
    """The pages of a built book in reading order: from the page ``index.html`` redirects to (or ``index.html``
    itself), along each page's ``<link rel="next">``.

    Raises:
        ValueError: ``build`` is not the ``_build/html`` folder of a jupyter-book build.
    """
    build = pathlib.Path(build)
    index = build / "index.html"
    if not index.is_file():
        raise ValueError(f"build={str(build)!r}: no index.html there; expected the _build/html folder of a "
                         "jupyter-book build (jupyter-book build . writes it)")
    first = index
    target = _links(index).refresh
    if target:
        first = (index.parent / urllib.parse.unquote(target.split("#")[0])).resolve()
    pages, seen = [], set()
    page: pathlib.Path | None = first.resolve()
    while page is not None and page not in seen:
        if not page.is_file():
            raise ValueError(f"build={str(build)!r}: the book links to {page}, which is not in the build")
        seen.add(page)
        pages.append(page)
        nxt = _links(page).next
        page = (page.parent / urllib.parse.unquote(nxt.split("#")[0])).resolve() if nxt else None
        if page is not None and page.name == "genindex.html":
            break
    return pages


def _raw_tex(text: str) -> list[str]:
    hits = []
    for d in RAW_TEX:
        i = text.find(d)
        if i >= 0:
            hits.append(text[max(0, i - 30): i + 30].replace("\n", " "))
    return hits


@contextlib.contextmanager
def launch_chromium(chromium: str = CHROMIUM):
    """Debian's Chromium (or ``chromium``) under Playwright, headless, with the flags a container needs; closed
    on exit. Raises PdfError when there is no such executable."""
    if not (os.path.isfile(chromium) and os.access(chromium, os.X_OK)):
        raise PdfError(f"no Chromium at {chromium} (apt-get install -y chromium, or set SHB_CHROMIUM)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def print_page(browser, path: pathlib.Path, folds: str = "open") -> tuple[bytes, dict]:
    """Print one page of the built book to PDF bytes; returns ``(pdf, what the page showed)``.

    Raises:
        PdfError: the page requested something outside the build, raised a JavaScript error, or left TeX
            untypeset (or MathJax reported an error).
    """
    context = browser.new_context(viewport={"width": CONTENT_WIDTH_PX, "height": 1000})
    blocked, errors = [], []

    def route(r):
        if r.request.url.startswith(("file:", "data:", "blob:", "about:")):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    try:
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(path.resolve().as_uri(), wait_until="load")
        page.evaluate("async () => { if (window.MathJax && MathJax.startup && MathJax.startup.promise)"
                      " { await MathJax.startup.promise; } }")
        page.evaluate("() => Promise.all([...document.images].map(i => i.decode().catch(() => null)))")
        page.emulate_media(media="print")
        page.add_style_tag(content=PRINT_CSS)
        shown = page.evaluate(_PREPARE, [folds, CONTENT_WIDTH_PX])
        where = path.name
        if blocked:
            raise PdfError(f"{where} requested outside the build: {blocked[:3]}")
        if errors:
            raise PdfError(f"{where}: JavaScript errors: {errors[:3]}")
        raw = _raw_tex(shown["text"])
        if raw or shown["merrors"]:
            raise PdfError(f"{where}: math not typeset ({shown['merrors']} MathJax errors; raw TeX: {raw[:3]})")
        if shown["undecoded"]:
            raise PdfError(f"{where}: {shown['undecoded']} images did not load")
        title = shown["title"]
        footer = ("<div style='font-size:8px;width:100%;padding:0 15mm;color:#555;display:flex;"
                  "justify-content:space-between'><span>" + _escape(title) + "</span><span>"
                  "<span class='pageNumber'></span> / <span class='totalPages'></span></span></div>")
        pdf = page.pdf(format=PAPER, print_background=True, display_header_footer=True,
                       header_template="<span></span>", footer_template=footer,
                       margin={k: f"{MARGIN_MM}mm" for k in ("top", "bottom", "left", "right")})
    finally:
        context.close()
    return pdf, shown


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def build_pdf(build: pathlib.Path, out: pathlib.Path, folds: str = "open", chromium: str = CHROMIUM,
              browser=None) -> PdfReport:
    """Print every page of the built book ``build`` (a ``_build/html`` folder) into one PDF ``out``.

    Args:
        build: the ``_build/html`` folder of a jupyter-book build of the book.
        out: the PDF to write (its folder must exist); written only once every page printed.
        folds: ``"open"`` prints folded cells (solutions, provenance) open; ``"closed"`` prints their summary line.
        chromium: the Chromium executable (started for this call, unless ``browser`` is given).
        browser: a Playwright ``Browser`` already running (the tests'), used instead of starting one.

    Returns:
        A :class:`PdfReport`.

    Raises:
        ValueError: a bad argument (named, with the value and what is allowed).
        PdfError: a page could not be printed faithfully (see :func:`print_page`), or something is cut off.
    """
    from pypdf import PdfReader, PdfWriter

    if folds not in ("open", "closed"):
        raise ValueError(f"folds={folds!r}: must be 'open' or 'closed'")
    out = pathlib.Path(out)
    if out.suffix.lower() != ".pdf":
        raise ValueError(f"out={str(out)!r}: must name a .pdf file")
    if not out.parent.is_dir():
        raise ValueError(f"out={str(out)!r}: the folder {str(out.parent)!r} does not exist")
    build = pathlib.Path(build)
    pages = reading_order(build)
    writer = PdfWriter()
    reports = []
    with (contextlib.nullcontext(browser) if browser is not None else launch_chromium(chromium)) as browser:
        for path in pages:
            pdf, shown = print_page(browser, path, folds)
            if shown["cut"]:
                raise PdfError(f"{path.name}: wider than the printed page even after scaling: {shown['cut'][:5]}")
            reader = PdfReader(io.BytesIO(pdf))
            first = len(writer.pages)
            writer.append(reader)
            writer.add_outline_item(title=shown["title"], page_number=first)
            reports.append(PageReport(path.relative_to(build.resolve()).as_posix(), shown["title"],
                                      len(reader.pages), shown["math"], shown["images"], shown["last"],
                                      shown["scaled"], shown["cut"]))
    writer.add_metadata({"/Title": reports[0].title if reports else "book", "/Creator": "shb_lib.pdf (Chromium)"})
    tmp = out.with_name(out.name + ".partial")
    with open(tmp, "wb") as fh:
        writer.write(fh)
    os.replace(tmp, out)
    return PdfReport(out, reports, out.stat().st_size)


def main(argv: list[str] | None = None) -> int:
    """The command line; returns 0 (written), 1 (a page could not be printed), 2 (bad arguments)."""
    parser = argparse.ArgumentParser(prog="python -m shb_lib.pdf", description=__doc__.split("\n")[0])
    parser.add_argument("--build", default="_build/html", help="the built book's _build/html folder")
    parser.add_argument("--out", default="book.pdf", help="the PDF to write (default book.pdf)")
    parser.add_argument("--folds", choices=("open", "closed"), default="open",
                        help="print folded cells open (default) or as their one-line summary")
    args = parser.parse_args(argv)
    try:
        report = build_pdf(pathlib.Path(args.build), pathlib.Path(args.out), args.folds)
    except ValueError as e:
        parser.error(str(e))
    except PdfError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(report.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
