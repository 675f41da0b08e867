"""Measure how far each printed number of a chapter moves under another CPU's rounding (not a test; a tool).

    python tests/reproducibility.py book/04-mnist-meta-optimization.ipynb --xla "--xla_cpu_max_isa=SSE4_2" \
        [--json out.json]

executes the chapter top to bottom in a fresh kernel (nbclient, into memory; the committed notebook is not touched)
with ``XLA_FLAGS`` set, and prints, for every code cell whose text output is not identical to the stored one, the
largest relative difference between corresponding numbers (``nbval_numeric.max_relative_difference``), or "text
differs" where words changed. The per-cell tolerances in the chapters' ``metadata.shb`` are set from these figures.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import nbval_numeric  # noqa: E402


def cell_texts(cell) -> str:
    """A code cell's text outputs as nbval compares them: streams concatenated, then the text-like MIME data."""
    out = []
    for o in cell.get("outputs", []):
        if o.get("output_type") == "stream":
            out.append("".join(o["text"]) if isinstance(o["text"], list) else o["text"])
        for mime in ("text/plain", "text/markdown", "text/html"):
            if mime in o.get("data", {}) and "image/png" not in o["data"]:
                v = o["data"][mime]
                out.append("".join(v) if isinstance(v, list) else v)
    return "\n".join(out)


def compare(stored, executed) -> list[tuple[int, str]]:
    """``[(cell index, "identical" | "max rel diff 1.2e-03" | "text differs"), ...]`` for every code cell."""
    rows = []
    for i, (a, b) in enumerate(zip(stored["cells"], executed["cells"])):
        if a["cell_type"] != "code":
            continue
        ta, tb = cell_texts(a), cell_texts(b)
        if ta == tb:
            rows.append((i, "identical"))
            continue
        d = nbval_numeric.max_relative_difference(ta, tb)
        rows.append((i, "text differs" if d is None else f"max rel diff {d:.2e}"))
    return rows


def main(argv=None) -> int:
    import nbclient
    import nbformat

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("notebooks", nargs="+")
    p.add_argument("--xla", default="", help="XLA_FLAGS for the kernel (e.g. --xla_cpu_max_isa=SSE4_2)")
    p.add_argument("--json", help="also write the table here")
    args = p.parse_args(argv)
    os.environ["XLA_FLAGS"] = args.xla  # the kernel inherits this process's environment
    table = {}
    for path in map(pathlib.Path, args.notebooks):
        stored = nbformat.read(path, as_version=4)
        executed = nbformat.read(path, as_version=4)
        nbclient.NotebookClient(executed, timeout=1800, kernel_name="python3",
                                resources={"metadata": {"path": str(path.parent)}}).execute()
        rows = compare(stored, executed)
        table[path.name] = rows
        for i, verdict in rows:
            if verdict != "identical":
                print(f"{path.name} cell {i}: {verdict}")
        print(f"{path.name}: {sum(v == 'identical' for _, v in rows)} of {len(rows)} code cells identical "
              f"under XLA_FLAGS={args.xla!r}")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(table, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
