"""shb_lib.widgets: the static slider (deterministic, self-contained, within budget) and the live controls.

The browser side (the script actually swapping frames) is tested in tests/test_browser.py.
"""

from __future__ import annotations

import base64
import hashlib
import html.parser
import io
import json
import os
import pathlib
import re
import subprocess
import sys
import textwrap

import matplotlib.pyplot as plt
import numpy as np
import pytest

from shb_lib import widgets
from shb_lib.plotting import new_figure
from shb_lib.widgets import MAX_BYTES, LiveControls, frame_key, slider_figure, static_slider

ROOT = pathlib.Path(__file__).resolve().parent.parent
GRID = {"horizon": [10, 30, 100, 250], "noise": [0.0, 0.5, 1.0, 2.0]}


def _live_dpi():
    from shb_lib.plotting import use_style

    use_style()
    return plt.rcParams["figure.dpi"] * widgets.LIVE_PIXEL_RATIO


def render(horizon, noise):
    """A figure that depends visibly on both parameters (like a chapter's loss curves)."""
    fig, ax = new_figure()
    t = np.arange(1, 301)
    ax.semilogy(t, np.exp(-t / horizon) + 1e-3 + 0.02 * noise * (1 + np.sin(t / 7)))
    ax.set(title=f"horizon {horizon}, noise {noise}", xlabel="step", ylabel="loss")
    return fig


def small(k, c="a"):
    fig, ax = new_figure(width=2.0, height=1.5)
    ax.plot(np.arange(4) ** k, label=str(c))
    return fig


@pytest.fixture(scope="module")
def demo():
    return static_slider(render, GRID, title="Demo slider")


class _Parser(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.data: dict[str, str] = {}
        self._in = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "script":
            self._in = a.get("class") or "js"
            self.data.setdefault(self._in, "")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in = None

    def handle_data(self, d):
        if self._in:
            self.data[self._in] += d


def _parse(html_text):
    p = _Parser()
    p.feed(html_text)
    return p


def _png_bytes(fig, dpi="figure"):
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def _png_chunks(data: bytes) -> list[bytes]:
    pos, out = 8, []
    while pos < len(data):
        n = int.from_bytes(data[pos : pos + 4], "big")
        out.append(data[pos + 4 : pos + 8])
        pos += 12 + n
    return out


# --------------------------------------------------------------------------------------------------------------------
# static slider: content
# --------------------------------------------------------------------------------------------------------------------


def test_frames_cover_the_grid_in_order_and_are_the_rendered_figures(demo):
    keys = [f"horizon={h}|noise={n}" for h in GRID["horizon"] for n in GRID["noise"]]
    assert demo.keys == keys
    assert demo.keys[5] == "horizon=30|noise=0.5" == frame_key({"horizon": 30, "noise": 0.5})
    assert demo.n_unique == 16  # every frame differs: the figure really depends on both parameters
    for key in ("horizon=10|noise=0.0", "horizon=100|noise=1.0", "horizon=250|noise=2.0"):
        h, n = (v.split("=")[1] for v in key.split("|"))
        expected = _png_bytes(render(horizon=int(h), noise=float(n)))
        assert demo.frames[key] == "data:image/png;base64," + base64.b64encode(expected).decode()


def test_html_structure_and_hooks(demo):
    p = _parse(demo.html)
    divs = [a for t, a in p.tags if t == "div" and a.get("class") == "shb-slider"]
    assert len(divs) == 1 and divs[0]["data-slider-id"] == demo.slider_id and divs[0]["data-frames"] == "16"
    inputs = [a for t, a in p.tags if t == "input"]
    assert [(a["type"], a["data-param"], a["min"], a["max"], a["value"]) for a in inputs] == [
        ("range", "horizon", "0", "3", "0"),
        ("range", "noise", "0", "3", "0"),
    ]
    (img,) = [a for t, a in p.tags if t == "img"]
    assert img["class"] == "shb-slider-frame" and img["data-frame-key"] == "horizon=10|noise=0.0"
    assert img["src"] == demo.frames["horizon=10|noise=0.0"]
    png = base64.b64decode(img["src"].split(",", 1)[1])
    assert (int(img["width"]), int(img["height"])) == widgets._png_size(png)  # shown at its natural size
    data = json.loads(p.data["shb-slider-data"])
    assert data["id"] == demo.slider_id and data["title"] == "Demo slider"
    assert [prm["name"] for prm in data["params"]] == ["horizon", "noise"]
    assert data["params"][1]["keys"] == ["0.0", "0.5", "1.0", "2.0"] == data["params"][1]["labels"]
    assert list(data["frames"]) == demo.keys
    assert all(data["images"][data["frames"][k]] == demo.frames[k] for k in demo.keys)
    # the initial frame is written once more, as the <img> src, so that it shows without JavaScript
    assert demo.html.count("data:image/png;base64,") == 16 + 1
    assert f'SLIDER_ID = "{demo.slider_id}"' in p.data["js"]


def test_html_is_self_contained(demo):
    """No CDN, no module loading, no network: opened from file:// it needs nothing else."""
    p = _parse(demo.html)
    assert not re.search(r"https?:|//cdn|unpkg|jsdelivr", demo.html)
    assert all(not a.get("src") or a["src"].startswith("data:") for _, a in p.tags)
    assert all(t != "link" for t, _ in p.tags)
    js = p.data["js"]
    for banned in ("import(", "import ", "require(", "fetch(", "XMLHttpRequest", "type=\"module\""):
        assert banned not in js
    assert [a.get("type") for t, a in p.tags if t == "script"] == ["application/json", None]


def test_png_frames_carry_no_metadata(demo):
    png = base64.b64decode(demo.frames["horizon=30|noise=0.5"].split(",", 1)[1])
    chunks = _png_chunks(png)
    assert chunks[0] == b"IHDR" and chunks[-1] == b"IEND"
    assert not {b"tEXt", b"iTXt", b"zTXt", b"tIME"} & set(chunks), chunks


def test_no_pyplot_figures_left_open():
    plt.close("all")
    static_slider(small, {"k": [1, 2, 3]}, title="closed")
    assert plt.get_fignums() == []  # else Jupyter's inline backend would show every frame under the cell


def test_labels_names_initial_and_escaping():
    s = static_slider(
        small,
        {"k": [1, 2], "c": ["a", "b"]},
        title='Tricky <title> & "quotes" </script>',
        labels={"k": ["one", "two <2>"], "c": str.upper},
        names={"k": "power k"},
        initial={"k": 2, "c": "b"},
    )
    p = _parse(s.html)
    assert s.initial_key == "k=2|c=b"
    (img,) = [a for t, a in p.tags if t == "img"]
    assert img["data-frame-key"] == "k=2|c=b" and img["src"] == s.frames["k=2|c=b"]
    assert [a["value"] for t, a in p.tags if t == "input"] == ["1", "1"]
    assert [a["aria-valuetext"] for t, a in p.tags if t == "input"] == ["two <2>", "B"]
    data = json.loads(p.data["shb-slider-data"])
    assert data["params"][0] == {"name": "k", "display": "power k", "keys": ["1", "2"], "labels": ["one", "two <2>"]}
    assert data["title"] == 'Tricky <title> & "quotes" </script>'
    # nothing the author wrote can close a <script> or open a tag
    assert s.html.count("</script>") == 2 and "<title>" not in s.html and "<2>" not in s.html


def test_numpy_values_and_key_texts():
    seen = []

    def r(h, lr):
        seen.append((h, lr))
        return small(1)

    s = static_slider(r, {"h": np.array([10, 100]), "lr": np.array([0.1, 1.0])}, title="np")
    assert s.keys == ["h=10|lr=0.1", "h=10|lr=1.0", "h=100|lr=0.1", "h=100|lr=1.0"]
    assert seen == [(10, 0.1), (10, 1.0), (100, 0.1), (100, 1.0)]
    assert all(type(h) is int and type(lr) is float for h, lr in seen)
    assert s.n_unique == 1  # identical frames are stored once in the JSON blob
    assert s.html.count("data:image/png;base64,") == 1 + 1


@pytest.mark.parametrize(
    "grid, kwargs, match",
    [
        ({}, {}, "non-empty"),
        ({"not a name": [1]}, {}, "identifiers"),
        ({"k": []}, {}, "empty"),
        ({"k": [1, 1.0]}, {}, "repeated"),
        ({"k": [True, False]}, {}, "bool"),
        ({"k": [1, 2]}, {"labels": {"k": ["one"]}}, "1 entries for 2 values"),
        ({"k": [1, 2]}, {"labels": {"q": ["x"]}}, "not in the grid"),
        ({"k": [1, 2]}, {"initial": {"k": 3}}, "not one of the grid values"),
        ({"k": [1, 2]}, {"fmt": "jpeg"}, "fmt"),
    ],
)
def test_invalid_input(grid, kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        static_slider(small, grid, title="bad", **kwargs)


def test_render_must_return_a_figure():
    with pytest.raises(TypeError, match="matplotlib Figure"):
        static_slider(lambda k: plt.plot([k]), {"k": [1]}, title="bad")
    plt.close("all")


# --------------------------------------------------------------------------------------------------------------------
# static slider: determinism (nbval compares text/html byte for byte) and size
# --------------------------------------------------------------------------------------------------------------------


def test_deterministic_within_a_process(demo):
    other = static_slider(small, {"k": [1, 2]}, title="something else in between")
    again = static_slider(render, GRID, title="Demo slider")
    assert again.html == demo.html
    assert other.slider_id != demo.slider_id


def test_id_depends_on_title_and_grid_only():
    def sid(title="T", grid=None, r=small, **kw):
        return static_slider(r, grid or {"k": [1, 2]}, title=title, **kw).slider_id

    base = sid()
    assert sid() == base and len(base) == 12
    assert sid(title="T2") != base
    assert sid(grid={"k": [1, 3]}) != base
    assert sid(grid={"k": [1, 2], "c": ["a"]}) != base
    assert sid(labels={"k": ["one", "two"]}) != base
    assert sid(initial={"k": 2}) != base
    # same title and grid, different pictures: the id stays (it names the control; nbval compares the frames)
    assert sid(r=lambda k: small(k + 1)) == base


def test_deterministic_across_processes(demo):
    """A fresh interpreter (as a new kernel under nbval) writes the very same bytes."""
    code = textwrap.dedent(
        f"""
        import hashlib, sys
        sys.path.insert(0, {str(pathlib.Path(__file__).parent)!r})
        from test_widgets import render, GRID
        from shb_lib.widgets import static_slider
        print(hashlib.sha256(static_slider(render, GRID, title="Demo slider").html.encode()).hexdigest())
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    assert out.stdout.strip() == hashlib.sha256(demo.html.encode()).hexdigest()


def test_size_budget(demo):
    assert demo.nbytes < MAX_BYTES
    print(f"\ndemo slider (4 x 4 frames, png, 80 dpi): {demo.summary()}")
    small8 = static_slider(render, GRID, title="Demo slider", fmt="png8")
    assert small8.nbytes < demo.nbytes / 1.5
    print(f"same with fmt='png8': {small8.summary()}")
    with pytest.raises(ValueError, match="over its budget"):
        static_slider(render, {"horizon": [10, 30], "noise": [0.0]}, title="tight", max_bytes=20_000)


# --------------------------------------------------------------------------------------------------------------------
# slider_figure: what gets displayed, and when live controls are added
# --------------------------------------------------------------------------------------------------------------------


@pytest.fixture
def shown(monkeypatch):
    out = []
    monkeypatch.setattr(widgets, "_show", lambda obj, metadata=None: out.append(obj))
    monkeypatch.delenv("SHB_LIVE", raising=False)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    return out


def test_slider_figure_outside_a_kernel_shows_only_the_static_slider(shown):
    assert slider_figure(small, {"k": [1, 2]}, title="t") is None  # last line of a cell: no second repr
    assert len(shown) == 1 and isinstance(shown[0], widgets.StaticSlider)
    bundle = shown[0]._repr_mimebundle_()
    assert set(bundle) == {"text/html", "text/plain"}
    assert bundle["text/plain"] == "<shb slider 't': 2 precomputed frames>"


def test_slider_figure_live_shows_one_set_of_controls_marked_for_the_save_hook(shown, monkeypatch):
    import ipywidgets

    calls = []
    monkeypatch.setattr(widgets, "_show", lambda obj, metadata=None: shown.append((obj, metadata)))

    def r(k):
        calls.append(k)
        return small(k)

    slider_figure(r, {"k": [1, 2]}, title="t", live=True)
    ((box, meta),) = shown  # the live box only: no static slider beside it, no frame precomputed
    assert isinstance(box, ipywidgets.VBox) and calls == [1]
    sid = static_slider(small, {"k": [1, 2]}, title="t").slider_id
    assert meta == {widgets.LIVE_METADATA_KEY: {"slider_id": sid}}  # names the stored slider to put back
    with pytest.raises(ValueError, match="live must be"):
        slider_figure(small, {"k": [1, 2]}, title="t", live="yes")
    with pytest.raises(ValueError, match="live_grid must name"):
        slider_figure(small, {"k": [1, 2]}, title="t", live_grid={"q": (1, 2)})


def test_slider_figure_in_a_live_kernel_without_live_grid_shows_the_static_slider(shown, monkeypatch):
    """Live controls over the precomputed values only would add a second set of the same controls."""
    monkeypatch.setattr(widgets, "live_frontend", lambda: True)
    slider_figure(small, {"k": [1, 2]}, title="t")
    assert len(shown) == 1 and isinstance(shown[0], widgets.StaticSlider)
    slider_figure(small, {"k": [1, 2]}, title="t", live_grid={"k": (1, 4)})
    assert len(shown) == 2 and not isinstance(shown[1], widgets.StaticSlider)


class _FakeKernelShell:
    def __init__(self, user_ns=None):
        self.kernel = object()
        self.user_ns = user_ns or {}


@pytest.mark.parametrize(
    "env, in_kernel, user_ns, expected",
    [
        ({}, False, {}, False),  # plain python / pytest
        ({"JPY_SESSION_NAME": "/x/03.ipynb"}, False, {}, False),  # a subprocess of a Jupyter kernel, no kernel here
        ({}, True, {}, False),  # a kernel started by nbclient (book run, nbval, jupyter-book)
        ({"JPY_SESSION_NAME": "/x/03.ipynb"}, True, {}, False),  # a plain jupyter lab: its saves would break
        ({"JPY_SESSION_NAME": "/x/03.ipynb", "SHB_LAB_SAVE_HOOK": "1"}, True, {}, True),  # shb_lib.book lab
        ({"SHB_LAB_SAVE_HOOK": "1"}, True, {}, False),  # a batch kernel started by a process of that server
        ({}, True, {"__vsc_ipynb_file__": "/x/03.ipynb"}, False),  # VS Code saves widgets without state too
        ({"SHB_LIVE": "0", "JPY_SESSION_NAME": "/x/03.ipynb", "SHB_LAB_SAVE_HOOK": "1"}, True, {}, False),
        ({"SHB_LIVE": "1"}, False, {}, True),
    ],
)
def test_live_frontend_detection(monkeypatch, env, in_kernel, user_ns, expected):
    import IPython

    for var in ("SHB_LIVE", "JPY_SESSION_NAME", "SHB_LAB_SAVE_HOOK"):
        monkeypatch.delenv(var, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setattr(IPython, "get_ipython", lambda: _FakeKernelShell(user_ns) if in_kernel else None)
    assert widgets.live_frontend() is expected


# --------------------------------------------------------------------------------------------------------------------
# live controls, driven in-process without a front-end
# --------------------------------------------------------------------------------------------------------------------


def test_live_controls_have_the_grid_values_and_recompute_on_change():
    import ipywidgets

    calls = []

    def r(horizon, noise):
        calls.append((horizon, noise))
        return render(horizon, noise)

    labels = {"noise": ["none", "low", "mid", "high"]}
    live = LiveControls(r, GRID, title="Live demo", initial={"horizon": 100}, labels=labels)
    assert set(live.sliders) == {"horizon", "noise"}
    h, n = live.sliders["horizon"], live.sliders["noise"]
    assert isinstance(h, ipywidgets.SelectionSlider) and not h.continuous_update
    assert list(h.options) == [("10", 10), ("30", 30), ("100", 100), ("250", 250)]
    assert list(n.options) == [("none", 0.0), ("low", 0.5), ("mid", 1.0), ("high", 2.0)]
    assert (h.value, n.value) == (100, 0.0)
    assert calls == [(100, 0.0)]
    assert live.image.value == _png_bytes(render(100, 0.0), dpi=_live_dpi())
    assert live.widget.children[-1] is live.image
    # drawn at twice the style's dpi, shown at the size of a 1x frame: crisp on a HiDPI screen, never stretched
    one_x = widgets._png_size(_png_bytes(render(100, 0.0)))[0]
    assert live.image.layout.width == f"{one_x}px"
    assert abs(widgets._png_size(live.image.value)[0] - 2 * one_x) <= 2

    n.value = 1.0  # what the front-end does when the reader moves the slider
    assert calls[-1] == (100, 1.0) and live.key == "horizon=100|noise=1.0"
    assert live.image.value == _png_bytes(render(100, 1.0), dpi=_live_dpi())
    assert "horizon = 100, noise = mid" not in live.status.value  # values shown as the control shows them
    assert "horizon = 100, noise = 1.0" in live.status.value and re.search(r"drawn in \d+\.\d\d s", live.status.value)
    assert live.seconds is not None and 0 < live.seconds < 60
    h.value = 250
    assert calls[-1] == (250, 1.0)
    assert live.image.value == _png_bytes(render(250, 1.0), dpi=_live_dpi())

    h.value = 100  # seen before: served from the cache
    assert len(calls) == 3 and live.image.value == _png_bytes(render(100, 1.0), dpi=_live_dpi())
    assert "(cached)" in live.status.value
    assert plt.get_fignums() == []


def test_live_controls_show_render_errors_and_stay_usable():
    def r(k):
        if k == 2:
            raise RuntimeError("diverged")
        return small(k)

    live = LiveControls(r, {"k": [1, 2, 3]}, title="errors")
    before = live.image.value
    live.sliders["k"].value = 2
    assert "RuntimeError: diverged" in live.status.value and live.image.value == before
    live.sliders["k"].value = 3
    assert live.image.value == _png_bytes(small(3), dpi=_live_dpi()) and "k = 3 " in live.status.value


def _sliders(box):
    import ipywidgets

    out = []
    for c in box.children:
        out.extend(_sliders(c) if isinstance(c, ipywidgets.Box) else [c] if hasattr(c, "continuous_update") else [])
    return out


def test_live_grid_can_be_finer_than_the_precomputed_one(shown):
    slider_figure(small, {"k": [1, 3]}, title="t", live=True, live_grid={"k": [1, 2, 3]}, labels={"k": ["a", "b"]})
    (slider,) = _sliders(shown[0])
    assert list(slider.options) == [("1", 1), ("2", 2), ("3", 3)]


def test_live_grid_ranges_give_continuous_sliders_starting_at_the_static_frame(shown):
    import ipywidgets

    seen = []

    def r(k, c):
        seen.append((k, c))
        return small(k, c)

    slider_figure(r, {"k": [1, 3], "c": [0.5, 2.0]}, title="t", live=True, initial={"k": 3},
                  live_grid={"k": (1, 6), "c": (0.0, 4.0)})
    k, c = _sliders(shown[0])
    assert isinstance(k, ipywidgets.IntSlider) and (k.min, k.max, k.step, k.value) == (1, 6, 1, 3)
    assert isinstance(c, ipywidgets.FloatSlider) and (c.min, c.max, c.value) == (0.0, 4.0, 0.5)
    assert c.step == pytest.approx(0.02) and not k.continuous_update
    k.value, c.value = 5, 1.23  # values between the precomputed frames
    assert seen == [(3, 0.5), (5, 0.5), (5, 1.23)]


@pytest.mark.parametrize("spec, match", [((1,), "a range must be"), ((2, 1), "low must be < high"),
                                         ((0.0, 1.0, -0.1), "step must be > 0"), ((True, 2), "a range must be")])
def test_live_grid_bad_ranges(spec, match):
    with pytest.raises(ValueError, match=match):
        LiveControls(small, {"k": spec}, title="bad")


# --------------------------------------------------------------------------------------------------------------------
# in a real kernel, executed like the chapters (nbclient, widget state stored)
# --------------------------------------------------------------------------------------------------------------------

KERNEL_SOURCE = """\
import numpy as np
from shb_lib.plotting import new_figure
from shb_lib.widgets import slider_figure

def r(k, c):
    fig, ax = new_figure(width=3, height=2)
    ax.plot(np.arange(5) ** k, color=c)
    return fig

slider_figure(r, {"k": [1, 2], "c": ["C0", "C1"]}, title="in a kernel")"""


def _execute(tmp_path, name, source=KERNEL_SOURCE):
    """Execute like ``python -m shb_lib.book run`` does: nbclient, a fresh python3 kernel, widget state stored."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source)]
    NotebookClient(
        nb,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
        record_timing=False,
        store_widget_state=True,
    ).execute()
    nbformat.write(nb, tmp_path / name)
    return nbformat.read(tmp_path / name, as_version=4)


def test_in_a_kernel(tmp_path, monkeypatch):
    """Batch execution stores the static slider only (same bytes as here); so does a JupyterLab kernel without a
    live grid; with one, a JupyterLab kernel of ``shb_lib.book lab`` shows the live controls only, marked."""
    for var in ("SHB_LIVE", "JPY_SESSION_NAME", "SHB_LAB_SAVE_HOOK"):
        monkeypatch.delenv(var, raising=False)
    nb1 = _execute(tmp_path, "batch.ipynb")
    (out,) = nb1.cells[0].outputs  # no stray image/png of a frame, no widget, no stream
    assert out.output_type == "display_data" and sorted(out.data) == ["text/html", "text/plain"]
    assert out.data["text/html"].startswith('<div class="shb-slider"')
    assert "widgets" not in nb1.metadata  # the book will not load ipywidgets from a CDN nor draw dead controls

    # what the kernel wrote is what this process writes: determinism across kernels, as nbval needs
    ns: dict = {"__name__": "kernel_source"}
    exec(KERNEL_SOURCE.rsplit("\n\n", 1)[0], ns)
    here = static_slider(ns["r"], {"k": [1, 2], "c": ["C0", "C1"]}, title="in a kernel")
    assert out.data["text/html"] == here.html

    # the same notebook in JupyterLab started by shb_lib.book lab (JPY_SESSION_NAME and the save hook's flag)
    monkeypatch.setenv("JPY_SESSION_NAME", str(tmp_path / "lab.ipynb"))
    monkeypatch.setenv("SHB_LAB_SAVE_HOOK", "1")
    (static,) = _execute(tmp_path, "lab.ipynb").cells[0].outputs
    assert static.data["text/html"] == here.html  # no live grid: the static slider, identical

    live_source = KERNEL_SOURCE[:-1] + ',\n             live_grid={"k": (1, 4), "c": ["C0", "C1", "C2"]})'
    nb3 = _execute(tmp_path, "live.ipynb", live_source)
    (live,) = nb3.cells[0].outputs  # one set of controls
    assert "application/vnd.jupyter.widget-view+json" in live.data and "text/html" not in live.data
    assert live.metadata[widgets.LIVE_METADATA_KEY] == {"slider_id": here.slider_id}
    state = nb3.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    names = sorted(m["model_name"] for m in state.values())
    assert names.count("IntSliderModel") == 1 and names.count("SelectionSliderModel") == 1 and "ImageModel" in names

    # saving it through shb_lib.lab's hook against the batch file puts the stored static slider back
    from shb_lib import lab

    import nbformat

    saved = json.loads(nbformat.writes(nb3))
    stored = json.loads((tmp_path / "batch.ipynb").read_text())
    saved["cells"][0]["id"] = stored["cells"][0]["id"]
    assert lab.restore_stored_outputs(saved, stored) == 1
    assert saved["cells"][0]["outputs"] == stored["cells"][0]["outputs"] and "widgets" not in saved["metadata"]


# --------------------------------------------------------------------------------------------------------------------
# shb_lib.lab's save hook, on notebook dicts
# --------------------------------------------------------------------------------------------------------------------


def _nb(*cells, widgets_state=False):
    nb = {"cells": list(cells), "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    if widgets_state:
        nb["metadata"]["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    return nb


def _cell(cid, source, *outputs):
    return {"cell_type": "code", "id": cid, "source": source, "metadata": {}, "execution_count": 1,
            "outputs": list(outputs)}


def _static_out(sid, extra=""):
    return {"output_type": "display_data", "metadata": {},
            "data": {"text/html": f'<div class="shb-slider" data-slider-id="{sid}">{extra}</div>', "text/plain": "s"}}


def _live_out(sid):
    return {"output_type": "display_data", "metadata": {widgets.LIVE_METADATA_KEY: {"slider_id": sid}},
            "data": {"application/vnd.jupyter.widget-view+json": {"model_id": "abc"}, "text/plain": "VBox()"}}


def test_save_hook_restores_by_cell_id_then_source_and_keeps_other_outputs():
    from shb_lib import lab

    stream = {"output_type": "stream", "name": "stdout", "text": "new run\n"}
    stored = _nb(_cell("a", "x", _static_out("s1", "old")), _cell("b", "y", _static_out("s2", "kept")))
    nb = _nb(_cell("a", "x changed", stream, _live_out("s1")), _cell("zz", "y", _live_out("s2")),
             widgets_state=True)
    assert lab.restore_stored_outputs(nb, stored) == 2
    assert nb["cells"][0]["outputs"] == [stream, _static_out("s1", "old")]  # by id, the new stream kept
    assert nb["cells"][1]["outputs"] == [_static_out("s2", "kept")]  # by source
    assert "widgets" not in nb["metadata"]


def test_save_hook_drops_live_outputs_without_a_stored_slider_and_leaves_other_notebooks_alone():
    from shb_lib import lab

    other = _nb(_cell("a", "x", _static_out("s1")))
    nb = _nb(_cell("a", "x", _live_out("s-new")), _cell("b", "y", _live_out("s1")))
    assert lab.restore_stored_outputs(nb, None) == 2
    assert [c["outputs"] for c in nb["cells"]] == [[], []]
    nb = _nb(_cell("a", "x", _live_out("s-other-id")))
    assert lab.restore_stored_outputs(nb, other) == 1 and nb["cells"][0]["outputs"] == []  # a different slider
    plain = _nb(_cell("a", "x", _static_out("s1")), widgets_state=True)
    before = json.dumps(plain)
    assert lab.restore_stored_outputs(plain, other) == 0 and json.dumps(plain) == before


def test_save_hook_reads_the_file_being_replaced(tmp_path):
    from shb_lib import lab

    class _CM:
        log = __import__("logging").getLogger("test")

        def _get_os_path(self, path):
            return str(tmp_path / path)

    (tmp_path / "n.ipynb").write_text(json.dumps(_nb(_cell("a", "x", _static_out("s1")))))
    model = {"type": "notebook", "content": _nb(_cell("a", "x", _live_out("s1")))}
    lab.keep_committed_outputs(model=model, path="/n.ipynb", contents_manager=_CM())
    assert model["content"]["cells"][0]["outputs"] == [_static_out("s1")]
    model = {"type": "notebook", "content": _nb(_cell("a", "x", _live_out("s1")))}
    lab.keep_committed_outputs(model=model, path="missing.ipynb", contents_manager=_CM())  # a new file
    assert model["content"]["cells"][0]["outputs"] == []
    folded = _cell("b", "solution", _static_out("s9"))
    folded["metadata"] = {"tags": ["hide-cell"]}  # JupyterLab unfolded its output when it ran
    model = {"type": "notebook", "content": _nb(folded)}
    lab.keep_committed_outputs(model=model, path="n.ipynb", contents_manager=_CM())
    meta = model["content"]["cells"][0]["metadata"]
    assert meta["jupyter"] == {"source_hidden": True, "outputs_hidden": True} and meta["collapsed"] is True
    text = {"type": "file", "content": "x"}
    lab.keep_committed_outputs(model=text, path="n.txt", contents_manager=_CM())
    assert text == {"type": "file", "content": "x"}


def test_lab_env_loads_the_extension(tmp_path):
    from shb_lib import lab

    env = lab.lab_env(tmp_path / "cfg", base={"JUPYTER_CONFIG_PATH": "/elsewhere", "SHB_LIVE": "0"})
    assert env["JUPYTER_CONFIG_PATH"].split(os.pathsep) == [str(tmp_path / "cfg"), "/elsewhere"]
    assert "SHB_LIVE" not in env  # a forced SHB_LIVE=0 would hide the live controls the command is for
    cfg = json.loads((tmp_path / "cfg" / "jupyter_server_config.json").read_text())
    assert cfg["ServerApp"]["jpserver_extensions"] == {"shb_lib.lab": True}
    assert lab._jupyter_server_extension_points() == [{"module": "shb_lib.lab"}]


# --------------------------------------------------------------------------------------------------------------------
# the chapters' stored outputs
# --------------------------------------------------------------------------------------------------------------------


def _slider_outputs(nb):
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        for out in cell.get("outputs", []):
            h = out.get("data", {}).get("text/html", "")
            h = "".join(h) if isinstance(h, list) else h
            if 'class="shb-slider"' in h:
                yield i, cell, h


def test_chapters_ship_working_sliders():
    """Chapters 3 and 4 show sliders; every stored slider is within budget and ships no dead live controls."""
    import nbformat

    notebooks = sorted((ROOT / "book").glob("*.ipynb"))
    found = {}
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        sliders = list(_slider_outputs(nb))
        found[path.name] = [len(h.encode()) for _, _, h in sliders]
        for i, cell, h in sliders:
            assert len(h.encode()) <= MAX_BYTES, f"{path.name} cell {i}: slider of {len(h.encode())} bytes"
            views = [o for o in cell.outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
            assert not views, f"{path.name} cell {i}: live controls stored next to the slider (run via shb_lib.book)"
    for prefix in ("03-", "04-"):
        chapter = [p.name for p in notebooks if p.name.startswith(prefix)]
        if chapter:
            assert found[chapter[0]], f"{chapter[0]} has no stored slider output (slider_figure)"
    sizes = {k: [f"{b / 1e3:.0f} kB" for b in v] for k, v in found.items() if v}
    print(f"\nslider sizes in the chapters: {sizes or 'none yet'}")


def test_slider_figure_names_an_unknown_keyword():
    from shb_lib.widgets import slider_figure

    with pytest.raises(TypeError, match=r"unexpected keyword arguments \['colour'\]; the frames' keywords are"):
        slider_figure(lambda x: None, {"x": [1, 2]}, title="t", colour="red")
