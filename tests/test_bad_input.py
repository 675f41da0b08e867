"""Nothing silent, nothing lost (issue 13): bad input is refused with a ValueError naming the parameter, divergence
is reported, and no file the package writes is ever destroyed.

- Property tests (hypothesis; the profile of tests/conftest.py derandomizes them) feed the public functions
  out-of-range, non-finite, wrong-type values, bad keys and mismatched shapes and dtypes, and assert a
  ``ValueError`` whose message names the parameter.
- Divergence: a surface whose every sample diverged has no optimum; a long run whose loss rose tenfold is flagged;
  a diverged estimate is refused, not averaged.
- Faults: a full disk (``RLIMIT_FSIZE``: writes fail with ``EFBIG``, as on a full file system), a read-only folder
  (an injected ``EROFS``: root ignores permission bits), SIGINT and SIGKILL halfway through a write (a child process
  whose writes stall halfway), Ctrl-C during a real kernel's cell, truncated and bit-flipped result files.

Everything runs on tiny synthetic data; no test trains for more than a few steps.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import pathlib
import re
import resource
import signal
import subprocess
import sys
import textwrap
import time
import types

import jax
import jax.numpy as jnp
import nbformat
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import shb_lib.nqm as nqm
from shb_lib import book, checks, divergence, results_io
from shb_lib.mnist import batches, data, hypergrad as hg, model, offline, optimizer, surface, training
from shb_lib.mnist import experiments as ex
from shb_lib import estimators as est
from shb_lib.mnist import online as ol

ROOT = pathlib.Path(__file__).resolve().parent.parent

# ----------------------------------------------------------------------------------------------------------------
# Tiny problems, built once.

KEY = jax.random.PRNGKey(0)
X = jax.random.uniform(KEY, (60, 12), dtype=jnp.float32)
Y = (jnp.arange(60) % 3).astype(jnp.int32)
W0 = model.init_mlp(jax.random.PRNGKey(1), (12, 8, 3), std=0.3)
X784 = jnp.zeros((60, 784), jnp.float32)
PROBLEM = hg.make_offline_problem(KEY, X, Y, W0, 3, 5, 1, time_const=10.0, mu=0.9)
H0 = hg.default_hparams()
NQ = nqm.NoisyQuadratic(h=[0.5, 1.0, 2.0], sigma2=0.1, theta0_mean=1.0, theta0_var=0.0)
SCHED = est.constant_schedule
TASK = est.nqm_task(NQ, SCHED, 5)
PHI = jnp.array([math.log(0.1)])
CONFIG = ol.OnlineConfig(steps=20, adapt_steps=10, steps_per_update=5, meta_steps=1, batch_size=5, record_every=10,
                         n_eval_examples=20)
SURFACE = {"alpha_0": np.array([0.1, 0.2]), "beta": np.array([1.0, 2.0]), "loss": np.array([0.5, 0.4])}


def _grad_fn(p, k, *args):
    return p


def raises_naming(call, name: str, error=ValueError):
    """``call()`` raises ``error`` whose message names ``name`` (as a word: "lo" is not named by "float")."""
    with pytest.raises(error) as info:
        call()
    named = re.search(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])", str(info.value))
    assert named, f"the message does not name {name!r}: {info.value}"
    return str(info.value)


# ----------------------------------------------------------------------------------------------------------------
# Bad values, by kind.

NONFINITE = st.sampled_from([math.inf, -math.inf, math.nan])
WRONG_TYPE = st.one_of(st.booleans(), st.text(max_size=3))  # (None means "the default" in some)
BAD = {
    "positive": st.one_of(NONFINITE, st.floats(max_value=0.0, allow_nan=False), WRONG_TYPE),
    "nonneg": st.one_of(NONFINITE, st.floats(max_value=0.0, exclude_max=True, allow_nan=False), WRONG_TYPE),
    "unit": st.one_of(NONFINITE, st.floats(max_value=0.0, exclude_max=True, allow_nan=False),
                      st.floats(min_value=1.0, allow_nan=False), WRONG_TYPE),
    "int1": st.one_of(st.booleans(), st.floats(), st.integers(max_value=0), st.text(max_size=2), st.none()),
    "int0": st.one_of(st.booleans(), st.floats(), st.integers(max_value=-1), st.text(max_size=2), st.none()),
    "key": st.one_of(st.integers(), st.floats(), st.none(), st.text(max_size=2),
                     st.sampled_from([np.zeros(3, np.uint32), np.zeros(2, np.float32), np.array([1, 2]),
                                      np.zeros((2, 2), np.uint32), jnp.zeros(2, jnp.int32)])),
    "bool": st.one_of(st.integers(), st.floats(), st.text(max_size=2), st.none()),
}

# (kind, parameter named in the message, call with the bad value v)
TARGETS = [
    ("positive", "alpha_0", lambda v: optimizer.check_hyperparameters(alpha_0=v)),
    ("positive", "time_const", lambda v: optimizer.check_hyperparameters(time_const=v)),
    ("positive", "alpha_0", lambda v: optimizer.optax_reference(v, 0.5)),
    ("positive", "alpha_0", lambda v: hg.default_hparams(alpha_0=v)),
    ("positive", "beta", lambda v: hg.default_hparams(beta=v)),
    ("positive", "time_const", lambda v: hg.make_offline_problem(KEY, X, Y, W0, 3, 5, 1, time_const=v)),
    ("positive", "alpha", lambda v: training.pretrain(KEY, X784, Y, steps=1, alpha=v, batch_size=5)),
    ("positive", "init_std", lambda v: training.pretrain(KEY, X784, Y, steps=1, batch_size=5, init_std=v)),
    ("positive", "meta_lr", lambda v: offline.smd(KEY, X, Y, W0, 2, H0, 1, meta_lr=v, batch_size=5, n_eval_batches=1)),
    ("positive", "alpha_0", lambda v: training.train_schedule(KEY, X, Y, X, Y, W0, v, 1.0, 10, record_every=5,
                                                           batch_size=5, n_eval_batches=1)),
    ("positive", "time_const", lambda v: training.train_schedule(KEY, X, Y, X, Y, W0, 0.1, 1.0, 10, record_every=5,
                                                     batch_size=5, n_eval_batches=1, time_const=v)),
    ("positive", "beta_range", lambda v: surface.random_search(KEY, PROBLEM, 2, beta_range=(1e-2, v))),
    ("positive", "std", lambda v: model.init_mlp(KEY, (12, 3), std=v)),
    ("positive", "alpha", lambda v: ol.online_hparams(v, 0.9)),
    ("positive", "alpha", lambda v: ol.online_run(KEY, X, Y, X, Y, v, 0.9, CONFIG)),
    ("positive", "meta_lr", lambda v: CONFIG._replace(meta_lr=v).validate()),
    ("positive", "final_lr", lambda v: CONFIG._replace(final_lr=v).validate()),
    ("positive", "alpha_eff", lambda v: ol.lookahead_surface(KEY, (W0, W0), X, Y, v)),
    ("positive", "sigma", lambda v: est.smoothed_exact_gradient(NQ, SCHED, PHI, 5, v)),
    ("positive", "sigma", lambda v: est.es_gradient(TASK, PHI, KEY, v, 1)),
    ("positive", "time_const", lambda v: est.mnist_task(X, Y, W0, 5, v, batch_size=5)),
    ("positive", "meta_lr", lambda v: est.meta_optimize(_grad_fn, PHI, KEY, 2, v)),
    ("positive", "max_step", lambda v: est.stationary_point(NQ, SCHED, PHI, 5, 5, max_step=v)),
    ("positive", "adam_lr", lambda v: nqm.optimized_schedule(NQ, 3, adam_lr=v)),
    ("positive", "lr_max", lambda v: nqm.fixed_schedule(NQ, 3, lr_max=v)),
    ("nonneg", "beta", lambda v: optimizer.check_hyperparameters(beta=v)),
    ("nonneg", "beta", lambda v: training.train_schedule(KEY, X, Y, X, Y, W0, 0.1, v, 10, record_every=5,
                                                      batch_size=5, n_eval_batches=1)),
    ("nonneg", "sigma2", lambda v: nqm.NoisyQuadratic(h=[1.0, 2.0], sigma2=v, theta0_mean=1.0, theta0_var=0.0)),
    ("nonneg", "theta0_var", lambda v: nqm.NoisyQuadratic(h=[1.0, 2.0], sigma2=0.1, theta0_mean=1.0, theta0_var=v)),
    ("nonneg", "scale", lambda v: NQ.with_noise_scale(v)),
    ("nonneg", "noise_scale", lambda v: nqm.figure1_schedules(3, steps=1, noise_scale=v)),
    ("nonneg", "lr", lambda v: nqm.step(NQ, nqm.init_moments(NQ), v, 0.0)),
    ("unit", "mu", lambda v: optimizer.check_hyperparameters(mu=v)),
    ("unit", "mu", lambda v: hg.default_hparams(mu=v)),
    ("unit", "mu", lambda v: hg.make_offline_problem(KEY, X, Y, W0, 3, 5, 1, mu=v)),
    ("unit", "mu", lambda v: training.pretrain(KEY, X784, Y, steps=1, batch_size=5, mu=v)),
    ("unit", "mu", lambda v: training.train_schedule(KEY, X, Y, X, Y, W0, 0.1, 1.0, 10, record_every=5, batch_size=5,
                                                  n_eval_batches=1, mu=v)),
    ("unit", "mu", lambda v: ol.online_hparams(0.1, v)),
    ("unit", "mu", lambda v: ol.lookahead_surface(KEY, (W0, W0), X, Y, [0.1], mu=v)),
    ("unit", "meta_b2", lambda v: CONFIG._replace(meta_b2=v).validate()),
    ("unit", "momentum", lambda v: est.nqm_task(NQ, SCHED, 5, momentum=v)),
    ("unit", "momentum", lambda v: est.mnist_task(X, Y, W0, 5, 4.0, batch_size=5, momentum=v)),
    ("int1", "horizon", lambda v: hg.make_offline_problem(KEY, X, Y, W0, v, 5, 1)),
    ("int1", "batch_size", lambda v: hg.make_offline_problem(KEY, X, Y, W0, 3, v, 1)),
    ("int1", "n_eval_batches", lambda v: hg.make_offline_problem(KEY, X, Y, W0, 3, 5, v)),
    ("int1", "batch_size", lambda v: batches.epoch_batches(KEY, 60, 2, v)),
    ("int1", "horizon", lambda v: offline.smd(KEY, X, Y, W0, v, H0, 1, batch_size=5, n_eval_batches=1)),
    ("int1", "n_eval_batches", lambda v: offline.smd(KEY, X, Y, W0, 2, H0, 1, batch_size=5, n_eval_batches=v)),
    ("int1", "steps", lambda v: training.train_schedule(KEY, X, Y, X, Y, W0, 0.1, 1.0, v, record_every=5, batch_size=5,
                                                     n_eval_batches=1)),
    ("int1", "n_eval_batches", lambda v: training.train_schedule(KEY, X, Y, X, Y, W0, 0.1, 1.0, 10, record_every=5,
                                                              batch_size=5, n_eval_batches=v)),
    ("int1", "n_samples", lambda v: surface.random_search(KEY, PROBLEM, v)),
    ("int1", "chunk", lambda v: surface.random_search(KEY, PROBLEM, 2, chunk=v)),
    ("int1", "top", lambda v: surface.best_of_surface(SURFACE, v)),
    ("int1", "sizes", lambda v: model.init_mlp(KEY, (12, v))),
    ("int1", "steps", lambda v: CONFIG._replace(steps=v).validate()),
    ("int1", "lookahead", lambda v: ol.lookahead_surface(KEY, (W0, W0), X, Y, [0.1], lookahead=v)),
    ("int1", "T", lambda v: nqm.greedy_schedule(NQ, v)),
    ("int1", "T", lambda v: nqm.constant_schedule_final_loss(NQ, 0.1, 0.5, v)),
    ("int1", "n_runs", lambda v: nqm.simulate(NQ, [0.1], [0.0], v, KEY)),
    ("int1", "n", lambda v: nqm.chebyshev_spectrum(v, 0.1, 1.0)),
    ("int1", "T", lambda v: est.exact_objective(NQ, SCHED, PHI, v)),
    ("int1", "T", lambda v: est.nqm_task(NQ, SCHED, v)),
    ("int1", "K", lambda v: est.truncated_gradient(TASK, PHI, KEY, v)),
    ("int1", "n_runs", lambda v: est.objective_samples(TASK, [PHI], KEY, v)),
    ("int1", "Ks", lambda v: est.sweep_windows(_grad_fn, PHI, KEY, [1, v], 2)),
    ("int1", "n_last", lambda v: est.polyak_average(np.zeros((5, 1)), v)),
    ("int0", "steps", lambda v: training.pretrain(KEY, X784, Y, steps=v, batch_size=5)),
    ("int0", "meta_steps", lambda v: offline.smd(KEY, X, Y, W0, 2, H0, v, batch_size=5, n_eval_batches=1)),
    ("int0", "meta_steps", lambda v: CONFIG._replace(meta_steps=v).validate()),
    ("int0", "steps", lambda v: nqm.optimized_schedule(NQ, 3, steps=v)),
    ("int0", "decay_steps", lambda v: nqm.fixed_lr_meta_objective(NQ, [0.1], 3, decay_steps=v)),
    ("key", "key", lambda v: model.init_mlp(v, (12, 3))),
    ("key", "key", lambda v: batches.epoch_batches(v, 60, 2, 5)),
    ("key", "key", lambda v: hg.make_offline_problem(v, X, Y, W0, 3, 5, 1)),
    ("key", "key", lambda v: training.pretrain(v, X784, Y, steps=1, batch_size=5)),
    ("key", "key", lambda v: offline.smd(v, X, Y, W0, 2, H0, 1, batch_size=5, n_eval_batches=1)),
    ("key", "key", lambda v: surface.random_search(v, PROBLEM, 2)),
    ("key", "key", lambda v: training.train_schedule(v, X, Y, X, Y, W0, 0.1, 1.0, 10, record_every=5, batch_size=5,
                                                  n_eval_batches=1)),
    ("key", "key", lambda v: ol.online_run(v, X, Y, X, Y, 0.1, 0.9, CONFIG)),
    ("key", "key", lambda v: ol.lookahead_surface(v, (W0, W0), X, Y, [0.1])),
    ("key", "key", lambda v: nqm.simulate(NQ, [0.1], [0.0], 2, v)),
    ("key", "key", lambda v: est.truncated_gradient(TASK, PHI, v, 1)),
    ("key", "key", lambda v: est.pes_gradient(TASK, PHI, v, 1, 0.1, 1)),
    ("key", "key", lambda v: est.meta_optimize(_grad_fn, PHI, v, 2, 0.1)),
    ("key", "key", lambda v: est.sweep_windows(_grad_fn, PHI, v, [1], 2)),
    ("key", "key", lambda v: est.objective_samples(TASK, [PHI], v, 2)),
    ("bool", "stochastic", lambda v: CONFIG._replace(stochastic=v).validate()),
    ("bool", "stochastic", lambda v: ol.lookahead_surface(KEY, (W0, W0), X, Y, [0.1], stochastic=v)),
    ("bool", "with_momentum", lambda v: nqm.greedy_schedule(NQ, 3, with_momentum=v)),
    ("bool", "projected", lambda v: nqm.optimized_schedule(NQ, 3, steps=1, projected=v)),
    ("bool", "noise", lambda v: nqm.paper_problem(noise=v)),
    ("bool", "vectorize", lambda v: est.sweep_windows(_grad_fn, PHI, KEY, [1], 2, vectorize=v)),
    ("bool", "download", lambda v: data.load_mnist(download=v)),
]


def _target_id(t):
    kind, name, fn = t
    return f"{kind}-{name}-{TARGETS.index(t)}"


@pytest.mark.parametrize("kind, name, call", TARGETS, ids=[_target_id(t) for t in TARGETS])
@settings(max_examples=12, deadline=None)
@given(data=st.data())
def test_a_bad_value_is_refused_naming_the_parameter(kind, name, call, data):
    value = data.draw(BAD[kind], label=name)
    raises_naming(lambda: call(value), name)


# ----------------------------------------------------------------------------------------------------------------
# Mismatched shapes, dtypes and types: named at the boundary, not deep inside JAX.

_OTHER = nqm.NoisyQuadratic(h=[1.0, 2.0], sigma2=0.1, theta0_mean=1.0, theta0_var=0.0)
MISMATCHES = [
    ("hparams", lambda: hg.hypergradient(hg.default_hparams(dtype=jnp.float64), PROBLEM)),
    ("hparams", lambda: hg.meta_objective(hg.default_hparams(dtype=jnp.float64), PROBLEM)),
    ("hparams", lambda: hg.reverse_hypergradient({"log_alpha_eff": jnp.zeros(2, jnp.float32),
                                                  "log_beta": jnp.float32(0)}, PROBLEM)),
    ("problem", lambda: hg.hypergradient(H0, {"images": X})),
    ("images", lambda: hg.make_offline_problem(KEY, X[:, :11], Y, W0, 3, 5, 1)),
    ("labels", lambda: hg.make_offline_problem(KEY, X, Y + 5, W0, 3, 5, 1)),
    ("labels", lambda: hg.make_offline_problem(KEY, X, Y[:10], W0, 3, 5, 1)),
    ("images", lambda: training.pretrain(KEY, X784[:, :783], Y, steps=2, batch_size=5)),
    ("test_images", lambda: training.train_schedule(KEY, X, Y, X[:, :11], Y, W0, 0.1, 1.0, 10, record_every=5,
                                                batch_size=5, n_eval_batches=1)),
    ("alpha_0 and beta", lambda: training.train_schedule(KEY, X, Y, X, Y, W0, [0.1, 0.2], [1.0], 10, record_every=5,
                                                     batch_size=5, n_eval_batches=1)),
    ("w0", lambda: offline.smd(KEY, X, Y, jax.tree.map(lambda a: a.astype(jnp.float64), W0), 2, H0, 1, batch_size=5,
                            n_eval_batches=1)),
    ("hparams0", lambda: offline.smd(KEY, X, Y, W0, 2, {"log_alpha_eff": math.nan, "log_beta": 0.0}, 1,
                                  batch_size=5, n_eval_batches=1)),
    ("surface", lambda: surface.best_of_surface({"alpha_0": np.ones(3), "beta": np.ones(2), "loss": np.ones(3)})),
    ("test_images", lambda: ol.online_run(KEY, X, Y, X[:, :11], Y, 0.1, 0.9, CONFIG)),
    ("mu", lambda: ol.online_run(KEY, X, Y, X, Y, [0.1, 0.2], [0.9, 0.9, 0.9], CONFIG)),
    ("state", lambda: ol.lookahead_surface(KEY, W0, X, Y, [0.1])),
    ("h", lambda: nqm.NoisyQuadratic(h="abc", sigma2=0.1, theta0_mean=1.0, theta0_var=0.0)),
    ("lo", lambda: nqm.chebyshev_spectrum(3, "a", 1.0)),
    ("moments", lambda: nqm.step(NQ, nqm.init_moments(_OTHER), 0.1, 0.5)),
    ("moments", lambda: nqm.greedy_step(NQ, nqm.init_moments(_OTHER))),
    ("k", lambda: nqm.band_losses(NQ, jnp.ones(3), k=-1)),
    ("exact", lambda: nqm.monte_carlo_zscores(np.ones((5, 4)), np.ones(3))),
    ("momenta", lambda: nqm.final_excess_loss(NQ, jnp.ones(3) * 0.1, jnp.ones(2) * 0.1)),
    ("exact", lambda: est.estimator_statistics(np.ones((4, 2)), np.zeros(1))),
    ("sizes", lambda: model.init_mlp(KEY, (12, 2.5))),
    ("dtype", lambda: hg.default_hparams(dtype=jnp.int32)),
    ("data_dir", lambda: data.load_mnist(5)),
]


@pytest.mark.parametrize("name, call", MISMATCHES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(MISMATCHES)])
def test_a_mismatch_is_named_at_the_boundary(name, call):
    raises_naming(call, name)


def test_beta_zero_is_a_named_error_not_a_math_domain_error():
    msg = raises_naming(lambda: hg.default_hparams(beta=0.0), "beta")
    assert "domain" not in msg


def test_horizon_true_is_refused_by_every_module():
    raises_naming(lambda: hg.make_offline_problem(KEY, X, Y, W0, True, 5, 1), "horizon")
    raises_naming(lambda: offline.smd(KEY, X, Y, W0, True, H0, 1, batch_size=5, n_eval_batches=1), "horizon")
    raises_naming(lambda: nqm.greedy_schedule(NQ, True), "T")
    raises_naming(lambda: est.exact_objective(NQ, SCHED, PHI, True), "T")
    raises_naming(lambda: ol.lookahead_surface(KEY, (W0, W0), X, Y, [0.1], lookahead=True), "lookahead")


# ----------------------------------------------------------------------------------------------------------------
# The shared checks themselves.


@settings(max_examples=40, deadline=None)
@given(st.one_of(st.integers(-5, 5), st.floats(), st.booleans(), st.text(max_size=2), st.none()))
def test_check_int_accepts_exactly_the_integers_in_range(value):
    ok = isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 3
    if ok:
        assert checks.check_int("n", value, 1, 3) == value
    else:
        raises_naming(lambda: checks.check_int("n", value, 1, 3), "n must be an integer in [1, 3]")


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(), min_size=1, max_size=4))
def test_check_positive_accepts_exactly_finite_positive_arrays(values):
    x = np.array(values)
    if np.all(np.isfinite(x) & (x > 0)):
        assert checks.check_positive("x", x) is x
    else:
        msg = raises_naming(lambda: checks.check_positive("x", x), "x must be finite and > 0")
        assert "x[" in msg  # the first bad element is named


def test_checks_accept_keys_of_both_kinds_and_tracers():
    checks.check_key("key", jax.random.PRNGKey(0))
    checks.check_key("key", jax.random.key(0))
    jax.jit(lambda k: checks.check_key("key", k))(jax.random.PRNGKey(0))
    jax.jit(lambda x: checks.check_positive("x", x))(-1.0)  # values of tracers are unknown: not checked


def test_arg_type_gives_argparse_the_same_check():
    import argparse

    parser = argparse.ArgumentParser(exit_on_error=False)
    parser.add_argument("--meta-lr", type=checks.arg_type(lambda v: checks.check_positive("--meta-lr", v)))
    assert parser.parse_args(["--meta-lr", "0.05"]).meta_lr == 0.05
    for bad in ("inf", "nan", "0", "-1", "abc"):
        with pytest.raises(argparse.ArgumentError, match="meta-lr"):
            parser.parse_args(["--meta-lr", bad])


# ----------------------------------------------------------------------------------------------------------------
# Divergence: reported, never hidden.


def test_best_of_surface_refuses_a_surface_that_diverged_everywhere():
    surf = dict(SURFACE, loss=np.array([np.inf, np.inf]))
    raises_naming(lambda: surface.best_of_surface(surf, top=3), "diverged", checks.DivergedError)


def test_best_of_surface_never_averages_in_a_diverged_sample():
    surf = {"alpha_0": np.array([0.1, 0.4, 5.0]), "beta": np.array([1.0, 4.0, 50.0]),
            "loss": np.array([0.3, 0.2, np.inf])}
    a, b = surface.best_of_surface(surf, top=3)
    assert a == pytest.approx(0.2) and b == pytest.approx(2.0)  # geometric means of the two finite samples


def test_train_schedule_refuses_zero_evaluation_batches():
    raises_naming(lambda: training.train_schedule(KEY, X, Y, X, Y, W0, 0.1, 1.0, 10, record_every=5, batch_size=5,
                                              n_eval_batches=0), "n_eval_batches")


def test_a_long_run_whose_loss_rose_tenfold_is_flagged_and_a_healthy_one_is_not():
    a = [0.05, 1.0, 30.0, 77.0]
    r = training.train_schedule(jax.random.PRNGKey(7), X, Y, X, Y, W0, a, [0.0] * 4, 10, record_every=5, batch_size=20,
                            n_eval_batches=2, time_const=10.0)
    loss = r["train_loss"]
    rose = np.max(loss, axis=1) > divergence.DIVERGENCE_FACTOR * loss[:, 0]
    assert np.all(np.isfinite(loss[2:])) and rose.tolist() == [False, False, True, True]  # finite, yet far above
    assert r["diverged"].tolist() == rose.tolist()
    assert np.all(np.isfinite(r["test_error"]))  # the flag alone: the finite numbers stay as measured


def test_a_diverged_estimate_is_refused_not_averaged():
    estimates = np.array([[1.0, 0.0], [np.inf, np.inf], [2.0, 1.0]])
    raises_naming(lambda: est.estimator_statistics(estimates, np.zeros(2)), "diverged", checks.DivergedError)


# ----------------------------------------------------------------------------------------------------------------
# The book's command line: arguments checked first, the notebook written atomically, Ctrl-C a message.


class FakeClient:
    """Stands in for nbclient.NotebookClient: "executes" by giving every code cell a large output."""

    calls = 0
    action = None

    def __init__(self, nb, **kwargs):
        self.nb = nb

    def execute(self):
        type(self).calls += 1
        if type(self).action is not None:
            type(self).action(self)
        for i, cell in enumerate(c for c in self.nb.cells if c.cell_type == "code"):
            cell.execution_count = i + 1
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="x" * 4000 + "\n")]
        return self.nb


@pytest.fixture
def fake_client(monkeypatch):
    import nbclient

    FakeClient.calls, FakeClient.action = 0, None
    monkeypatch.setattr(nbclient, "NotebookClient", FakeClient)
    return FakeClient


@pytest.fixture
def notebook(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# t"), nbformat.v4.new_code_cell("x = 6 * 7")]
    path = tmp_path / "demo.ipynb"
    nbformat.write(nb, path)
    return path


def _leftovers(folder):
    return sorted(p.name for p in pathlib.Path(folder).iterdir() if p.name.endswith(".tmp"))


def test_book_checks_every_argument_before_running_any(tmp_path, notebook, fake_client, capsys):
    (tmp_path / "folder").mkdir()
    (tmp_path / "page.md").write_text("# a page\n")
    (tmp_path / "broken.ipynb").write_text('{"cells": [')
    for bad, what in (("folder", "folder"), ("page.md", ".ipynb"), ("broken.ipynb", "not a valid notebook"),
                      ("missing.ipynb", "no such notebook")):
        with pytest.raises(SystemExit) as info:
            book.main(["run", str(notebook), str(tmp_path / bad)])
        assert info.value.code == 2
        err = capsys.readouterr().err
        assert bad in err and what in err and "Traceback" not in err
    assert fake_client.calls == 0  # the valid notebook named first did not run either


@pytest.mark.parametrize("timeout", ["0", "-5", "1.5", "soon"])
def test_book_timeout_must_be_a_positive_whole_number(notebook, fake_client, capsys, timeout):
    with pytest.raises(SystemExit) as info:
        book.main(["run", "--timeout", timeout, str(notebook)])
    assert info.value.code == 2 and "--timeout" in capsys.readouterr().err and fake_client.calls == 0


def test_book_run_notebook_refuses_a_bad_timeout(notebook, fake_client):
    raises_naming(lambda: book.run_notebook(notebook, timeout=0), "timeout")


@contextlib.contextmanager
def full_disk(limit: int):
    """Writes past ``limit`` bytes fail with EFBIG ("File too large"), as they would on a full file system."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    old = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, old)


def test_book_on_a_full_disk_leaves_the_notebook_intact(notebook, fake_client, capsys):
    before = notebook.read_bytes()
    with full_disk(2000):  # the notebook with its new 4000-byte output does not fit
        status = book.main(["run", str(notebook)])
    assert status == 1 and "left unchanged" in capsys.readouterr().err
    assert notebook.read_bytes() == before and _leftovers(notebook.parent) == []
    assert book.main(["run", str(notebook)]) == 0 and "x" * 4000 in notebook.read_text()  # room again: written


def test_book_in_a_read_only_folder_leaves_the_notebook_intact(notebook, fake_client, capsys, monkeypatch):
    before = notebook.read_bytes()

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(results_io.tempfile, "mkstemp", read_only)
    assert book.main(["run", str(notebook)]) == 1
    assert "Read-only" in capsys.readouterr().err and notebook.read_bytes() == before


def test_book_ctrl_c_inside_nbclient_is_reported_as_an_interruption(notebook, fake_client, capsys):
    before = notebook.read_bytes()

    def interrupted(client):  # what nbclient does on SIGINT: its handler schedules the kernel's shutdown, the cell
        client._async_cleanup_kernel_future = object()  # then fails, and a second cleanup fails its assertion
        raise AssertionError

    fake_client.action = interrupted
    assert book.main(["run", str(notebook)]) == 130
    err = capsys.readouterr().err
    assert "interrupted" in err and "AssertionError" not in err and notebook.read_bytes() == before


_STALLING_WRITER = textwrap.dedent("""
    import io, os, signal, sys, time
    import nbclient, nbformat

    signal.signal(signal.SIGINT, signal.default_int_handler)  # a child of a background job inherits SIGINT ignored

    class FakeClient:  # as the tests' FakeClient: no kernel, a large output
        def __init__(self, nb, **kwargs):
            self.nb = nb
        def execute(self):
            for cell in self.nb.cells:
                if cell.cell_type == "code":
                    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="x" * 4000)]

    nbclient.NotebookClient = FakeClient
    real_open = io.open

    class Stalling:  # writes half, says so, then hangs: the moment to kill the writer
        def __init__(self, f):
            self.f = f
        def write(self, s):
            self.f.write(s[: len(s) // 2]); self.f.flush(); os.fsync(self.f.fileno())
            os.close(os.open({marker!r}, os.O_CREAT | os.O_WRONLY))
            time.sleep(60)
            return self.f.write(s[len(s) // 2:])
        def __enter__(self):
            return self
        def __exit__(self, *exc):
            self.f.close()
        def __getattr__(self, name):
            return getattr(self.f, name)

    def stalling_open(file, mode="r", *args, **kwargs):
        f = real_open(file, mode, *args, **kwargs)
        return Stalling(f) if "w" in mode and "demo.ipynb" in str(file) else f

    io.open = stalling_open
    from shb_lib import book
    sys.exit(book.main(["run", {path!r}]))
""")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_book_killed_halfway_through_writing_leaves_the_notebook_intact(notebook, tmp_path, sig):
    before, marker = notebook.read_bytes(), tmp_path / "half-written"
    script = _STALLING_WRITER.format(marker=str(marker), path=str(notebook))
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert marker.exists(), f"the writer never started: {proc.communicate(timeout=5)}"
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=180)  # the stalled write sleeps 60 s; a deferred SIGINT may wait it out
    finally:
        if proc.poll() is None:
            proc.kill()
    assert notebook.read_bytes() == before  # the old notebook, whole
    if sig == signal.SIGINT:
        assert proc.returncode == 130 and "interrupted" in err and "Traceback" not in err
        assert _leftovers(notebook.parent) == []  # the half-written temporary file was removed
    else:
        assert proc.returncode == -signal.SIGKILL  # nothing can clean up after SIGKILL: at most a .tmp is left


def test_book_ctrl_c_during_a_real_kernels_cell(tmp_path):
    """Ctrl-C (SIGINT to the whole process group, as a terminal sends it) while a real kernel runs a cell."""
    marker = tmp_path / "cell-started"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(f"import time, pathlib\npathlib.Path({str(marker)!r}).touch()\n"
                                          "time.sleep(120)")]
    path = tmp_path / "slow.ipynb"
    nbformat.write(nb, path)
    before = path.read_bytes()
    # As a terminal's shell starts it: SIGINT handled (a child of a background job would inherit it ignored).
    cli = ("import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
           f"sys.argv = ['python -m shb_lib.book', 'run', {str(path)!r}]; "
           "runpy.run_module('shb_lib.book', run_name='__main__', alter_sys=True)")
    proc = subprocess.Popen([sys.executable, "-c", cli], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert marker.exists(), f"the kernel never ran the cell: {proc.communicate(timeout=5)}"
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err
    assert "interrupted: " in err and "AssertionError" not in err and path.read_bytes() == before


# ----------------------------------------------------------------------------------------------------------------
# Result files: written atomically, corrupt ones named and set aside, output folders checked first.


def test_atomic_write_keeps_the_old_file_when_the_writer_fails(tmp_path):
    path = tmp_path / "unit.json"
    path.write_text('{"old": 1}')

    def half_then_fail(tmp):
        pathlib.Path(tmp).write_text('{"new": ')
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        results_io.atomic_write(path, half_then_fail)
    assert path.read_text() == '{"old": 1}' and _leftovers(tmp_path) == []
    with full_disk(100), pytest.raises(OSError):
        results_io.atomic_write_bytes(path, b"y" * 1000)
    assert path.read_text() == '{"old": 1}' and _leftovers(tmp_path) == []


def test_atomic_write_keeps_the_permissions_of_the_file_it_replaces(tmp_path):
    path = tmp_path / "shared.txt"
    results_io.atomic_write_text(path, "a")
    assert path.stat().st_mode & 0o777 == 0o644
    os.chmod(path, 0o664)
    results_io.atomic_write_text(path, "b")
    assert path.stat().st_mode & 0o777 == 0o664 and path.read_text() == "b"


def test_an_output_folder_is_checked_before_any_work(tmp_path, monkeypatch):
    (tmp_path / "a-file").write_text("x")
    raises_naming(lambda: results_io.check_writable_dir(tmp_path / "a-file", "--out"), "--out must be a folder")
    assert results_io.check_writable_dir(tmp_path / "new" / "deep", "--out").is_dir()

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(results_io.tempfile, "mkstemp", read_only)
    msg = raises_naming(lambda: results_io.check_writable_dir(tmp_path, "--out"), "--out must be a writable folder")
    assert str(tmp_path) in msg and "Read-only" in msg


def _valid_npz(path):
    with open(path, "wb") as f:
        np.savez_compressed(f, loss=np.linspace(0.0, 1.0, 300), step=np.arange(300))
    return path


@settings(max_examples=30, deadline=None)
@given(cut=st.floats(0.0, 0.999), flip=st.one_of(st.none(), st.integers(0, 10**6)))
def test_a_truncated_or_corrupted_npz_is_named_never_a_bare_zip_error(tmp_path_factory, cut, flip):
    path = _valid_npz(tmp_path_factory.mktemp("npz") / "surface-T100-abc.npz")
    raw = bytearray(path.read_bytes())
    raw = raw[: int(cut * len(raw))]
    if flip is not None and raw:
        raw[flip % len(raw)] ^= 0xFF
    path.write_bytes(bytes(raw))
    try:
        arrays = results_io.read_npz(path)
    except results_io.CorruptFileError as e:
        assert str(path) in str(e) and e.path == path
    else:  # a flip that zip's CRC cannot see is impossible: whatever loads must be the data
        np.testing.assert_array_equal(arrays["step"], np.arange(300))


@pytest.mark.parametrize("text", ['{"name": "smd', "", '{"loss": Infinity}', '{"x": NaN}', "\xff\xfe"])
def test_a_truncated_or_non_standard_json_is_named(tmp_path, text):
    path = tmp_path / "smd-T100-beta0.1-abc.json"
    path.write_bytes(text.encode("latin-1"))
    raises_naming(lambda: results_io.read_json(path), str(path), results_io.CorruptFileError)


def test_a_corrupt_file_is_set_aside_not_deleted(tmp_path):
    path = tmp_path / "unit.npz"
    path.write_bytes(b"garbage")
    first = results_io.set_aside(path)
    path.write_bytes(b"garbage again")
    second = results_io.set_aside(path)
    assert first.name == "unit.npz.corrupt" and second.name == "unit.npz.corrupt-1" and not path.exists()
    assert first.read_bytes() == b"garbage"


def test_json_never_holds_infinity(tmp_path):
    raises_naming(lambda: results_io.dumps_json({"config": {"meta_lr": math.inf}}), "config.meta_lr")
    raises_naming(lambda: results_io.dumps_json({"values": [1.0, np.float32("nan")]}), "values[1]")
    assert json.loads(results_io.dumps_json({"a": 1.5, "b": [np.float64(2.0)]})) == {"a": 1.5, "b": [2.0]}


def test_a_corrupt_unit_is_named_set_aside_and_recomputed(tmp_path):
    npz, js = _valid_npz(tmp_path / "surface-T100-abc.npz"), tmp_path / "surface-T100-abc.json"
    js.write_text(json.dumps({"name": "surface-T100"}))
    arrays, info = results_io.read_unit(npz, js)
    assert info["name"] == "surface-T100" and arrays["step"].shape == (300,)
    npz.write_bytes(npz.read_bytes()[:100])  # truncated, as by a full disk under a non-atomic writer
    with pytest.warns(results_io.CorruptFileWarning, match="surface-T100-abc.npz"):
        assert results_io.read_unit(npz, js) is None
    assert not npz.exists() and not js.exists()  # both moved aside, so the rerun recomputes the unit
    assert sorted(p.name for p in tmp_path.iterdir()) == ["surface-T100-abc.json.corrupt",
                                                          "surface-T100-abc.npz.corrupt"]
    partial = tmp_path / ".smd-T100-abc.partial.npz"
    partial.write_bytes(b"PK\x03\x04 truncated")
    with pytest.warns(results_io.CorruptFileWarning, match="partial"):
        assert results_io.read_npz_or_set_aside(partial) is None
    assert results_io.read_npz_or_set_aside(partial) is None  # missing now: start afresh, quietly


# ----------------------------------------------------------------------------------------------------------------
# The experiments: flags and settings checked before any work, results folders checked, corrupt units recomputed,
# provenance that tells how a schedule was chosen, divergence reported in one line.

CTX = types.SimpleNamespace(X=X, Y=Y, Xt=X, Yt=Y, key=KEY, source="synthetic", w0=W0)
TINY = dict(K=10.0, n_samples=4, surface_eval_batches=1, meta_steps=4, smd_eval_batches=1, meta_lr=0.1,
            init_betas=(0.1,), final_steps=10, record_every=5, long_eval_batches=1, sweep_batch_sizes=(5,),
            sweep_betas=(1.0,), batch_size=5)


def _tiny_cfg(**kw):
    return ex.config("book", horizons=(4,), **dict(TINY, **kw))


@pytest.fixture
def no_work(monkeypatch):
    """Any unit's work (the data, the pretraining, a surface, SMD) fails the test if it starts."""

    def started(*args, **kwargs):
        raise AssertionError("work started before the arguments were checked")

    monkeypatch.setattr(ex, "_Context", started)  # what run_mnist and long_over_seeds do first


EXPERIMENT_FLAGS = [
    (["--meta-lr", "inf"], "--meta-lr"), (["--meta-lr", "nan"], "--meta-lr"), (["--meta-lr", "0"], "--meta-lr"),
    (["--init-betas", "nan"], "--init-betas"), (["--init-betas", "0.1", "inf"], "--init-betas"),
    (["--init-betas", "-1"], "--init-betas"), (["--horizons", "0"], "--horizons"),
    (["--horizons", "1.5"], "--horizons"), (["--samples", "0"], "--samples"), (["--samples", "x"], "--samples"),
    (["--meta-steps", "0"], "--meta-steps"), (["--chunk", "-1"], "--chunk"), (["--seeds", "-1"], "--seeds"),
    (["--seeds", "0", "0"], "--seeds"), (["--seeds", "1e3"], "--seeds"),
    (["--scale", "paper", "--samples", "5", "6"], "--samples"),
]


@pytest.mark.parametrize("flags, flag", EXPERIMENT_FLAGS, ids=[" ".join(f) for f, _ in EXPERIMENT_FLAGS])
def test_experiments_flags_are_checked_before_any_work(flags, flag, no_work, capsys, tmp_path):
    with pytest.raises(SystemExit) as info:
        ex.main(["mnist", "--out", str(tmp_path), *flags])
    err = capsys.readouterr().err
    assert info.value.code == 2 and flag in err and "Traceback" not in err, err


@pytest.mark.parametrize("flags, flag", [(["--samples", "0"], "--samples"), (["--seeds", "-2"], "--seeds"),
                                         (["--seeds", "3", "3"], "--seeds")])
def test_long_seeds_flags_are_checked_before_any_work(flags, flag, no_work, capsys, tmp_path):
    argv = ["long-seeds", "--choices-from", str(ROOT / "results"), "--out", str(tmp_path), "--samples", "2500",
            "--seeds", "0"]
    with pytest.raises(SystemExit) as info:
        ex.main(argv + flags)
    err = capsys.readouterr().err
    assert info.value.code == 2 and flag in err and "Traceback" not in err, err


def test_an_infinite_meta_lr_names_its_range_on_the_command_line(no_work, capsys, tmp_path):
    with pytest.raises(SystemExit):
        ex.main(["mnist", "--out", str(tmp_path), "--meta-lr", "inf"])
    assert "--meta-lr must be finite and > 0, got inf" in capsys.readouterr().err


SETTINGS = [("K", math.inf), ("meta_lr", math.nan), ("meta_lr", 0.0), ("init_alpha_0", -1.0),
            ("init_betas", (0.1, math.inf)), ("init_betas", ()), ("sweep_betas", (math.nan,)), ("mu", 1.0),
            ("horizons", (True,)), ("horizons", (4.5,)), ("n_samples", 0), ("n_samples", {4: 2.5}),
            ("meta_steps", -1), ("final_steps", 0), ("record_every", True), ("seed", -1), ("top", 0),
            ("choose", "best"), ("beta_range", (1.0, 0.5)), ("alpha_0_range", (0.0, 1.0)),
            ("sweep_batch_sizes", (0,)), ("surface_chunk", 0.5), ("pretrain_alpha", math.inf)]


@pytest.mark.parametrize("setting, value", SETTINGS, ids=[f"{s}={v}" for s, v in SETTINGS])
def test_a_bad_setting_is_refused_by_config_naming_it(setting, value):
    raises_naming(lambda: ex.config("book", **{setting: value}), setting)


def test_run_mnist_checks_settings_and_out_before_any_work(no_work, tmp_path):
    raises_naming(lambda: ex.run_mnist("book", meta_lr=math.inf), "meta_lr")
    (tmp_path / "a-file").write_text("x")
    raises_naming(lambda: ex.run_mnist("book", out=tmp_path / "a-file"), "out must be a folder")
    raises_naming(lambda: ex.run_mnist("book", units=("surface", "everything")), "units")


@pytest.mark.parametrize("what", ["a file", "read-only"])
def test_experiments_out_is_checked_before_any_work(what, no_work, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    if what == "a file":
        out.write_text("x")
    else:
        def read_only(*args, **kwargs):
            raise OSError(errno.EROFS, "Read-only file system")

        monkeypatch.setattr(results_io.tempfile, "mkstemp", read_only)
    for argv in (["mnist", "--out", str(out)],
                 ["long-seeds", "--choices-from", str(ROOT / "results"), "--samples", "2500", "--out", str(out),
                  "--seeds", "0"]):
        with pytest.raises(SystemExit) as info:
            ex.main(argv)
        err = capsys.readouterr().err
        assert info.value.code == 2 and "--out must be a" in err and str(out) in err, err


def test_a_read_only_out_fails_before_a_unit_is_computed_not_after(tmp_path, monkeypatch):
    def computed(*args, **kwargs):
        raise AssertionError("the unit was computed although its result could not be written")

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(ex.surface, "random_search", computed)
    monkeypatch.setattr(results_io.tempfile, "mkstemp", read_only)
    msg = raises_naming(lambda: ex.surface_unit(CTX, _tiny_cfg(), 4, out=tmp_path), "out must be a writable folder")
    assert "Read-only" in msg


def test_a_non_finite_setting_never_reaches_a_result_json(tmp_path):
    raises_naming(lambda: ex.save_unit(tmp_path, "smd-T4", {"meta_lr": math.inf}, {"x": np.ones(2)}, 1.0, "book"),
                  "config.meta_lr")
    assert list(tmp_path.iterdir()) == []  # refused before anything was written
    ex.save_unit(tmp_path, "smd-T4", {"meta_lr": 0.1}, {"x": np.ones(2)}, 1.0, "book")
    text = next(tmp_path.glob("*.json")).read_text()
    assert "Infinity" not in text and "NaN" not in text and results_io.read_json(next(tmp_path.glob("*.json")))


@pytest.mark.parametrize("damage", ["truncated npz", "truncated json", "garbage json"])
def test_a_corrupt_unit_is_named_set_aside_and_recomputed_by_a_rerun(tmp_path, damage):
    cfg = _tiny_cfg()
    first, _ = ex.surface_unit(CTX, cfg, 4, out=tmp_path)
    npz, js = next(tmp_path.glob("surface-T4-*.npz")), next(tmp_path.glob("surface-T4-*.json"))
    bad = npz if damage == "truncated npz" else js
    bad.write_bytes(bad.read_bytes()[:40] if damage.startswith("truncated") else b"\x00\xff not json")
    with pytest.warns(results_io.CorruptFileWarning, match=re.escape(bad.name)):
        again, info = ex.surface_unit(CTX, cfg, 4, out=tmp_path)
    np.testing.assert_array_equal(again["loss"], first["loss"])  # recomputed, the same
    assert results_io.read_unit(npz, js) is not None  # the rerun wrote a whole unit again
    assert (tmp_path / f"{bad.name}.corrupt").exists()  # the evidence is kept


def test_a_corrupt_unit_in_a_folder_that_is_only_read_is_skipped_and_named(tmp_path):
    ex.save_unit(tmp_path, "surface-T4", {"unit": "surface", "horizon": 4}, {"x": np.ones(2)}, 1.0, "book")
    ex.save_unit(tmp_path, "surface-T8", {"unit": "surface", "horizon": 8}, {"x": np.ones(2)}, 1.0, "book")
    bad = next(tmp_path.glob("surface-T8-*.npz"))
    bad.write_bytes(bad.read_bytes()[:30])
    with pytest.warns(results_io.CorruptFileWarning, match=re.escape(bad.name)):
        found = ex.load_results(tmp_path)
    assert [k.split("-")[1] for k in found] == ["T4"] and bad.exists()  # reading moves nothing


def test_a_corrupt_smd_checkpoint_is_named_set_aside_and_the_run_starts_afresh(tmp_path):
    cfg = _tiny_cfg()
    full, _ = ex.smd_unit(CTX, cfg, 4, 0.1, out=None, checkpoint_every=2)
    ucfg = dict(ex._base(cfg), unit="smd", horizon=4, init_beta=0.1, init_alpha_0=cfg["init_alpha_0"],
                meta_steps=4, meta_lr=cfg["meta_lr"], n_eval_batches=cfg["smd_eval_batches"])
    partial = tmp_path / f".smd-T4-beta0.1-{ex.unit_hash(ucfg)}.partial.npz"
    for junk in (b"PK\x03\x04 truncated", None):
        if junk is None:  # a readable .npz that is not a checkpoint
            with open(partial, "wb") as f:
                np.savez(f, something_else=np.ones(3))
        else:
            partial.write_bytes(junk)
        with pytest.warns(results_io.CorruptFileWarning, match="partial"):
            resumed, _ = ex.smd_unit(CTX, cfg, 4, 0.1, out=tmp_path, checkpoint_every=2)
        np.testing.assert_array_equal(resumed["values"], full["values"])
        for p in tmp_path.glob("smd-*"):
            p.unlink()
    assert len(list(tmp_path.glob(".*.partial.npz.corrupt*"))) == 2


def test_choose_smd_without_smd_units_is_refused_not_mislabelled(no_work, tmp_path, capsys):
    for argv in (["--choose", "smd", "--units", "surface", "long"], ["--scale", "paper", "--units", "surface", "long"],
                 ["--choose", "surface", "--units", "smd", "long"]):
        with pytest.raises(SystemExit) as info:
            ex.main(["mnist", "--out", str(tmp_path), *argv])
        err = capsys.readouterr().err
        assert info.value.code == 2 and "--units" in err and "--choose" in err, err
    raises_naming(lambda: ex.run_mnist("book", units=("surface", "long"), choose="smd"), "units")


def _surface_unit_info(T, n):
    return {"name": f"surface-T{T}", "config": {"unit": "surface", "horizon": T, "n_samples": n}}


def test_organize_never_labels_a_surface_chosen_long_run_smd():
    surf = {"alpha_0": np.array([0.1, 0.2, 0.4]), "beta": np.array([1.0, 2.0, 4.0]), "loss": np.array([3, 2, 1.0])}
    best = surface.best_of_surface(surf, 3)
    long = {"horizons": np.array([4]), "step": np.array([5]), "train_loss": np.ones((1, 1))}
    claims_smd = {"config": {"unit": "long", "alpha_0": [round(best[0], 6)], "beta": [round(best[1], 6)]},
                  "scale": "book"}  # no "chosen_by": the convention for SMD, as --choose smd wrote it
    units = {"s": (surf, _surface_unit_info(4, 3)), "l": (long, claims_smd)}
    (label,) = [lab for _, _, lab in ex.organize(units)["long"]]
    assert not label.startswith("SMD") and "surface top 3 of 3 samples" in label, label
    del units["s"]
    (label,) = [lab for _, _, lab in ex.organize(units)["long"]]
    assert not label.startswith("SMD") and "unverified" in label, label


def test_organize_reads_long_seeds_units_and_a_diverged_surface():
    seeds = ex.load_results(ROOT / "results" / "paper-seeds")
    labels = {lab for _, _, lab in ex.organize(seeds)["long"]}  # "surface top 3 of 2500 samples": once a crash
    assert labels and all(lab.startswith("surface top 3 of 2500 samples") for lab in labels), labels
    ok = {"alpha_0": np.array([0.1, 0.2]), "beta": np.array([1.0, 2.0]), "loss": np.array([2.0, 1.0])}
    dead = dict(ok, loss=np.array([np.inf, np.nan]))
    best = surface.best_of_surface(ok, 3)
    long = {"horizons": np.array([4]), "step": np.array([5]), "train_loss": np.ones((1, 1))}
    info = {"config": {"unit": "long", "alpha_0": [round(best[0], 6)], "beta": [round(best[1], 6)],
                       "chosen_by": "surface top 3"}}
    units = {"a": (ok, _surface_unit_info(4, 2)), "b": (dead, _surface_unit_info(4, 5)), "l": (long, info)}
    assert [lab for _, _, lab in ex.organize(units)["long"]] == ["surface top 3 of 2 samples"]
    o = ex.organize(units)
    raises_naming(lambda: ex.surface_choices(o["surface"]), "horizon 4", checks.DivergedError)


def test_run_mnist_names_the_horizon_whose_surface_diverged_and_the_cli_says_so_in_one_line(monkeypatch, capsys,
                                                                                            tmp_path):
    monkeypatch.setattr(ex, "_Context", lambda cfg: CTX)
    monkeypatch.setattr(ex.surface, "random_search", lambda key, problem, n, *a, **k: {
        "alpha_0": np.full(n, 0.1), "beta": np.ones(n), "loss": np.full(n, np.inf)})
    msg = raises_naming(lambda: ex.run_mnist("book", horizons=(4,), units=("surface", "long"), **TINY),
                        "horizon 4", checks.DivergedError)
    assert "surface-T4-" in msg and "diverged" in msg

    def diverging_run(*args, **kwargs):
        raise checks.DivergedError(msg)

    monkeypatch.setattr(ex, "run_mnist", diverging_run)
    assert ex.main(["mnist", "--out", str(tmp_path), "--units", "surface", "long"]) == 1
    err = capsys.readouterr().err
    assert "horizon 4" in err and "Traceback" not in err and err.count("\n") == 1, err
