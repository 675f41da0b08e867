"""No hidden global switch: importing shb_lib leaves JAX's precision alone; the noisy quadratic says when it needs
float64 (shb_lib.precision). Each check runs in a fresh interpreter, since this test session has 64-bit mode on."""

import subprocess
import sys
import textwrap

import jax
import numpy as np

import shb_lib.nqm as nqm
from shb_lib import precision


def _fresh(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_importing_every_module_leaves_x64_unchanged():
    printed = _fresh("""
        import importlib, pkgutil, jax
        import shb_lib
        before = jax.config.jax_enable_x64
        names = [m.name for m in pkgutil.walk_packages(shb_lib.__path__, "shb_lib.")]
        for name in names:
            importlib.import_module(name)
        print(before, jax.config.jax_enable_x64, len(names))
    """)
    before, after, n = printed.split()
    assert (before, after) == ("False", "False") and int(n) > 20


def test_the_noisy_quadratic_refuses_float32_instead_of_computing_in_it():
    printed = _fresh("""
        import shb_lib.nqm as nqm
        from shb_lib.precision import Float64Required, use_float64
        try:
            nqm.paper_problem()
        except Float64Required as e:
            print("refused:", "use_float64" in str(e))
        use_float64()
        print(nqm.paper_problem().h.dtype, nqm.greedy_schedule(nqm.paper_problem(), 5).losses.dtype)
    """)
    assert printed.splitlines() == ["refused: True", "float64 float64"]


def test_network_code_computes_in_float32_with_the_switch_off():
    printed = _fresh("""
        import jax
        from shb_lib.mnist import model
        w = model.init_mlp(jax.random.PRNGKey(0), (6, 4, 3))
        print(jax.config.jax_enable_x64, {str(x.dtype) for x in jax.tree.leaves(w)})
    """)
    assert printed == "False {'float32'}"


def test_use_float64_turns_the_switch_on():
    assert precision.float64_enabled() and jax.config.jax_enable_x64  # tests/conftest.py called use_float64()
    assert np.asarray(nqm.paper_problem().h).dtype == np.float64
