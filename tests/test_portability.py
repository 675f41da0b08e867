"""Every chapter on another CPU's rounding: nbval again, with XLA limited to another instruction set.

Results differ in their last bits from one CPU to the next (XLA vectorizes reductions to the widest instructions it
finds). Float32 training amplifies the difference (chapters 4-6), and so can a float64 fit whose path depends on
which bound is active at each step (chapter 3's projected Adam moved its final loss by 0.4 % under SSE4.2 and under
AVX, measured 2026-12-02), so every chapter is re-executed, not only the network ones. The main nbval run checks the
chapters with this machine's instruction set; this test re-executes them with XLA limited to SSE4.2, the rounding
of a machine without AVX, and checks that their outputs still match the stored ones (exactly, or within the
tolerance a cell declares with its reason in ``metadata.shb``; see ``tests/nbval_numeric.py``). A cell that only
agrees by the accident of one CPU's rounding fails here.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from shb_lib.book import ROOT

#: Every chapter (book/NN-name.ipynb), in reading order.
CHAPTERS = tuple(sorted(p.name for p in (ROOT / "book").glob("[0-9][0-9]-*.ipynb")))
OTHER_ISA = "SSE4_2"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_reproduces_with_another_instruction_set(chapter):
    env = dict(os.environ, XLA_FLAGS=f"{os.environ.get('XLA_FLAGS', '')} --xla_cpu_max_isa={OTHER_ISA}".strip())
    # one notebook, one process: no xdist workers inside this subprocess (the suite's own run spreads the chapters)
    cmd = [sys.executable, "-m", "pytest", str(ROOT / "book" / chapter), "-q", "-n", "0"]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, (
        f"{chapter} under XLA_FLAGS=--xla_cpu_max_isa={OTHER_ISA}: nbval failed (exit {proc.returncode})\n"
        f"{proc.stdout[-6000:]}\n{proc.stderr[-2000:]}")
