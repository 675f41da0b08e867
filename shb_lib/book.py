"""Regenerate the chapters' stored outputs, top to bottom, with the installed library.

Notebook outputs are only ever committed through this command::

    python -m shb_lib.book run                 # every notebook listed in _toc.yml
    python -m shb_lib.book run book/03-*.ipynb # only the named ones
    python -m shb_lib.book list                # the notebooks of the table of contents, in reading order
    python -m shb_lib.book readme-figure       # redraw book/images/readme-figure.png (README's picture)

For class (book/teaching.md)::

    python -m shb_lib.book lab                 # JupyterLab with live sliders; saves keep the stored outputs
    python -m shb_lib.book time book/0[1-3]*.ipynb --json times.json   # Run All per chapter in a fresh kernel
    python -m shb_lib.book student --out student   # the chapters with every solution emptied
    python -m shb_lib.book fold [--check]      # JupyterLab's fold metadata on the cells the book folds (also
                                               # written by ``run``)

Each notebook is executed in a fresh kernel of the current environment, in its own folder (as nbval and the reader's
Jupyter do), with widget state stored so that the built book can draw the controls, and with JupyterLab's fold
metadata (``jupyter.source_hidden`` / ``outputs_hidden``, ``collapsed``) on every cell that the book folds
(:func:`fold_cells`: cells tagged ``hide-cell`` / ``hide-input`` / ``hide-output``, and a solution's prose). No timing
metadata is written, so a rerun with unchanged results leaves the file unchanged.

Nothing is lost: every argument is checked before the first notebook runs (it must exist, be a ``.ipynb`` file and
hold a valid notebook; ``--timeout`` must be a whole number of seconds > 0); a notebook is written only after all its
cells ran, atomically (a temporary file in its folder, then :func:`os.replace`), so a full disk, a failing cell or
Ctrl-C leaves it exactly as it was. A failing cell or Ctrl-C ends the command with a one-line message and status 1 or
130; the notebooks already finished keep their new outputs.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import time

from . import checks, results_io

ROOT = pathlib.Path(__file__).resolve().parent.parent


def toc_notebooks(root: pathlib.Path = ROOT) -> list[pathlib.Path]:
    """The ``.ipynb`` files named in ``_toc.yml`` (resolved, in reading order)."""
    import yaml

    toc = yaml.safe_load((root / "_toc.yml").read_text())
    files: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                files.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(toc)
    out = []
    for f in files:
        p = root / f
        if p.suffix == "":
            p = p.with_suffix(".ipynb") if p.with_suffix(".ipynb").exists() else p.with_suffix(".md")
        if p.suffix == ".ipynb":
            out.append(p.resolve())
    return out


LAUNCH_CELL_TAG = "colab-install"


def repository_url(root: pathlib.Path = ROOT) -> str:
    """The repository URL from ``_config.yml`` (used by the launch buttons and the Colab install cell)."""
    import yaml

    return yaml.safe_load((root / "_config.yml").read_text())["repository"]["url"]


def launch_cell_source(url: str) -> str:
    """Source of the first code cell of every chapter: on Colab it installs the library; elsewhere it does nothing."""
    return (
        "# On Colab, install the library and its dependencies first;\n"
        "# anywhere else this cell does nothing.\n"
        "import sys\n"
        "\n"
        'if "google.colab" in sys.modules:\n'
        "    import subprocess\n"
        "\n"
        '    subprocess.run([sys.executable, "-m", "pip", "install", "-q",\n'
        f'                    "shb-lib @ git+{url}"], check=True)'
    )


def ensure_launch_cell(nb) -> None:
    """Make the notebook's first code cell the Colab install cell (inserted once, kept up to date)."""
    import nbformat

    source = launch_cell_source(repository_url())
    for cell in nb.cells:
        if LAUNCH_CELL_TAG in cell.metadata.get("tags", []):
            cell.source = source
            return
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": [LAUNCH_CELL_TAG, "remove-cell"]})
    index = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code"), len(nb.cells))
    nb.cells.insert(index, cell)


#: Tags with which a chapter folds a cell in the built book (myst-nb), and the notebook metadata that folds the same
#: parts in JupyterLab / Notebook 7 (``jupyter.source_hidden``, ``jupyter.outputs_hidden``) and in the classic
#: notebook (``collapsed``: the outputs).
FOLD_TAGS = {"hide-cell": (True, True), "hide-input": (True, False), "hide-output": (False, True)}

#: A markdown cell whose text starts like this opens an exercise's solution; it runs up to the next markdown cell that
#: starts an exercise, another solution or a section, or to the end of the notebook.
SOLUTION_START = "**Solution"
_SOLUTION_END = ("**Exercise", "**Solution", "#")


def fold_cells(nb) -> int:
    """Set JupyterLab's fold metadata on every cell that the book folds, in place: a cell tagged ``hide-cell``
    gets ``jupyter.source_hidden`` and ``jupyter.outputs_hidden`` (and ``collapsed``), ``hide-input`` the first,
    ``hide-output`` the second; markdown cells with a solution's explanation (inside a solution, see
    :func:`solution_cells`, beyond its heading line) get ``jupyter.source_hidden``. Returns the number of cells whose
    metadata changed."""
    changed = 0
    prose = {i for i in solution_cells(nb) if nb.cells[i].cell_type == "markdown" and _solution_prose(nb.cells[i])}
    for i, cell in enumerate(nb.cells):
        tags = cell.metadata.get("tags", [])
        source, outputs = False, False
        for tag, (s, o) in FOLD_TAGS.items():
            if tag in tags:
                source, outputs = source or s, outputs or o
        if i in prose:
            source = True
        if not (source or outputs):
            continue
        before = repr(cell.metadata)
        jup = dict(cell.metadata.get("jupyter", {}))
        if source:
            jup["source_hidden"] = True
        if outputs and cell.cell_type == "code":
            jup["outputs_hidden"] = True
            cell.metadata["collapsed"] = True
        cell.metadata["jupyter"] = jup
        changed += repr(cell.metadata) != before
    return changed


def unfolded_cells(nb) -> list[int]:
    """The indices of cells that the book folds but whose metadata would not fold them in JupyterLab."""
    import copy

    probe = copy.deepcopy(nb)
    return [i for i, (a, b) in enumerate(zip(nb.cells, _folded(probe).cells)) if a.metadata != b.metadata]


def _folded(nb):
    fold_cells(nb)
    return nb


def _solution_prose(cell) -> bool:
    """Whether a markdown cell inside a solution says more than the solution's heading line."""
    lines = [ln for ln in cell.source.strip().splitlines() if ln.strip()]
    return bool(lines) and not (len(lines) == 1 and lines[0].startswith(SOLUTION_START))


def solution_cells(nb) -> list[int]:
    """The indices of the cells that belong to an exercise's solution: from a markdown cell starting with
    :data:`SOLUTION_START` up to (not including) the next markdown cell starting an exercise (``**Exercise``),
    another solution or a section (``#``), or the end of the notebook; code cells tagged ``hide-cell`` anywhere
    (a folded cell is a solution's)."""
    out, inside = [], False
    for i, cell in enumerate(nb.cells):
        text = cell.source.lstrip() if cell.cell_type == "markdown" else ""
        if text.startswith(SOLUTION_START):
            inside = True
        elif text.startswith(_SOLUTION_END):
            inside = False
        if inside or (cell.cell_type == "code" and "hide-cell" in cell.metadata.get("tags", [])):
            out.append(i)
    return out


def student_edition(nb):
    """A copy of ``nb`` with every solution emptied (:func:`solution_cells`): code cells without source, outputs or
    folding (an empty cell to write in), a solution's heading cell reduced to its heading line, its other markdown
    cells emptied. Every other cell, and the notebook's metadata, are left as they are."""
    import copy

    out = copy.deepcopy(nb)
    for i in solution_cells(out):
        cell = out.cells[i]
        if cell.cell_type == "code":
            cell.source = ""
            cell.outputs = []
            cell.execution_count = None
            cell.metadata.pop("jupyter", None)
            cell.metadata.pop("collapsed", None)
            tags = [t for t in cell.metadata.get("tags", []) if t not in FOLD_TAGS]
            if tags:
                cell.metadata["tags"] = tags
            else:
                cell.metadata.pop("tags", None)
        else:
            first = cell.source.lstrip().splitlines()[0] if cell.source.strip() else ""
            cell.source = first if first.startswith(SOLUTION_START) else ""
            cell.metadata.pop("jupyter", None)
            cell.pop("attachments", None)
    return out


def write_student_edition(paths: list[pathlib.Path], out_dir: pathlib.Path) -> list[pathlib.Path]:
    """Write :func:`student_edition` of each notebook into ``out_dir`` (same file names); returns the files written.

    ``out_dir`` must not be a folder of the given notebooks (that would overwrite them). Chapters 4-6 read
    ``../results``: put ``out_dir`` one level below the repository root (e.g. ``student/``) for them to run.

    Raises:
        NotebookError: a path is not a readable notebook. ValueError: ``out_dir`` holds one of the notebooks.
    """
    out_dir = pathlib.Path(out_dir).resolve()
    nbs = [(pathlib.Path(p).resolve(), read_notebook(p)) for p in paths]
    clash = [str(p) for p, _ in nbs if p.parent == out_dir]
    if clash:
        raise ValueError(f"--out {out_dir} holds the notebooks themselves ({', '.join(clash)}): choose another folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for p, nb in nbs:
        target = out_dir / p.name
        write_notebook(student_edition(nb), target)
        written.append(target)
    return written


class NotebookError(ValueError):
    """A path given to :func:`run_notebook` is not a readable notebook (a folder, a ``.md`` file, invalid JSON)."""


def read_notebook(path: pathlib.Path):
    """The notebook at ``path`` (nbformat 4), checked: it exists, is a ``.ipynb`` file and holds a valid notebook.

    Raises:
        NotebookError: naming the path and what is wrong with it.
    """
    import nbformat

    path = pathlib.Path(path)
    if not path.exists():
        raise NotebookError(f"{path}: no such notebook")
    if path.is_dir():
        raise NotebookError(f"{path}: is a folder, not a notebook (name the .ipynb files, e.g. {path}/*.ipynb)")
    if path.suffix != ".ipynb":
        raise NotebookError(f"{path}: not a .ipynb notebook (only executable notebooks have outputs to store)")
    try:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
    except (OSError, UnicodeDecodeError) as e:
        raise NotebookError(f"{path}: cannot be read ({type(e).__name__}: {e})") from None
    except Exception as e:  # NotJSONError, ValidationError, ...: anything that is not a valid notebook
        reason = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        raise NotebookError(f"{path}: not a valid notebook ({type(e).__name__}: {reason})") from None
    return nb


def write_notebook(nb, path: pathlib.Path) -> None:
    """Write ``nb`` to ``path`` atomically (:func:`shb_lib.results_io.atomic_write`): the old file stays intact
    until the new one is complete on disk."""
    import nbformat

    text = nbformat.writes(nb)  # validates and serializes in memory first: nothing is written if this fails
    if not text.endswith("\n"):
        text += "\n"  # as nbformat.write does
    results_io.atomic_write_text(path, text)


def run_notebook(path: pathlib.Path, timeout: int = 1800) -> float:
    """Execute ``path`` in place, top to bottom, in a fresh kernel; return the wall time in seconds.

    ``timeout`` (seconds per cell) must be an integer > 0. The file is rewritten only once every cell has run, and
    atomically; if a cell fails, times out or the run is interrupted, the file is left unchanged.

    Raises:
        NotebookError: ``path`` is not a readable notebook. ValueError: a bad ``timeout``.
        nbclient.exceptions.CellExecutionError: a cell raised (the file is unchanged).
        KeyboardInterrupt: on Ctrl-C (SIGINT) or SIGTERM, after the kernel was shut down (the file is unchanged).
    """
    from nbclient import NotebookClient

    checks.check_int("timeout", timeout, 1)
    path = pathlib.Path(path).resolve()
    nb = read_notebook(path)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    ensure_launch_cell(nb)
    for cell in nb.cells:  # drop stale outputs first: what is stored comes from this run only
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
            cell.metadata.pop("execution", None)
    # A batch run stores the static sliders only: live ipywidgets controls would be dead in the built book.
    os.environ["SHB_LIVE"] = "0"
    # The kernel must draw figures inline; an inherited MPLBACKEND (e.g. Agg) would drop every figure.
    os.environ.pop("MPLBACKEND", None)
    client = NotebookClient(
        nb,
        timeout=int(timeout),
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        record_timing=False,
        store_widget_state=True,
    )
    t0 = time.perf_counter()
    try:
        client.execute()
    except BaseException as e:
        # On SIGINT/SIGTERM nbclient's own handler shuts the kernel down (recording the future below); the cell
        # then fails with an unrelated error (DeadKernelError, or an AssertionError from a second cleanup).
        if isinstance(e, KeyboardInterrupt) or getattr(client, "_async_cleanup_kernel_future", None) is not None:
            raise KeyboardInterrupt from None
        raise
    elapsed = time.perf_counter() - t0
    fold_cells(nb)
    write_notebook(nb, path)
    return elapsed


LIVE_ENV = {"SHB_LAB_SAVE_HOOK": "1"}
"""What a kernel started by ``python -m shb_lib.book lab`` inherits from its server (besides ``JPY_SESSION_NAME``)."""


def time_notebook(path: pathlib.Path, timeout: int = 1800, live: bool = True, sample_s: float = 5.0) -> dict:
    """Run All in a fresh kernel, as a teacher does in JupyterLab, and measure it; the file is not written.

    ``live=True`` gives the kernel the environment of one started by ``python -m shb_lib.book lab``
    (``JPY_SESSION_NAME`` and :data:`LIVE_ENV`), so sliders build their live controls as in class.
    The machine's 1-minute load average is sampled every ``sample_s`` seconds: on a shared machine a time means
    little without it.

    Returns:
        ``{"notebook", "live", "cpus", "kernel_start_s", "run_all_s" (first cell sent to last reply), "total_s"
        (kernel start included), "load_before", "load_after", "load_mean", "load_max", "cells": [{"index",
        "seconds", "first_line"}, ...]}``, times in seconds.

    Raises:
        NotebookError: ``path`` is not a readable notebook. ValueError: a bad ``timeout`` or ``sample_s``.
        nbclient.exceptions.CellExecutionError: a cell raised.
    """
    import threading

    from nbclient import NotebookClient

    checks.check_int("timeout", timeout, 1)
    checks.check_real("sample_s", sample_s, scalar=True, low=0.0, low_open=True)
    path = pathlib.Path(path).resolve()
    nb = read_notebook(path)
    saved = {k: os.environ.get(k) for k in ("SHB_LIVE", "JPY_SESSION_NAME", "MPLBACKEND", *LIVE_ENV)}
    os.environ.pop("SHB_LIVE", None)
    os.environ.pop("MPLBACKEND", None)
    if live:
        os.environ.update(LIVE_ENV, JPY_SESSION_NAME=str(path))
    else:
        for k in ("JPY_SESSION_NAME", *LIVE_ENV):
            os.environ.pop(k, None)
    loads: list[float] = [os.getloadavg()[0]]
    stop = threading.Event()

    def sample():
        while not stop.wait(sample_s):
            loads.append(os.getloadavg()[0])

    cells: list[dict] = []
    started: dict[int, float] = {}

    def on_start(cell, cell_index):
        started[cell_index] = time.perf_counter()

    def on_done(cell, cell_index, **kwargs):
        first = next((ln for ln in cell.source.splitlines() if ln.strip()), "")
        cells.append({"index": cell_index, "seconds": round(time.perf_counter() - started[cell_index], 2),
                      "first_line": first[:80]})

    client = NotebookClient(nb, timeout=int(timeout), kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}}, record_timing=False,
                            on_cell_start=on_start, on_cell_executed=on_done)
    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    t0 = time.perf_counter()
    try:
        with client.setup_kernel():
            t1 = time.perf_counter()
            for index, cell in enumerate(nb.cells):
                client.execute_cell(cell, index)
            t2 = time.perf_counter()
    finally:
        stop.set()
        thread.join()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    after = os.getloadavg()[0]
    return {"notebook": path.name, "live": live, "cpus": os.cpu_count(), "kernel_start_s": round(t1 - t0, 2),
            "run_all_s": round(t2 - t1, 2), "total_s": round(time.perf_counter() - t0, 2),
            "load_before": round(loads[0], 2), "load_after": round(after, 2),
            "load_mean": round(sum(loads) / len(loads), 2), "load_max": round(max(loads + [after]), 2), "cells": cells}


README_FIGURE = ROOT / "book" / "images" / "readme-figure.png"


def readme_figure(path: pathlib.Path = README_FIGURE) -> pathlib.Path:
    """Draw the README's picture, chapter 3's Fig. 1 (greedy vs fixed vs optimized on the paper's problem)."""
    import matplotlib

    matplotlib.use("Agg")
    from shb_lib import nqm
    from shb_lib.plotting.nqm import schedules_panels

    schedules = nqm.figure1_schedules(nqm.PAPER_T)
    fig, _ = schedules_panels(schedules["noisy"], title="Greedy (one-step-optimal) steps shrink at once and end 15x worse")
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    results_io.atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100, metadata={"Software": None}))
    return path


def _fold_command(paths: list[pathlib.Path], check: bool) -> int:
    """``fold``: write the fold metadata (only to notebooks that lack some), or with ``check`` report what lacks it."""
    missing = []
    for p in paths:
        nb = read_notebook(p)
        cells = unfolded_cells(nb)
        if not cells:
            continue
        if check:
            missing.append(f"{p}: cells {cells} (solutions and other folded cells) lack JupyterLab's fold metadata")
        else:
            fold_cells(nb)
            write_notebook(nb, p)
            print(f"{p}: folded cells {cells}")
    if missing:
        print("\n".join(missing) + "\n(run: python -m shb_lib.book fold)", file=sys.stderr)
        return 1
    return 0


def _time_command(paths: list[pathlib.Path], args) -> int:
    """``time``: one line per notebook as it finishes, then the JSON file if asked."""
    import json

    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    rows = []
    print(f"{'notebook':40s} {'run all':>9s} {'kernel':>7s} {'slowest cell':>13s}  load avg (1 min) before/mean/max/after"
          f" on {os.cpu_count()} CPUs", flush=True)
    for p in paths:
        try:
            r = time_notebook(p, args.timeout, live=not args.batch)
        except KeyboardInterrupt:
            print("\ninterrupted", file=sys.stderr, flush=True)
            return 130
        except (CellExecutionError, CellTimeoutError, DeadKernelError) as e:
            print(f"error: {p}: {type(e).__name__}:\n{e}", file=sys.stderr, flush=True)
            return 1
        rows.append(r)
        slow = max(r["cells"], key=lambda c: c["seconds"], default={"index": -1, "seconds": 0.0})
        print(f"{r['notebook']:40s} {r['run_all_s']:8.1f}s {r['kernel_start_s']:6.1f}s {slow['seconds']:7.1f}s "
              f"(#{slow['index']:<2d})  {r['load_before']:.2f}/{r['load_mean']:.2f}/{r['load_max']:.2f}/"
              f"{r['load_after']:.2f}", flush=True)
        if args.json:  # written after every notebook, so an interrupted series keeps what it measured
            results_io.atomic_write_text(args.json, json.dumps(rows, indent=1) + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    """The command line (see the module docstring). Returns the exit status: 0 done, 1 a cell failed, 2 a bad
    argument (argparse's convention), 130 interrupted (Ctrl-C)."""
    parser = argparse.ArgumentParser(prog="python -m shb_lib.book", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="execute notebooks top to bottom and store their outputs")
    run.add_argument("notebooks", nargs="*", help="notebooks to run (default: every notebook in _toc.yml)")
    run.add_argument("--timeout", type=checks.int_arg("--timeout", 1, what="a whole number of seconds"),
                     default=1800,
                     help="seconds allowed per cell, an integer > 0 (default 1800)")
    timer = sub.add_parser("time", help="Run All in a fresh kernel per notebook and print the times (no file is "
                           "changed)")
    timer.add_argument("notebooks", nargs="*", help="notebooks to time (default: every notebook in _toc.yml)")
    timer.add_argument("--timeout", type=checks.int_arg("--timeout", 1, what="a whole number of seconds"),
                       default=1800, help="seconds allowed per cell, an integer > 0 (default 1800)")
    timer.add_argument("--batch", action="store_true",
                       help="time a batch kernel (static sliders only) instead of a JupyterLab-like live one")
    timer.add_argument("--json", metavar="FILE", help="also write the measurements (per cell) to FILE")
    fold = sub.add_parser("fold", help="set JupyterLab's fold metadata on the cells the book folds (solutions), "
                          "without running anything")
    fold.add_argument("notebooks", nargs="*", help="notebooks to fold (default: every notebook in _toc.yml)")
    fold.add_argument("--check", action="store_true", help="change nothing; exit 1 naming the cells not folded")
    student = sub.add_parser("student", help="write the chapters with every solution emptied (exercises kept)")
    student.add_argument("notebooks", nargs="*", help="notebooks (default: every notebook in _toc.yml)")
    student.add_argument("--out", required=True, metavar="DIR",
                         help="folder to write them to, not book/ (one level below the repository root, e.g. "
                         "student/, so that chapters 4-6 find ../results)")
    lab = sub.add_parser("lab", help="start JupyterLab with live sliders whose saves keep the stored outputs "
                         "(options after -- go to jupyter lab)")
    lab.add_argument("lab_args", nargs=argparse.REMAINDER, help="options for jupyter lab, e.g. -- --port 8899")
    sub.add_parser("list", help="print the notebooks of the table of contents")
    sub.add_parser("readme-figure", help=f"redraw {README_FIGURE.relative_to(ROOT)}")
    args = parser.parse_args(argv)

    if args.cmd == "list":
        for p in toc_notebooks():
            print(p.relative_to(ROOT))
        return 0
    if args.cmd == "readme-figure":
        print(readme_figure().relative_to(ROOT))
        return 0
    if args.cmd == "lab":
        from . import lab as _lab

        return _lab.run_lab([a for a in args.lab_args if a != "--"])
    paths = [pathlib.Path(p) for p in args.notebooks] or toc_notebooks()
    problems = []
    for p in paths:  # every argument is checked before the first notebook runs
        try:
            read_notebook(p)
        except NotebookError as e:
            problems.append(str(e))
    if problems:
        (timer if args.cmd == "time" else run).error("\n  ".join(problems))
    if args.cmd == "time":
        return _time_command(paths, args)
    if args.cmd == "fold":
        return _fold_command(paths, args.check)
    if args.cmd == "student":
        try:
            for target in write_student_edition(paths, pathlib.Path(args.out)):
                print(target)
        except ValueError as e:
            student.error(str(e))
        return 0
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    current = None
    try:
        for current in paths:
            print(f"running {current} ...", flush=True)
            print(f"  done in {run_notebook(current, args.timeout):.1f} s", flush=True)
    except KeyboardInterrupt:
        print(f"\ninterrupted: {current} was left unchanged", file=sys.stderr, flush=True)
        return 130
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as e:
        print(f"error: {current}: {type(e).__name__}; the notebook was left unchanged:\n{e}", file=sys.stderr,
              flush=True)
        return 1
    except OSError as e:
        print(f"error: {current} could not be written ({type(e).__name__}: {e}); it was left unchanged",
              file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
