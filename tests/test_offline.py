"""Offline meta-optimization on synthetic data: SMD moves downhill, resumes exactly, the surface flags divergence."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from shb_lib.mnist import hypergrad as hg
from shb_lib.mnist import batches, model, offline, surface, training


@pytest.fixture(scope="module")
def data():
    k = jax.random.PRNGKey(0)
    kx, kw = jax.random.split(k)
    x = jax.random.uniform(kx, (400, 12), dtype=jnp.float32)
    w_true = jax.random.normal(kw, (12, 3), dtype=jnp.float32)
    y = jnp.argmax(x @ w_true, axis=1).astype(jnp.int32)
    return x, y


def _w0(data):
    x, y = data
    return model.init_mlp(jax.random.PRNGKey(1), (12, 8, 8, 3), std=0.3)


def test_pretrain_lowers_the_loss_and_is_float32(data):
    x, y = data
    k = jax.random.PRNGKey(2)
    x784 = jnp.zeros((400, 784), jnp.float32)  # pretrain() builds the paper's 784-input network
    w_init = training.pretrain(k, x784, y, steps=0)
    with pytest.raises(ValueError, match="steps"):
        training.pretrain(k, x784, y, steps=-1)
    with pytest.raises(ValueError, match="images must have 784 features"):
        training.pretrain(k, x, y, steps=0)
    # pretrain() builds the paper's network; check on a tiny one through the same private loop
    w0 = _w0(data)
    idx = batches.epoch_batches(k, 400, 50, 20)
    w = training._train_constant(w0, x, y, idx, jnp.float32(0.1), jnp.float32(0.9))
    assert float(model.cross_entropy(w, x, y)) < float(model.cross_entropy(w0, x, y))
    assert all(p.dtype == jnp.float32 for p in jax.tree.leaves(w)) and len(w_init) == 3


def test_smd_decreases_meta_objective_and_clips(data):
    x, y = data
    w0 = _w0(data)
    h0 = hg.default_hparams(beta=10.0, alpha_0=0.002)
    r = offline.smd(jax.random.PRNGKey(3), x, y, w0, 20, h0, 25, meta_lr=0.2, batch_size=20, n_eval_batches=5,
                 time_const=10.0)
    assert len(r.values) == 25 and len(r.alpha_0) == 26
    assert np.all(np.isfinite(r.values))
    assert np.mean(r.values[-5:]) < np.mean(r.values[:5])
    assert np.all(r.alpha_0 / 0.1 <= 10.0 + 1e-5) and np.all(r.beta >= 1e-4 * (1 - 1e-5))
    assert np.all(r.beta <= 1e3 * (1 + 1e-5))


def test_smd_resumes_exactly(data):
    x, y = data
    w0 = _w0(data)
    h0 = hg.default_hparams(beta=1.0)
    kw = dict(meta_lr=0.1, batch_size=20, n_eval_batches=2, time_const=10.0)
    key = jax.random.PRNGKey(4)
    full = offline.smd(key, x, y, w0, 5, h0, 6, **kw)
    part = offline.smd(key, x, y, w0, 5, h0, 3, **kw)
    rest = offline.smd(key, x, y, w0, 5, h0, 3, start=part, **kw)
    np.testing.assert_array_equal(full.values, rest.values)
    np.testing.assert_array_equal(full.beta, rest.beta)


def test_random_search_vmap_equals_loop_and_flags_divergence(data):
    x, y = data
    w0 = _w0(data)
    p = hg.make_offline_problem(jax.random.PRNGKey(5), x, y, w0, 8, 20, 2, time_const=10.0)
    s = surface.random_search(jax.random.PRNGKey(6), p, 10, chunk=4)
    assert s["loss"].shape == (10,) and not s["diverged"].any()
    assert np.all((s["alpha_0"] >= 1e-3 * 0.999) & (s["alpha_0"] <= 0.5 * 1.001))
    assert np.all((s["beta"] >= 1e-2 * 0.999) & (s["beta"] <= 200 * 1.001))
    loop = np.asarray(surface.surface_losses_loop(jnp.asarray(s["alpha_0"], jnp.float32),
                                               jnp.asarray(s["beta"], jnp.float32), p))
    np.testing.assert_allclose(s["loss"], loop, rtol=1e-4)
    # overflowing inputs: every sample diverges; reported as inf + flag, no exception
    bad = p._replace(images=p.images * jnp.float32(1e30))
    sb = surface.random_search(jax.random.PRNGKey(6), bad, 3, chunk=2)
    assert sb["diverged"].all() and np.isinf(sb["loss"]).all()
    a, b = surface.best_of_surface(s)
    assert (a, b) == (s["alpha_0"][np.argmin(s["loss"])], s["beta"][np.argmin(s["loss"])])


def test_random_search_splits_samples_into_equal_chunks(data, monkeypatch):
    """96 samples at chunk 64 run as 2 x 48 (not 64 + 64 with 32 padded); the chunking leaves the losses alone."""
    x, y = data
    p = hg.make_offline_problem(jax.random.PRNGKey(5), x, y, _w0(data), 4, 20, 1, time_const=10.0)
    sizes, real = [], surface.surface_losses
    monkeypatch.setattr(surface, "surface_losses", lambda a, b, pr: sizes.append(a.shape[0]) or real(a, b, pr))
    s6 = surface.random_search(jax.random.PRNGKey(6), p, 10, chunk=6)
    assert sizes == [5, 5]
    sizes.clear()
    s4 = surface.random_search(jax.random.PRNGKey(6), p, 10, chunk=4)
    assert sizes == [4, 4, 4]
    np.testing.assert_allclose(s6["loss"], s4["loss"], rtol=1e-5)


def test_train_schedule_records_and_validates(data):
    x, y = data
    w0 = _w0(data)
    r = training.train_schedule(jax.random.PRNGKey(7), x, y, x[:50], y[:50], w0, [0.05, 0.001], [0.5, 3.0], 40,
                            record_every=10, batch_size=20, n_eval_batches=2, time_const=10.0)
    assert r["train_loss"].shape == (2, 5) and r["step"].tolist() == [0, 10, 20, 30, 40]
    assert r["train_loss"][0, -1] < r["train_loss"][0, 0]
    assert np.allclose(r["lr"][1], 0.001 / (1 + r["step"] / 10.0) ** 3.0)
    for kwargs, name in [({"alpha_0": [0.0]}, "alpha_0"), ({"beta": [-1.0]}, "beta"), ({"mu": 1.0}, "mu"),
                         ({"steps": 0}, "steps"), ({"batch_size": 0}, "batch_size")]:
        args = dict(alpha_0=[0.1], beta=[1.0], steps=20, record_every=10, batch_size=20, mu=0.9)
        args.update(kwargs)
        with pytest.raises(ValueError, match=name):
            training.train_schedule(jax.random.PRNGKey(0), x, y, x, y, w0, args.pop("alpha_0"), args.pop("beta"),
                                args.pop("steps"), **args)
