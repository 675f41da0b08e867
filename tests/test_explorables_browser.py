"""The live explorables in a real browser: Debian's Chromium through Playwright, pages opened from ``file://`` with
every request outside ``file:``/``data:``/``blob:`` blocked (a reader without network).

* ``test_explorables_live``: a page holding the three explorables (shb_lib.explorables at their defaults). Every
  control is moved -- by keyboard (Home, End, arrows) and by an input event, as a drag fires -- and after each move
  the numbers the page shows (``span[data-quantity]``, full precision in ``data-value``) are compared with
  shb_lib.nqm computed here for the settings the page shows (``output[data-control]``), to a relative 1e-9; the
  figure must be redrawn (its paths change) whenever the settings change. No JavaScript error may occur.
* ``test_explorables_redraw_time``: the time of a slider move (recompute + SVG redraw, measured by the page, and until
  the next animation frame), without and with the CPU throttled 4x (DevTools' Emulation.setCPUThrottlingRate, a
  phone-class device); printed, not asserted. Also a screenshot at 688 px and at 390 px (a phone) into
  ``test-artifacts/screenshots/``.
* ``test_explorables_without_javascript``: the static figure, a note, no dead controls.
* ``test_book_explorables``: chapters 1-3 of the built book (``built_book`` fixture, or the folder named by
  ``SHB_BUILT_BOOK``) each hold one explorable that starts, moves and shows the library's numbers.

Without Chromium or Playwright the tests skip, unless ``SHB_REQUIRE_BROWSER=1`` (CI), where they fail.
"""

from __future__ import annotations

import functools
import math
import os
import pathlib
import statistics

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
RTOL = 1e-9
# No error is tolerated (the sphinx-thebe duplicate is fixed in _config.yml); the Chromium fixture is the shared one
# of tests/conftest.py.
KNOWN_UPSTREAM = ()


@pytest.fixture(scope="module")
def page_file(tmp_path_factory):
    """One HTML page with the three explorables at their defaults, as the chapters show them."""
    from shb_lib import explorables as ex

    parts = [ex.moments_explorer().data, ex.greedy_explorer().data, ex.horizon_explorer().data]
    path = tmp_path_factory.mktemp("explorables") / "explorables.html"
    path.write_text('<!doctype html><html lang="en"><head><meta charset="utf-8"><title>explorables</title></head>'
                    '<body style="max-width:688px;margin:1em auto;font-family:sans-serif">'
                    + "\n<hr>\n".join(parts) + "</body></html>", encoding="utf-8")
    return path


class Opened:
    def __init__(self, browser, url, width=1280, javascript=True):
        self.context = browser.new_context(viewport={"width": width, "height": 900}, java_script_enabled=javascript)
        self.blocked, self.errors = [], []

        def route(r):
            if r.request.url.startswith(("file:", "data:", "blob:", "about:")):
                r.continue_()
            else:
                self.blocked.append(r.request.url)
                r.abort()

        self.context.route("**/*", route)
        self.page = self.context.new_page()
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))

        def console(msg):
            url = (msg.location or {}).get("url", "")
            if msg.type == "error" and not (msg.text.startswith("Failed to load resource") and not url.startswith("file:")):
                self.errors.append(msg.text)

        self.page.on("console", console)
        self.page.goto(url, wait_until="load")

    def own_errors(self):
        return [e for e in self.errors if e not in KNOWN_UPSTREAM]

    def close(self):
        self.context.close()


def _wait_ready(page, timeout=120_000):
    page.wait_for_function(
        "() => { const r = document.querySelectorAll('div.shb-explorable');"
        " return r.length > 0 && Array.from(r).every(e => e.getAttribute('data-shb-ready') === '1'); }",
        timeout=timeout)


def _shown(root):
    """What one explorable shows: settings, readout numbers (exact), the figure's paths, update count."""
    return root.evaluate(
        """root => {
            const s = {}, q = {};
            root.querySelectorAll("output[data-control]").forEach(o => { s[o.dataset.control] = o.dataset.value; });
            root.querySelectorAll("span[data-quantity]").forEach(e => { q[e.dataset.quantity] = e.dataset.value; });
            const paths = Array.from(root.querySelectorAll(".shb-explorable-figure svg [data-series]")).map(p => p.outerHTML);
            return {settings: s, quantities: q, paths: paths, updates: Number(root.getAttribute("data-updates")),
                    label: (root.querySelector(".shb-explorable-figure svg") || {getAttribute: () => ""}).getAttribute("aria-label")};
        }""")


def _f(x) -> float:
    return float(x)


# --------------------------------------------------------------------------------------------------------------------
# what the library computes for the settings a page shows
# --------------------------------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def _greedy(n, kappa, noise, batch, T):
    from shb_lib import nqm
    from shb_lib.explorables import family_problem

    return nqm.greedy_schedule(family_problem(n, kappa, noise, batch), T)


@functools.lru_cache(maxsize=None)
def _grid_losses(noise, batch):
    from shb_lib.explorables import decay_grid_losses, family_problem

    return decay_grid_losses(family_problem(noise=noise, batch_size=batch))


def expected(kind: str, s: dict) -> dict:
    from shb_lib import nqm
    from shb_lib.explorables import DECAY_GRID, family_problem, horizon_choice

    if kind == "moments":
        T = int(_f(s["horizon"]))
        lr, mu, noise = _f(s["lr"]), _f(s["momentum"]), _f(s["noise"])
        p = family_problem(noise=noise)
        lrs, mus = np.full(T, lr), np.full(T, mu)
        loss = np.asarray(nqm.rollout(p, lrs, mus))
        high, low = (np.asarray(x) for x in nqm.band_losses(p, nqm.trajectory(p, lrs, mus).theta2))
        def inf(x):  # the library's band losses of a diverged run are inf or nan; the page reports inf
            return float(x) if math.isfinite(x) else math.inf

        return {"final_loss": loss[-1], "final_high": inf(high[-1]), "final_low": inf(low[-1]), "greedy_final_loss": _greedy(1000, 200.0, noise, 1, T).final_loss,
                "lr_hmax": lr * float(np.max(p.h))}
    if kind == "greedy":
        n, kappa, noise, batch, T = (int(_f(s["n"])), _f(s["kappa"]), _f(s["noise"]), int(_f(s["batch"])),
                                     int(_f(s["horizon"])))
        g, det = _greedy(n, kappa, noise, batch, T), _greedy(n, kappa, 0.0, 1, T)
        h = np.asarray(family_problem(n, kappa).h)
        r, q = math.sqrt(h.max()), math.sqrt(h.min())
        # a noise-free greedy run of T >= n steps is conjugate gradient, which finishes exactly after n steps: what
        # is left is rounding (1e-16 of the initial loss, on either side of 0): values are compared relative to at
        # least 1e-6 of the initial loss, i.e. to 1e-15 of it in absolute terms
        return {"_scale": 1e-6 * g.losses[0], "final_loss": g.final_loss, "final_high": g.high_curvature_losses[-1],
                "final_low": g.low_curvature_losses[-1], "last_lr": g.lrs[-1], "last_momentum": g.momenta[-1],
                "no_noise_final_loss": det.final_loss, "polyak_lr": 4 / (r + q) ** 2,
                "polyak_momentum": ((r - q) / (r + q)) ** 2}
    if kind == "horizon":
        T, noise, batch = int(_f(s["horizon"])), _f(s["noise"]), int(_f(s["batch"]))
        losses, TL = _grid_losses(noise, batch), DECAY_GRID["longHorizon"]
        nb = len(DECAY_GRID["beta"])
        gT, gL = horizon_choice(losses, T), horizon_choice(losses, TL)
        return {"short_alpha0": DECAY_GRID["alpha0"][gT // nb], "short_beta": DECAY_GRID["beta"][gT % nb],
                "short_final_loss": losses[gT, TL], "long_alpha0": DECAY_GRID["alpha0"][gL // nb],
                "long_beta": DECAY_GRID["beta"][gL % nb], "long_final_loss": losses[gL, TL],
                "ratio": losses[gT, TL] / losses[gL, TL], "noise_per_sample": noise / batch}
    raise ValueError(kind)


def _compare(kind, shown, where) -> float:
    exp = expected(kind, shown["settings"])
    scale = exp.pop("_scale", 0.0)
    worst = 0.0
    for name, want in exp.items():
        assert name in shown["quantities"], f"{where}: the page shows no {name}"
        got, want = _f(shown["quantities"][name]), float(want)
        if not math.isfinite(want):
            assert got == math.inf, f"{where}: {name} = {got}, the library: {want}"
            continue
        floor = 1e-3 if "momentum" in name else (scale if "loss" in name or "final" in name else 1e-300)
        rel = abs(got - want) / max(abs(want), floor)
        assert rel <= RTOL, f"{where}: {name} = {got!r}, the library computes {want!r} (relative {rel:.2g})"
        worst = max(worst, rel)
    return worst


def _move(page, root, name, how):
    """Move control ``name``: 'Home', 'End', 'ArrowLeft', 'ArrowRight' by keyboard, or an index by input event.
    Returns False (and waits for nothing) when a key left the value where it was (Home at the start)."""
    inp = root.locator(f'input[type=range][data-control="{name}"]')
    before, value = int(root.get_attribute("data-updates")), inp.input_value()
    if isinstance(how, int):
        inp.evaluate("(el, v) => { el.value = String(v); el.dispatchEvent(new Event('input', {bubbles: true})); }", how)
    else:
        inp.focus()
        page.keyboard.press(how)
        if inp.input_value() == value:
            return False
    try:
        page.wait_for_function("([r, b]) => Number(r.getAttribute('data-updates')) > b",
                               arg=[root.element_handle(), before], timeout=30_000)
    except Exception as exc:
        raise AssertionError(f"{root.get_attribute('data-explorable')}: {name} -> {how} (from index {value} to "
                             f"{inp.input_value()}) was not redrawn: {exc}") from None
    return True


# --------------------------------------------------------------------------------------------------------------------
# tests
# --------------------------------------------------------------------------------------------------------------------

def test_explorables_live(chromium, page_file):
    o = Opened(chromium, page_file.as_uri())
    worst, moves, changed = 0.0, 0, 0
    try:
        _wait_ready(o.page)
        roots = o.page.locator("div.shb-explorable")
        assert roots.count() == 3
        for e in range(3):
            root = roots.nth(e)
            kind = root.get_attribute("data-explorable")
            cfg = root.evaluate("r => r.shbExplorer.config")
            prev = _shown(root)
            worst = max(worst, _compare(kind, prev, f"{kind} (initial)"))
            assert prev["label"] and len(prev["paths"]) >= 4
            for c in cfg["controls"]:
                inp = root.locator(f'input[type=range][data-control="{c["name"]}"]')
                assert inp.is_visible(), f"{kind}: control {c['name']} not visible"
                assert inp.get_attribute("aria-label"), f"{kind}: control {c['name']} has no label"
                n = len(c["values"])
                for how in ("End", "ArrowLeft", "Home", "ArrowRight", (n - 1) // 3, c["initial"]):
                    _move(o.page, root, c["name"], how)
                    st = _shown(root)
                    where = f"{kind}: {c['name']} -> {how} ({st['settings']})"
                    assert inp.get_attribute("aria-valuetext") == root.locator(
                        f'output[data-control="{c["name"]}"]').text_content(), where
                    worst = max(worst, _compare(kind, st, where))
                    if st["settings"] != prev["settings"]:
                        assert st["paths"] != prev["paths"], f"{where}: the figure was not redrawn"
                        changed += 1
                    prev, moves = st, moves + 1
        assert not o.own_errors(), o.own_errors()
        assert not o.blocked, f"requests outside file://: {o.blocked}"
    finally:
        o.close()
    print(f"\nexplorables: {moves} moves, {changed} redraws checked against shb_lib.nqm; "
          f"worst relative difference {worst:.2e}")


_TIMED_MOVE = """async (root, [name, index]) => {
    const inp = root.querySelector(`input[data-control="${name}"]`);
    const t0 = performance.now();
    inp.value = String(index);
    inp.dispatchEvent(new Event("input", {bubbles: true}));
    await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
    return [Number(root.getAttribute("data-redraw-ms")), performance.now() - t0,
            Number(root.getAttribute("data-compute-ms"))];
}"""


def test_explorables_redraw_time(chromium, page_file, artifacts_dir):
    lines = []
    for width, rate in ((688, 1), (688, 4), (390, 4)):
        o = Opened(chromium, page_file.as_uri(), width=width + 40)
        try:
            if rate != 1:
                cdp = o.context.new_cdp_session(o.page)
                cdp.send("Emulation.setCPUThrottlingRate", {"rate": rate})
            _wait_ready(o.page, timeout=300_000)
            roots = o.page.locator("div.shb-explorable")
            setup = roots.nth(2).get_attribute("data-setup-ms")
            for e in range(roots.count()):
                root = roots.nth(e)
                cfg = root.evaluate("r => r.shbExplorer.config")
                js, frame, comp = [], [], []
                for c in cfg["controls"]:
                    n = len(c["values"])
                    for index in (n - 1, n // 4, c["initial"]):
                        a, b, d = root.evaluate(_TIMED_MOVE, [c["name"], index])
                        js.append(a)
                        frame.append(b)
                        comp.append(d)
                lines.append(f"  {root.get_attribute('data-explorable'):8s} width {width}, CPU /{rate}: "
                             f"{len(js)} moves, recompute + redraw median {statistics.median(js):.1f} ms, max "
                             f"{max(js):.1f} ms (of which computing: median {statistics.median(comp):.1f} ms, "
                             f"max {max(comp):.1f} ms); to the next frame median "
                             f"{statistics.median(frame):.1f} ms, max {max(frame):.1f} ms")
            lines.append(f"  (chapter 3's one-time grid computation at CPU /{rate}: {setup} ms)")
            if rate == 4:
                shot = artifacts_dir / "screenshots" / f"explorables-{width}px.png"
                shot.parent.mkdir(parents=True, exist_ok=True)
                o.page.screenshot(path=str(shot), full_page=True)
            assert not o.own_errors(), o.own_errors()
        finally:
            o.close()
    print("\nexplorables, time per slider move:\n" + "\n".join(lines))


def test_explorables_without_javascript(chromium, page_file):
    o = Opened(chromium, page_file.as_uri(), javascript=False)
    try:
        page = o.page
        assert page.locator("div.shb-explorable").count() == 3
        assert page.locator("input[type=range]").count() > 0
        assert page.locator("input[type=range]:visible").count() == 0, "dead controls are visible"
        assert page.locator(".shb-explorable-nojs:visible").count() == 3
        imgs = page.locator("img.shb-explorable-fallback")
        assert imgs.count() == 3
        for i in range(3):
            img = imgs.nth(i)
            assert img.is_visible() and img.get_attribute("alt")
            assert img.evaluate("i => i.complete && i.naturalWidth > 0")
    finally:
        o.close()


def test_book_explorables(chromium, request):
    pages = {"01-nqm-dynamics": "moments", "02-greedy-optimal": "greedy", "03-short-horizon-bias": "horizon"}
    # SHB_BUILT_BOOK=<folder>/_build/html checks a book built beforehand (a targeted run), else the suite's build
    given = os.environ.get("SHB_BUILT_BOOK")
    html_root = pathlib.Path(given) if given else pathlib.Path(request.getfixturevalue("built_book"))
    for stem, kind in pages.items():
        html = html_root / "book" / f"{stem}.html"
        assert html.exists(), f"{html} not built"
        o = Opened(chromium, html.as_uri())
        try:
            roots = o.page.locator("div.shb-explorable")
            assert roots.count() == 1, f"{stem}: {roots.count()} explorables, expected 1"
            _wait_ready(o.page)
            root = roots.nth(0)
            assert root.get_attribute("data-explorable") == kind
            _compare(kind, _shown(root), f"{stem} (initial)")
            name = "horizon"
            _move(o.page, root, name, "ArrowRight")
            _compare(kind, _shown(root), f"{stem} ({name} -> ArrowRight)")
            assert not o.own_errors(), f"{stem}: {o.own_errors()}"
            assert not [u for u in o.blocked if "explor" in u], o.blocked
        finally:
            o.close()
