"""JupyterLab for class: saves that keep the chapters' stored outputs, and the command that starts it.

In a live session :func:`shb_lib.widgets.slider_figure` shows live ipywidgets controls instead of the stored static
slider, marking that output with :data:`shb_lib.widgets.LIVE_METADATA_KEY`. JupyterLab would save the widget
without its state (ipywidgets 8's "Save Widget State Automatically" is off by default), and the reopened notebook
would say "Error displaying widget: model not found". :func:`keep_committed_outputs`, a Jupyter server pre-save hook,
puts back, in the model being saved, the static slider that the file on disk holds for that cell (same slider id);
where the file has none, the live output is dropped. Saved widget state of those live controls is dropped too, and
the cells that the book folds are saved folded (running a folded cell unfolds its output in JupyterLab).

Two ways to run it:

* ``python -m shb_lib.book lab [jupyter lab options]`` starts ``jupyter lab`` with this module as a server
  extension (a temporary ``JUPYTER_CONFIG_PATH`` entry; the user's own configuration is untouched);
* ``jupyter server extension enable --sys-prefix shb_lib.lab`` enables it for every ``jupyter lab`` of the
  environment (``disable`` undoes it).

The extension registers the hook and sets :data:`shb_lib.widgets.SAVE_HOOK_ENV` in the server's environment, which
its kernels inherit; :func:`shb_lib.widgets.live_frontend` shows live controls only then.
"""

from __future__ import annotations

import copy
import json
import os
import pathlib
import subprocess
import sys
import tempfile
from collections.abc import Sequence

from .widgets import LIVE_METADATA_KEY, SAVE_HOOK_ENV

__all__ = ["EXTENSION_CONFIG", "keep_committed_outputs", "lab_command", "restore_stored_outputs"]

#: The server configuration that loads this module as an extension.
EXTENSION_CONFIG = {"ServerApp": {"jpserver_extensions": {"shb_lib.lab": True}}}

_WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value or "")


def _live_id(output: dict) -> str | None:
    """The slider id of a live output (None for any other output)."""
    mark = (output.get("metadata") or {}).get(LIVE_METADATA_KEY)
    return str(mark.get("slider_id", "")) if isinstance(mark, dict) else None


def _static_outputs(cell: dict | None, slider_id: str) -> list[dict]:
    """The stored static slider outputs of ``cell`` whose HTML has ``data-slider-id="slider_id"``."""
    if not cell:
        return []
    needle = f'data-slider-id="{slider_id}"'
    return [copy.deepcopy(o) for o in cell.get("outputs", [])
            if needle in _text((o.get("data") or {}).get("text/html", "")) and _live_id(o) is None]


def restore_stored_outputs(nb: dict, stored: dict | None) -> int:
    """Replace, in notebook ``nb`` (nbformat 4 as a dict, changed in place), every live output by the static slider
    with the same id that ``stored`` (the notebook on disk, or None) holds in the same cell (matched by cell id,
    else by source); drop it where there is none. Drops saved widget state once no widget view is left.

    Returns:
        the number of live outputs replaced or dropped.
    """
    stored_cells = (stored or {}).get("cells", [])
    by_id = {c.get("id"): c for c in stored_cells if c.get("id")}
    by_source = {_text(c.get("source")): c for c in stored_cells if c.get("cell_type") == "code"}
    changed = 0
    for cell in nb.get("cells", []):
        outputs = cell.get("outputs")
        if not outputs or not any(_live_id(o) is not None for o in outputs):
            continue
        old = by_id.get(cell.get("id")) or by_source.get(_text(cell.get("source")))
        new = []
        for o in outputs:
            sid = _live_id(o)
            if sid is None:
                new.append(o)
            else:
                changed += 1
                new.extend(_static_outputs(old, sid))
        cell["outputs"] = new
    if changed and "widgets" in nb.get("metadata", {}):
        views = any(_WIDGET_VIEW in (o.get("data") or {}) for c in nb.get("cells", []) for o in c.get("outputs", []))
        if not views:
            del nb["metadata"]["widgets"]
    return changed


def keep_committed_outputs(model: dict, path: str, contents_manager, **kwargs) -> None:
    """Jupyter server pre-save hook: :func:`restore_stored_outputs` on a notebook being saved, against the file
    that is about to be replaced (read from disk; a file that is missing or unreadable counts as holding none)."""
    if model.get("type") != "notebook" or not isinstance(model.get("content"), dict):
        return
    stored = None
    try:
        os_path = contents_manager._get_os_path(path.strip("/"))
        with open(os_path, encoding="utf-8") as f:
            stored = json.load(f)
    except (AttributeError, OSError, ValueError):
        stored = None
    count = restore_stored_outputs(model["content"], stored)
    if count:
        contents_manager.log.info("shb_lib.lab: %s: %d live output(s) saved as the stored static slider", path, count)
    # Running a folded cell unfolds its output in JupyterLab; the file keeps the book's folds for the next reader.
    import nbformat

    from .book import fold_cells

    nb = nbformat.from_dict(model["content"])
    if fold_cells(nb):
        model["content"] = nb


def _jupyter_server_extension_points():
    return [{"module": "shb_lib.lab"}]


def _load_jupyter_server_extension(serverapp) -> None:
    """Register the save hook and tell the kernels (through the environment they inherit) that it runs."""
    serverapp.contents_manager.register_pre_save_hook(keep_committed_outputs)
    os.environ[SAVE_HOOK_ENV] = "1"
    serverapp.log.info("shb_lib.lab: live sliders on; saves keep the stored static sliders")


def lab_env(config_dir: pathlib.Path, base: dict | None = None) -> dict:
    """The environment for a ``jupyter lab`` that loads this extension: ``config_dir`` (where this writes
    ``jupyter_server_config.json``) first on ``JUPYTER_CONFIG_PATH``."""
    config_dir = pathlib.Path(config_dir)
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "jupyter_server_config.json").write_text(json.dumps(EXTENSION_CONFIG, indent=1) + "\n")
    env = dict(os.environ if base is None else base)
    paths = [str(config_dir)] + [p for p in env.get("JUPYTER_CONFIG_PATH", "").split(os.pathsep) if p]
    env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(paths)
    env.pop("SHB_LIVE", None)
    return env


def lab_command(args: Sequence[str] = ()) -> list[str]:
    """The command line that starts JupyterLab with this environment's Python (``args`` passed on)."""
    return [sys.executable, "-m", "jupyterlab", *args]


def run_lab(args: Sequence[str] = ()) -> int:
    """Start JupyterLab with the extension, wait for it to end; returns its exit status."""
    with tempfile.TemporaryDirectory(prefix="shb-lab-") as tmp:
        try:
            return subprocess.call(lab_command(args), env=lab_env(pathlib.Path(tmp)))
        except KeyboardInterrupt:
            return 130
