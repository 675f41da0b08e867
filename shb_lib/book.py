"""Regenerate the chapters' stored outputs, top to bottom, with the installed library.

Notebook outputs are only ever committed through this command::

    python -m shb_lib.book run                 # every notebook listed in _toc.yml
    python -m shb_lib.book run book/03-*.ipynb # only the named ones
    python -m shb_lib.book list                # the notebooks of the table of contents, in reading order
    python -m shb_lib.book readme-figure       # redraw book/images/readme-figure.png (README's picture)

Each notebook is executed in a fresh kernel of the current environment, in its own folder (as nbval and the reader's
Jupyter do), with widget state stored so that the built book can draw the controls. No timing metadata is written, so
a rerun with unchanged results leaves the file unchanged.

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
    write_notebook(nb, path)
    return elapsed


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
    paths = [pathlib.Path(p) for p in args.notebooks] or toc_notebooks()
    problems = []
    for p in paths:  # every argument is checked before the first notebook runs
        try:
            read_notebook(p)
        except NotebookError as e:
            problems.append(str(e))
    if problems:
        run.error("\n  ".join(problems))
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
