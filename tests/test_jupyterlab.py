"""The chapters' sliders in a real JupyterLab, driven through Chromium as a teacher would (issue 16).

One test, one server: JupyterLab (as ``python -m shb_lib.book lab`` starts it: the save hook of ``shb_lib.lab``) on
127.0.0.1 at a free port with a random token, configuration, data, settings and workspaces in a temporary folder,
serving one small notebook whose cell makes the same ``slider_figure`` call as chapter 3 (a precomputed grid plus a
continuous ``live_grid``), stored as ``python -m shb_lib.book run`` stores it. In Chromium it

1. opens the notebook (its solution cell folded by the metadata ``shb_lib.book run`` wrote), untrusted as a file from git is (the stored static slider shows one frame and a note saying
   how to get the controls: JupyterLab runs no script in untrusted output), and runs all cells: one set of controls, the live ones,
   with the drawing time shown and the figure shown at its CSS size (drawn at twice its dpi);
2. moves a live slider with the keyboard and checks that the figure changed;
3. saves (Ctrl+S): the file on disk holds the stored static slider again, byte for byte, and no widget;
4. shuts the kernel down, reopens the notebook with a fresh kernel: no "Error displaying widget", the static slider
   is there and, the saved notebook being trusted (signed on save), answers the arrow keys and the mouse;

then stops the server it started. Screenshots go to ``$SHB_SCREENSHOTS`` when set. It takes about a minute on two
busy cores (JupyterLab's start, two page loads, two kernels importing JAX).
"""

from __future__ import annotations

import json
import os
import pathlib
import secrets
import signal
import socket
import subprocess
import time
import urllib.request

import nbformat
import pytest

from shb_lib import book, lab

try:
    import jupyterlab  # noqa: F401
except ImportError:  # pinned in requirements.txt; CI (SHB_REQUIRE_BROWSER=1) must not pass without it
    if os.environ.get("SHB_REQUIRE_BROWSER") == "1":
        raise
    pytest.skip("JupyterLab is not installed (pip install -c constraints.txt jupyterlab==4.6.6)",
                allow_module_level=True)

CELL = """\
import numpy as np
from shb_lib.plotting import new_figure, use_style
from shb_lib.widgets import slider_figure

use_style()


def render(k, c):
    fig, ax = new_figure(width=4.0, height=2.5)
    ax.plot(np.linspace(0, 1, 50) ** k, color=c)
    ax.set(title=f"x ** {k}")
    return fig


slider_figure(render, {"k": [1, 3], "c": ["C0", "C1"]}, title="in JupyterLab",
              live_grid={"k": (1, 6), "c": ["C0", "C1", "C2"]})"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, timeout: float = 5.0):
    with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310 - 127.0.0.1 only
        return json.loads(r.read().decode() or "null")


@pytest.fixture
def server(tmp_path):
    """JupyterLab with shb_lib.lab's extension, isolated in tmp_path; stopped (its process group) afterwards."""
    root = tmp_path / "root"
    root.mkdir()
    home = tmp_path / "jupyter"
    port, token = _free_port(), secrets.token_hex(16)
    env = lab.lab_env(home / "extra-config")
    env.update(JUPYTER_CONFIG_DIR=str(home / "config"), JUPYTER_DATA_DIR=str(home / "data"),
               JUPYTER_RUNTIME_DIR=str(home / "runtime"), JUPYTERLAB_SETTINGS_DIR=str(home / "settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"), JUPYTER_PLATFORM_DIRS="1")
    news = home / "settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    news.parent.mkdir(parents=True)
    news.write_text('{"fetchNews": "false", "checkForUpdates": false}')  # no prompt over the page, no network
    env.pop("JPY_SESSION_NAME", None)
    env.pop(lab.SAVE_HOOK_ENV, None)
    cmd = lab.lab_command([
        "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--LabApp.news_url=",
        *(["--allow-root"] if os.geteuid() == 0 else []),  # containers and CI run as root
    ])
    log = open(tmp_path / "server.log", "w")
    proc = subprocess.Popen(cmd, env=env, cwd=root, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                _get(f"{base}/api/status?token={token}")
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    pytest.fail(f"JupyterLab did not start:\n{(tmp_path / 'server.log').read_text()[-3000:]}")
                time.sleep(0.5)
        yield {"base": base, "token": token, "root": root, "log": tmp_path / "server.log", "proc": proc}
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        log.close()


def _shot(page, name: str) -> None:
    folder = os.environ.get("SHB_SCREENSHOTS")
    if folder:
        pathlib.Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(pathlib.Path(folder) / f"jupyterlab-{name}.png"), full_page=False)


def _open(context, server, name: str):
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{server['base']}/lab/tree/{name}?token={server['token']}", wait_until="domcontentloaded")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=90_000)
    return page, errors


def _kernel_idle(server, deadline_s: float = 90.0) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        try:
            kernels = _get(f"{server['base']}/api/kernels?token={server['token']}")
        except OSError:  # HTTPError included: a kernel starting or shutting down; ask again
            kernels = None
        if kernels and all(k["execution_state"] == "idle" for k in kernels):
            return
        time.sleep(0.5)
    raise AssertionError(f"no idle kernel after {deadline_s} s")


def _shut_down_kernels(server, deadline_s: float = 30.0) -> None:
    """Delete every session (and so its kernel) until the server lists no kernel."""
    base, token = server["base"], server["token"]
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        try:
            sessions = _get(f"{base}/api/sessions?token={token}")
            for k in sessions:
                req = urllib.request.Request(f"{base}/api/sessions/{k['id']}?token={token}", method="DELETE")
                urllib.request.urlopen(req, timeout=10).close()  # noqa: S310 - 127.0.0.1 only
            if not sessions and not _get(f"{base}/api/kernels?token={token}"):
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"kernels still running after {deadline_s} s")


def _run_all(page) -> None:
    page.locator(".jp-Notebook").first.click(position={"x": 5, "y": 5})
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()


def test_live_sliders_in_jupyterlab_save_and_reopen_clean(server, chromium):
    t0 = time.perf_counter()
    path = server["root"] / "demo.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Sliders"), nbformat.v4.new_code_cell(CELL),
                nbformat.v4.new_markdown_cell("**Solution**"),
                nbformat.v4.new_code_cell('print("SOLUTION" + "_TEXT")', metadata={"tags": ["hide-cell"]})]
    nbformat.write(nb, path)
    book.run_notebook(path, timeout=300)  # the stored static slider, as the chapters ship it
    committed = nbformat.read(path, as_version=4)
    (static,) = [o for o in committed.cells[-3].outputs if "text/html" in o.get("data", {})]
    assert 'class="shb-slider"' in static.data["text/html"]

    context = chromium.new_context(viewport={"width": 1200, "height": 900})
    try:
        page, errors = _open(context, server, "demo.ipynb")
        page.wait_for_selector("div.shb-slider img.shb-slider-frame", timeout=30_000)
        _shot(page, "1-opened")
        # untrusted (a file from git): JupyterLab runs no script, so one frame and the note say what to do
        assert page.locator("div.shb-slider[data-shb-ready]").count() == 0
        assert "Showing one frame" in page.locator("div.shb-slider").inner_text()
        assert not page.locator("div.shb-slider input[type=range]").first.is_visible()  # no dead controls
        # the solution is folded (source and output) by the notebook's own metadata, as shb_lib.book run wrote it
        page.wait_for_selector(".jp-InputPlaceholder", timeout=30_000)
        assert "SOLUTION_TEXT" not in page.locator(".jp-Notebook").inner_text()
        page.locator(".jp-InputPlaceholder").first.scroll_into_view_if_needed()
        _shot(page, "1b-solution-folded")
        _kernel_idle(server)

        # 1. Run All: one set of controls, the live ones
        _run_all(page)
        live = page.locator(".shb-live")
        live.wait_for(timeout=120_000)
        img = live.locator("img")
        page.wait_for_function("() => { const i = document.querySelector('.shb-live img');"
                               " return i && i.naturalWidth > 0; }", timeout=60_000)
        _kernel_idle(server)
        assert page.locator("div.shb-slider").count() == 0, "the static slider is shown beside the live controls"
        assert page.locator(".shb-live .widget-slider, .shb-live .jupyter-widgets.widget-slider").count() >= 2
        status = live.locator(".widget-html").nth(1).inner_text()
        assert "drawn in" in status and "k = 1" in status, status
        natural, shown = img.evaluate("i => [i.naturalWidth, i.getBoundingClientRect().width]")
        assert abs(natural - 2 * shown) <= 2, (natural, shown)  # two device pixels per CSS pixel: crisp
        assert shown >= 4.0 * 72, shown  # a 4-inch figure at the style's dpi, not shrunk
        before = img.get_attribute("src")
        _shot(page, "2-live")

        # 2. move the live "k" slider with the keyboard: the kernel redraws
        handle = live.locator(".noUi-handle").first
        handle.focus()
        for _ in range(2):
            page.keyboard.press("ArrowRight")
        page.wait_for_function(
            "(old) => { const i = document.querySelector('.shb-live img'); return i && i.src !== old; }",
            arg=before, timeout=60_000)
        page.wait_for_function("() => /k = 3, c = C0 . drawn in/.test(document.querySelector('.shb-live').innerText)",
                               timeout=60_000)
        assert img.get_attribute("src") != before
        _shot(page, "3-moved")

        # 3. save: the file keeps the stored static slider, and no widget
        mtime = path.stat().st_mtime_ns
        page.locator(".jp-Notebook").first.click(position={"x": 5, "y": 5})
        page.keyboard.press("Control+s")
        deadline = time.monotonic() + 30
        while path.stat().st_mtime_ns == mtime and time.monotonic() < deadline:
            time.sleep(0.2)
        assert path.stat().st_mtime_ns != mtime, "the notebook was not saved"
        saved = nbformat.read(path, as_version=4)
        outs = saved.cells[-3].outputs
        assert [o.get("data", {}).get("text/html") for o in outs] == [static.data["text/html"]]
        assert saved.cells[-1].metadata["jupyter"] == {"source_hidden": True, "outputs_hidden": True}
        assert not any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outs)
        assert "widgets" not in saved.metadata
        page.close()

        # 4. a fresh kernel: no widget error, the static slider works with the keyboard
        _shut_down_kernels(server)
        page, errors2 = _open(context, server, "demo.ipynb")
        page.wait_for_selector("div.shb-slider[data-shb-ready='1']", timeout=60_000)
        _kernel_idle(server)
        page.wait_for_timeout(1000)
        text = page.locator(".jp-Notebook").inner_text()
        assert "Error displaying widget" not in text and "model not found" not in text
        frame = page.locator("img.shb-slider-frame")
        key = frame.get_attribute("data-frame-key")
        _shot(page, "4-reopened")
        page.locator("input[type=range][data-param=k]").focus()  # keyboard: focus, then the arrow keys
        page.keyboard.press("ArrowRight")
        page.wait_for_function(
            "(old) => document.querySelector('img.shb-slider-frame').getAttribute('data-frame-key') !== old",
            arg=key, timeout=10_000)
        assert frame.get_attribute("data-frame-key") == "k=3|c=C0" != key
        c = page.locator("input[type=range][data-param=c]")  # mouse: a click at the right end
        box = c.bounding_box()
        c.click(position={"x": box["width"] - 2, "y": box["height"] / 2})
        page.wait_for_function(
            "() => document.querySelector('img.shb-slider-frame').getAttribute('data-frame-key') === 'k=3|c=C1'",
            timeout=10_000)
        _shot(page, "5-keyboard")
        assert not errors and not errors2, errors + errors2
    finally:
        context.close()
    print(f"\nJupyterLab round trip: {time.perf_counter() - t0:.1f} s (server start excluded)")
