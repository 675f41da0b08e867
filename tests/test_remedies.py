"""shb_lib.mnist.remedies: the base optimizers, the unit files (atomic, resumable, with their configuration), the summary,
and one committed unit recomputed."""

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from shb_lib import decay
from shb_lib.mnist import model, optimizer, remedies
from shb_lib.book import ROOT

COMMITTED = ROOT / "results" / "remedies"


def _data(n=200):
    k1, k2 = jax.random.split(jax.random.PRNGKey(3))
    return jax.random.normal(k1, (n, 784), jnp.float32), jax.random.randint(k2, (n,), 0, 10)


def test_sgd_is_the_books_momentum_sgd():
    X, Y = _data()
    w0 = model.init_mlp(jax.random.PRNGKey(0))
    idx = jnp.arange(50).reshape(5, 10)
    w = remedies.train(w0, 0.1, 2.0, 5.0, "sgd", X, Y, idx)
    ref, v = w0, optimizer.zeros_like_tree(w0)
    for t in range(5):
        ref, v = optimizer.sgd_step(ref, v, X[idx[t]], Y[idx[t]], decay.inverse_time_decay(t, 0.1, 2.0, 5.0), 0.9)
    for a, b in zip(jax.tree.leaves(w), jax.tree.leaves(ref)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_adam_is_optax_adam_with_the_schedule():
    import optax

    X, Y = _data()
    w0 = model.init_mlp(jax.random.PRNGKey(1))
    idx = jnp.arange(40).reshape(4, 10)
    w = remedies.train(w0, 1e-3, 1.0, 2.0, "adam", X, Y, idx)
    tx = optax.adam(lambda t: decay.inverse_time_decay(t, 1e-3, 1.0, 2.0))
    ref, state = w0, tx.init(w0)
    for t in range(4):
        g = jax.grad(model.cross_entropy)(ref, X[idx[t]], Y[idx[t]])
        u, state = tx.update(g, state, ref)
        ref = optax.apply_updates(ref, u)
    for a, b in zip(jax.tree.leaves(w), jax.tree.leaves(ref)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def _record(short, long, betas=(3.0, 1.0), seed=0, name="sgd"):
    cfg = remedies.unit_config(seed, name, 100)
    return {"name": "remedies", "config": cfg,
            "result": {"chosen_beta": list(betas), "long_loss": [list(short), list(long)], "sweep_loss": []}}


def test_measurements_and_summary():
    r = _record([1.0] * 17, [0.5] * 17)
    m = remedies.measurements(r)
    assert m["beta_ratio"] == 3.0 and m["loss_ratio"] == 2.0 and m["tail_ratio"] == 2.0
    diverged = remedies.measurements(_record([1.0] * 16 + [None], [0.5] * 17))
    assert diverged["loss_ratio"] == np.inf
    s = remedies.summary([r, _record([1.0] * 17, [0.25] * 17, seed=1)])
    assert s[("sgd", 100)]["loss_ratio"].median == 3.0 and s[("sgd", 100)]["loss_ratio"].n == 2


def test_a_finished_unit_is_not_recomputed(tmp_path, monkeypatch):
    r = _record([1.0] * 17, [0.5] * 17)
    path = remedies.unit_path(tmp_path, r["config"])
    path.write_text(json.dumps(r))
    monkeypatch.setattr(remedies, "compute_unit", lambda *a: pytest.fail("recomputed a finished unit"))
    assert remedies.run_unit(tmp_path, 0, "sgd", 100, data=_data()) == r


def test_committed_units_have_their_configuration_and_every_seed():
    records = remedies.load_units(COMMITTED)
    seen = {(r["config"]["optimizer"], r["config"]["seed"]) for r in records}
    assert {(o, s) for o in remedies.OPTIMIZERS for s in range(5)} <= seen
    for r in records:
        cfg = r["config"]
        assert cfg == remedies.unit_config(cfg["seed"], cfg["optimizer"], cfg["batch_size"])
        assert remedies.unit_path(COMMITTED, cfg).exists()
        assert {"versions", "hardware", "wall_time_s"} <= set(r)


@pytest.mark.parametrize("call, match", [
    (lambda: remedies.unit_config(-1, "sgd", 100), "seed"),
    (lambda: remedies.unit_config(0, "rmsprop", 100), "optimizer"),
    (lambda: remedies.unit_config(0, "sgd", 0), "batch_size"),
    (lambda: remedies.base_transform("lbfgs"), "optimizer"),
])
def test_bad_input_names_the_parameter(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_command_line_refuses_a_bad_seed(tmp_path):
    with pytest.raises(ValueError, match="--seeds"):
        remedies.main(["--seeds", "-1", "--out", str(tmp_path)])


@pytest.mark.skipif(not os.environ.get("SHB_DATA_DIR") and not (ROOT / "data").exists(),
                    reason="needs MNIST (SHB_DATA_DIR)")
def test_recomputed_unit_agrees_with_the_committed_one(tmp_path):
    """Seed 0, Adam: the beta sweep's losses within 5 %, each chosen beta a near-tie (within 2 %) of the committed
    sweep's best at its horizon, and long-run losses within 30 % (float32 runs of 4000 steps move by tens of percent
    between CPUs, as in shb_lib.mnist.findings.agrees). Measured 2026-12-02 on this workplace's AMD EPYC: the
    1000-step sweep moved by 2.8 %, enough to swap its two best betas (0.03 and 0.1, 0.9 % apart in the committed
    file): the choice itself is not reproducible, its quality is."""
    committed = [r for r in remedies.load_units(COMMITTED)
                 if r["config"]["seed"] == 0 and r["config"]["optimizer"] == "adam"][0]
    fresh = remedies.run_unit(tmp_path, 0, "adam", 100)
    assert fresh["config"] == committed["config"]
    sweep_c, sweep_f = (np.array(r["result"]["sweep_loss"], float) for r in (committed, fresh))
    np.testing.assert_allclose(sweep_f, sweep_c, rtol=0.05)
    betas = list(committed["config"]["betas"])
    for h, beta in enumerate(fresh["result"]["chosen_beta"]):
        assert sweep_c[h, betas.index(beta)] <= 1.02 * sweep_c[h].min(), (h, beta)
    a, b = (np.array(r["result"]["long_loss"], float)[:, -4:].mean(axis=1) for r in (fresh, committed))
    np.testing.assert_allclose(a, b, rtol=0.3)
