"""The static sliders in a real browser: Debian's Chromium driven by Playwright, pages opened from ``file://``.

* ``test_demo_book_sliders``: builds a tiny book of its own (one notebook calling ``slider_figure``, executed like the
  chapters by ``shb_lib.book.run_notebook``, then ``jupyter-book build -W -n``) so that the mechanism is tested even
  before the chapters exist, and checks every frame against one computed here from the same ``render``.
* ``test_slider_script_embeddings``: the same HTML shown twice on one page, and inserted the way the classic notebook
  does (scripts evaluated before the output is attached); ``test_slider_without_javascript``: where scripts do not
  run (an untrusted notebook), one frame and a note, no dead controls.
* ``test_book_sliders``: the real book (``built_book`` fixture from ``tests/conftest.py``): every page with a slider
  is opened, every slider moved through all its values; every chapter page is screenshotted.

Screenshots go to ``test-artifacts/screenshots/<page>.png`` (``artifacts_dir`` fixture, ``SHB_TEST_ARTIFACTS``).
Without Chromium the tests skip, unless ``SHB_REQUIRE_BROWSER=1`` (CI), where they fail. Requests that leave
``file://`` are blocked, so the pages are tested as a reader without network sees them (a stylesheet or script from a
CDN would show up as a failed resource).
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import textwrap
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("SHB_CHROMIUM", "/usr/bin/chromium")
# Debian's Chromium in a container: no sandbox, no GPU, no phoning home (else connections get refused in bulk).
# Playwright adds --headless and a fresh --user-data-dir (a new temporary profile per launch).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
# Pages of a jupyter-book build that are not content.
NON_CONTENT = {"genindex.html", "search.html", "py-modindex.html"}
# JavaScript errors that come from the book's toolchain, not from the page's content, each tolerated only together
# with the evidence of its cause in the page source. Reported in the test output; everything else fails the test.
KNOWN_UPSTREAM = {
    # sphinx-thebe 0.3.1 under Sphinx 7.4 (jupyter-book 1.0.4) writes its inline config script twice into every page
    # (`app.add_js_file(None, body=...)` is re-added as filename '' when the builder re-reads the registry), so the
    # second `const THEBE_JS_URL` throws. Harmless: thebe is off and the first declaration is the same.
    "Identifier 'THEBE_JS_URL' has already been declared": lambda src: src.count("const THEBE_JS_URL") >= 2,
}


def _need_browser() -> None:
    problem = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:
        problem = f"the playwright package is not importable ({exc})"
    if problem is None and not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        problem = f"no Chromium at {CHROMIUM} (apt-get install -y chromium)"
    if problem:
        if os.environ.get("SHB_REQUIRE_BROWSER") == "1":
            pytest.fail(f"SHB_REQUIRE_BROWSER=1 but {problem}")
        pytest.skip(problem)


@pytest.fixture(scope="module")
def chromium():
    _need_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


# --------------------------------------------------------------------------------------------------------------------
# driving one page
# --------------------------------------------------------------------------------------------------------------------


class PageReport:
    def __init__(self, page_errors, console_errors, blocked, sliders, moves, upstream=()):
        self.page_errors = page_errors
        self.upstream = list(upstream)  # tolerated KNOWN_UPSTREAM errors
        self.console_errors = console_errors
        self.blocked = blocked
        self.sliders = sliders  # [(slider_id, data)]
        self.moves = moves


def _screenshot_name(rel: str) -> str:
    return rel.removesuffix(".html").replace("/", "__").replace("\\", "__")


def _open(browser, html: pathlib.Path):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    blocked: list[str] = []

    def route(r):
        url = r.request.url
        if url.startswith(("file:", "data:", "blob:", "about:")):
            r.continue_()
        else:
            blocked.append(url)
            r.abort()

    context.route("**/*", route)
    page = context.new_page()
    page_errors: list[str] = []
    console_errors: list[tuple[str, str]] = []
    page.on("pageerror", lambda exc: page_errors.append(str(exc)))

    def console(msg):
        if msg.type == "error":
            console_errors.append((msg.text, (msg.location or {}).get("url", "")))

    page.on("console", console)
    page.goto(html.resolve().as_uri(), wait_until="load")
    return context, page, page_errors, console_errors, blocked


def _state(slider):
    """What the page shows for one slider: frame key, image src, and the value label of every parameter."""
    return slider.evaluate(
        """root => {
            const img = root.querySelector("img.shb-slider-frame");
            const labels = {};
            root.querySelectorAll("output[data-param]").forEach(o => { labels[o.dataset.param] = o.textContent; });
            return {key: img.getAttribute("data-frame-key"), src: img.getAttribute("src"),
                    decoded: img.complete && img.naturalWidth > 0, labels: labels};
        }"""
    )


def _check_shows(slider, data, index, expected_frames=None, where=""):
    key = "|".join(f"{p['name']}={p['keys'][index[p['name']]]}" for p in data["params"])
    slider.page.wait_for_function(
        "root => { const i = root.querySelector('img.shb-slider-frame'); return i.complete && i.naturalWidth > 0; }",
        arg=slider.element_handle(),
        timeout=5000,
    )
    st = _state(slider)
    assert st["key"] == key, f"{where}: image shows frame {st['key']!r}, expected {key!r}"
    assert key in data["frames"], f"{where}: no precomputed frame for {key!r}"
    assert st["src"] == data["images"][data["frames"][key]], f"{where}: src is not the frame precomputed for {key}"
    assert st["decoded"], f"{where}: the frame for {key} did not decode as an image"
    for p in data["params"]:
        assert st["labels"][p["name"]] == p["labels"][index[p["name"]]], f"{where}: wrong value label for {p['name']}"
    if expected_frames is not None:
        assert st["src"] == expected_frames[key], f"{where}: frame for {key} differs from render() computed in the test"
    return st


def _exercise_page(browser, html: pathlib.Path, shot: pathlib.Path | None, expected=None) -> PageReport:
    """Open ``html``, move every slider through every value, screenshot, and report errors seen."""
    context, page, page_errors, console_errors, blocked = _open(browser, html)
    sliders_seen, moves = [], 0
    try:
        roots = page.locator("div.shb-slider[data-slider-id]")
        for s in range(roots.count()):
            slider = roots.nth(s)
            sid = slider.get_attribute("data-slider-id")
            where = f"{html.name} slider {sid}"
            page.wait_for_function(
                "root => root.getAttribute('data-shb-ready') === '1'", arg=slider.element_handle(), timeout=5000
            )
            data = json.loads(slider.locator("script.shb-slider-data").text_content())
            sliders_seen.append((sid, data))
            exp = (expected or {}).get(data["title"])
            assert len(data["frames"]) == int(slider.get_attribute("data-frames"))
            initial = [part.split("=", 1)[1] for part in data["initial"].split("|")]
            index = {p["name"]: p["keys"].index(v) for p, v in zip(data["params"], initial)}
            prev = _check_shows(slider, data, index, exp, where + " (initial)")
            for p in data["params"]:
                name, n = p["name"], len(p["keys"])
                inp = slider.locator(f'input[type=range][data-param="{name}"]')
                assert inp.is_visible(), f"{where}: the {name} slider is not visible"
                assert (inp.get_attribute("min"), inp.get_attribute("max")) == ("0", str(n - 1))
                # keyboard, as a reader does: Home, then ArrowRight through every value
                inp.focus()
                page.keyboard.press("Home")
                for i in range(n):
                    if i:
                        page.keyboard.press("ArrowRight")
                    index[name] = i
                    st = _check_shows(slider, data, index, exp, f"{where} ({name} -> {p['labels'][i]}, keyboard)")
                    if data["frames"][st["key"]] != data["images"].index(prev["src"]):
                        assert st["src"] != prev["src"]
                    prev, moves = st, moves + 1
                # programmatic: set the value and dispatch input (a mouse drag fires these), back to the middle
                mid = n // 2
                inp.evaluate(
                    "(el, v) => { el.value = String(v); el.dispatchEvent(new Event('input', {bubbles: true}));"
                    " el.dispatchEvent(new Event('change', {bubbles: true})); }",
                    mid,
                )
                index[name] = mid
                prev = _check_shows(slider, data, index, exp, f"{where} ({name} -> {p['labels'][mid]}, input event)")
                moves += 1
        if shot is not None:
            shot.parent.mkdir(parents=True, exist_ok=True)
            # from the top, nothing focused: else the theme's sticky header lands mid-page in a full-page capture
            page.evaluate("() => { document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0); }")
            page.wait_for_timeout(100)
            page.screenshot(path=str(shot), full_page=True)
    finally:
        context.close()
    # A resource outside file:// that we blocked (e.g. a CDN MathJax) logs "Failed to load resource"; that is the
    # build's business and is reported, not failed. Everything else logged as an error fails the test.
    real_console = [
        (text, url)
        for text, url in console_errors
        if not (text.startswith("Failed to load resource") and url and not url.startswith("file:"))
    ]
    src = html.read_text(encoding="utf-8", errors="replace")
    upstream = [e for e in page_errors if e in KNOWN_UPSTREAM and KNOWN_UPSTREAM[e](src)]
    own = [e for e in page_errors if e not in upstream]
    return PageReport(own, real_console, blocked, sliders_seen, moves, upstream)


def _assert_clean(report: PageReport, page: str) -> None:
    assert not report.page_errors, f"{page}: JavaScript errors: {report.page_errors}"
    assert not report.console_errors, f"{page}: console errors: {report.console_errors}"


def _content_pages(html_root: pathlib.Path) -> list[pathlib.Path]:
    out = []
    for p in sorted(html_root.rglob("*.html")):
        rel = p.relative_to(html_root)
        if p.name in NON_CONTENT or any(part.startswith("_") for part in rel.parts):
            continue
        if 'http-equiv="Refresh"' in p.read_text(encoding="utf-8", errors="replace")[:500]:
            continue  # index.html: a redirect to the root page
        out.append(p)
    return out


# --------------------------------------------------------------------------------------------------------------------
# the demo book (the mechanism, independent of the chapters)
# --------------------------------------------------------------------------------------------------------------------

DEMO_SOURCE = textwrap.dedent(
    '''\
    import numpy as np
    from shb_lib.plotting import new_figure
    from shb_lib.widgets import slider_figure

    def render(horizon, noise):
        fig, ax = new_figure()
        t = np.arange(1, 301)
        ax.semilogy(t, np.exp(-t / horizon) + 1e-3 + 0.02 * noise * (1 + np.sin(t / 7)))
        ax.set(title=f"horizon {horizon}, noise {noise}", xlabel="step", ylabel="loss")
        return fig

    def render_lr(lr):
        fig, ax = new_figure(width=4.0, height=3.0)
        t = np.arange(50)
        ax.plot(t, (1 - lr) ** t)
        ax.set(title=f"lr {lr}", xlabel="step")
        return fig
    '''
)
DEMO_GRID = {"horizon": [10, 30, 100, 250], "noise": [0.0, 0.5, 1.0, 2.0]}
DEMO_LR = {"lr": [0.01, 0.1, 0.3]}
DEMO_LR_LABELS = {"lr": ["0.01 (slow)", "0.1", "0.3 (fast)"]}
DEMO_CALLS = [
    f'slider_figure(render, {DEMO_GRID!r}, title="Demo: loss vs horizon and noise", initial={{"horizon": 100}})',
    f'slider_figure(render_lr, {DEMO_LR!r}, title="Demo: learning rate", labels={DEMO_LR_LABELS!r})',
]


def _build_demo_book(root: pathlib.Path) -> pathlib.Path:
    import nbformat

    from shb_lib.book import run_notebook

    (root / "_config.yml").write_text(
        textwrap.dedent(
            """\
            title: shb slider demo
            author: shb tests
            only_build_toc_files: true
            execute:
              execute_notebooks: "off"
            sphinx:
              config:
                nitpicky: true
                # without it pydata-sphinx-theme logs "Got invalid theme mode: ." as a console error on a first visit
                html_context:
                  default_mode: light
            """
        )
    )
    (root / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n  - file: demo\n")
    (root / "intro.md").write_text("# Slider demo\n\nA page without a slider; the {doc}`next one <demo>` has two.\n")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Demo chapter"), nbformat.v4.new_code_cell(DEMO_SOURCE)]
    nb.cells += [nbformat.v4.new_code_cell(c) for c in DEMO_CALLS]
    nbformat.write(nb, root / "demo.ipynb")
    run_notebook(root / "demo.ipynb")  # the chapters' pipeline: nbclient, store_widget_state=True
    proc = subprocess.run(
        [str(pathlib.Path(sys.executable).parent / "jupyter-book"), "build", str(root), "-W", "-n", "--keep-going"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, f"demo book build failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return root / "_build" / "html"


@pytest.fixture(scope="module")
def demo_book(tmp_path_factory):
    t0 = time.perf_counter()
    html = _build_demo_book(tmp_path_factory.mktemp("demo-book"))
    print(f"\ndemo book executed and built in {time.perf_counter() - t0:.1f} s")
    return html


def test_demo_book_sliders(chromium, demo_book, artifacts_dir):
    import nbformat

    from shb_lib.widgets import static_slider

    # the executed notebook ships the static slider only: no widget state, no widget views, no stray figures
    nb = nbformat.read(demo_book.parent.parent / "demo.ipynb", as_version=4)
    assert "widgets" not in nb.metadata
    outs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert [sorted(o.get("data", {})) for o in outs] == [["text/html", "text/plain"]] * 2, outs

    # the frames a reader must see, computed here from the same source
    ns: dict = {}
    exec(DEMO_SOURCE, ns)
    expected = {
        "Demo: loss vs horizon and noise": static_slider(ns["render"], DEMO_GRID, title="x").frames,
        "Demo: learning rate": static_slider(ns["render_lr"], DEMO_LR, title="x").frames,
    }

    t0 = time.perf_counter()
    pages = _content_pages(demo_book)
    assert {p.name for p in pages} == {"intro.html", "demo.html"}
    reports = {}
    for html in pages:
        rel = html.relative_to(demo_book).as_posix()
        shot = artifacts_dir / "screenshots" / f"demo__{_screenshot_name(rel)}.png"
        reports[rel] = r = _exercise_page(chromium, html, shot, expected)
        _assert_clean(r, rel)
        assert not r.blocked, f"{rel} requested outside file://: {r.blocked}"
    assert not reports["intro.html"].sliders
    titles = [d["title"] for _, d in reports["demo.html"].sliders]
    assert titles == ["Demo: loss vs horizon and noise", "Demo: learning rate"]
    assert reports["demo.html"].moves == (4 + 1) * 2 + (3 + 1)
    assert (artifacts_dir / "screenshots" / "demo__demo.png").stat().st_size > 10_000
    upstream = sorted({e for r in reports.values() for e in r.upstream})
    print(f"demo book: known upstream JS errors tolerated: {upstream}" if upstream else "demo book: no JS errors")
    moves = reports["demo.html"].moves
    print(f"demo book: {len(pages)} pages, {moves} slider moves checked in {time.perf_counter() - t0:.1f} s")


def test_slider_script_embeddings(chromium, tmp_path):
    """Two copies of one slider on a page, and the classic notebook's way of running output scripts."""
    import numpy as np

    from shb_lib.plotting import new_figure
    from shb_lib.widgets import static_slider

    def render(k):
        fig, ax = new_figure(width=3, height=2)
        ax.plot(np.arange(5) ** k)
        return fig

    s = static_slider(render, {"k": [1, 2]}, title="Embeddings </script><b>not bold</b>")
    html_js = json.dumps(s.html).replace("</", "<\\/")  # a JS string literal that cannot close the <script>
    classic = f"""
    <div id="late"></div>
    <script>
      // the classic notebook (jQuery .html()) evaluates an output's scripts while the output is still detached
      var holder = document.createElement("div");
      holder.innerHTML = {html_js};
      holder.querySelectorAll("script").forEach(function (old) {{
        if (old.type === "application/json") return;
        (0, eval)(old.textContent);
      }});
      setTimeout(function () {{ document.getElementById("late").appendChild(holder); }}, 200);
    </script>"""
    page_file = tmp_path / "embed.html"
    page_file.write_text(f"<!doctype html><html><body>{s.html}<hr>{s.html}<hr>{classic}</body></html>")
    context, page, page_errors, console_errors, blocked = _open(chromium, page_file)
    try:
        page.wait_for_function(
            "() => document.querySelectorAll('div.shb-slider[data-shb-ready=\"1\"]').length === 3", timeout=5000
        )
        assert page.locator("b").count() == 0, "the title broke out of the HTML"
        roots = page.locator("div.shb-slider")
        data = json.loads(roots.nth(0).locator("script.shb-slider-data").text_content())
        for i in range(3):  # each copy moves on its own
            inp = roots.nth(i).locator('input[data-param="k"]')
            inp.focus()
            page.keyboard.press("End")
            _check_shows(roots.nth(i), data, {"k": 1}, s.frames, f"copy {i}")
            for j in range(i + 1, 3):
                assert _state(roots.nth(j))["key"] == "k=1"
        assert page.locator(".shb-slider-nojs:visible").count() == 0
    finally:
        context.close()
    assert not page_errors and not console_errors and not blocked, (page_errors, console_errors, blocked)


def test_slider_without_javascript(chromium, tmp_path):
    """Where scripts are not run (an untrusted notebook), the reader sees one frame and a note, no dead controls."""
    import numpy as np

    from shb_lib.plotting import new_figure
    from shb_lib.widgets import static_slider

    def render(k):
        fig, ax = new_figure(width=3, height=2)
        ax.plot(np.arange(5) ** k)
        return fig

    s = static_slider(render, {"k": [1, 2]}, title="No JS")
    (tmp_path / "nojs.html").write_text(f"<!doctype html><html><body>{s.html}</body></html>")
    context = chromium.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto((tmp_path / "nojs.html").as_uri())
        assert page.locator("input[type=range]").count() == 1
        assert not page.locator("input[type=range]").is_visible()
        assert page.locator(".shb-slider-nojs").is_visible()
        assert page.locator("img.shb-slider-frame").evaluate("i => i.complete && i.naturalWidth > 0")
    finally:
        context.close()


# --------------------------------------------------------------------------------------------------------------------
# the real book
# --------------------------------------------------------------------------------------------------------------------


def _chapters() -> list[pathlib.Path]:
    from shb_lib.book import toc_notebooks

    try:
        return [p for p in toc_notebooks() if p.exists()]
    except FileNotFoundError:
        return []


def test_book_sliders(chromium, request, artifacts_dir):
    chapters = _chapters()
    if not chapters:
        pytest.skip("no chapter notebook of _toc.yml exists yet (test_demo_book_sliders covers the mechanism)")
    html_root = pathlib.Path(request.getfixturevalue("built_book"))  # tests/conftest.py: builds the book once
    t0 = time.perf_counter()
    pages = _content_pages(html_root)
    slider_pages = [p for p in pages if "shb-slider" in p.read_text(encoding="utf-8", errors="replace")]
    if not slider_pages:
        if chapters:
            pytest.fail(f"the book has {len(chapters)} chapter notebooks but no page with a slider (div.shb-slider)")
        pytest.skip("the book has no chapters yet")
    lines = []
    for html in pages:
        rel = html.relative_to(html_root).as_posix()
        r = _exercise_page(chromium, html, artifacts_dir / "screenshots" / f"{_screenshot_name(rel)}.png")
        _assert_clean(r, rel)
        if html in slider_pages:
            assert r.sliders, f"{rel} mentions shb-slider but no slider initialised"
        lines.append(
            f"  {rel}: {len(r.sliders)} sliders, {r.moves} moves checked"
            + (f", {len(r.blocked)} requests outside file:// blocked" if r.blocked else "")
            + (f", known upstream JS errors: {r.upstream}" if r.upstream else "")
        )
    print(f"\nbook: {len(pages)} pages in {time.perf_counter() - t0:.1f} s\n" + "\n".join(lines))
