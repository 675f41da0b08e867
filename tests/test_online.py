"""Online SMD (ICLR section 3.3): meta-gradient vs finite differences, the two lookaheads, the decay, bad input,
dtypes and divergence reporting. Everything runs on a tiny network and synthetic data."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from shb_lib import meta_optimizer as mo
from shb_lib.mnist import model
from shb_lib.mnist import online as ol

SIZES = (12, 8, 6, 3)


def _data(dtype, n=200, key=0):
    kx, ky = jax.random.split(jax.random.PRNGKey(key))
    x = jax.random.normal(kx, (n, SIZES[0]), dtype=dtype)
    y = jax.random.randint(ky, (n,), 0, SIZES[-1]).astype(jnp.int32)
    return x, y


def _state(dtype, key=1):
    """Weights and a non-zero velocity (the lookahead starts mid-training)."""
    kw, kv = jax.random.split(jax.random.PRNGKey(key))
    w = model.init_mlp(kw, SIZES, std=0.4, dtype=dtype)
    v = model.init_mlp(kv, SIZES, std=0.1, dtype=dtype)
    return w, v


TINY = ol.OnlineConfig(steps=60, adapt_steps=30, steps_per_update=5, meta_steps=2, batch_size=10,
                       record_every=10, n_eval_examples=50)


def _run(alpha, mu=0.9, config=TINY, n=200, key=0):
    x, y = _data(jnp.float32, n)
    return ol.online_run(jax.random.PRNGKey(key), x, y, x[:50], y[:50], alpha, mu, config, sizes=SIZES, init_std=0.3)


# Jitted once here (the library jits the whole run; these pieces are traced by the caller).
meta_gradient = jax.jit(ol.meta_gradient)
lookahead_loss = jax.jit(ol.lookahead_loss)
BASELINE = TINY._replace(meta_steps=0)


@pytest.fixture(scope="module")
def baseline_run():
    return _run([0.01, 0.05], 0.9, BASELINE)


@pytest.fixture(scope="module")
def smd_run():
    return _run([0.01, 0.5], 0.5, TINY._replace(meta_lr=0.2))


def test_meta_gradient_matches_central_finite_differences_float64():
    x, y = _data(jnp.float64)
    w, v = _state(jnp.float64)
    train_idx, eval_idx = ol.lookahead_batches(jax.random.PRNGKey(3), x.shape[0], 5, 16, True)
    h = ol.online_hparams(0.05, 0.7, dtype=jnp.float64)
    value, grads = meta_gradient(h, w, v, x, y, train_idx, eval_idx)
    J = lambda h: float(lookahead_loss(h, w, v, x, y, train_idx, eval_idx))  # noqa: E731
    assert math.isclose(float(value), J(h), rel_tol=1e-12)
    eps = 1e-5
    for name in h:
        fd = (J(dict(h, **{name: h[name] + eps})) - J(dict(h, **{name: h[name] - eps}))) / (2 * eps)
        assert abs(fd) > 1e-6  # not vacuous
        np.testing.assert_allclose(float(grads[name]), fd, rtol=1e-6, atol=1e-11)


def test_lookahead_loss_is_five_explicit_momentum_steps():
    x, y = _data(jnp.float64)
    w, v = _state(jnp.float64)
    train_idx, eval_idx = ol.lookahead_batches(jax.random.PRNGKey(4), x.shape[0], 5, 16, True)
    alpha, mu = 0.03, 0.8
    grad = jax.jit(jax.grad(model.cross_entropy))
    for i in train_idx:
        g = grad(w, x[i], y[i])
        v = jax.tree.map(lambda vi, gi: mu * vi + gi, v, g)
        w = jax.tree.map(lambda wi, vi: wi - alpha * vi, w, v)
    e = np.asarray(eval_idx).ravel()
    expected = float(model.cross_entropy(w, x[e], y[e]))
    got = lookahead_loss(ol.online_hparams(alpha, mu, jnp.float64), *_state(jnp.float64), x, y, train_idx, eval_idx)
    assert math.isclose(float(got), expected, rel_tol=1e-10)


def test_deterministic_lookahead_reuses_one_batch_and_evaluates_on_it():
    train_idx, eval_idx = ol.lookahead_batches(jax.random.PRNGKey(5), 1000, 5, 20, stochastic=False)
    assert train_idx.shape == (5, 20) and eval_idx.shape == (1, 20)
    assert all(np.array_equal(train_idx[t], train_idx[0]) for t in range(5))
    np.testing.assert_array_equal(eval_idx[0], train_idx[0])


def test_stochastic_lookahead_draws_fresh_batches_and_separate_evaluation_batches():
    train_idx, eval_idx = ol.lookahead_batches(jax.random.PRNGKey(5), 60000, 5, 100, stochastic=True)
    assert train_idx.shape == eval_idx.shape == (5, 100)
    rows = {tuple(np.asarray(r)) for r in np.concatenate([train_idx, eval_idx])}
    assert len(rows) == 10  # ten different batches
    overlap = np.intersect1d(np.asarray(train_idx), np.asarray(eval_idx)).size
    assert overlap < 20  # independent draws from 60000 examples share only a few
    k1, k2 = ol.lookahead_batches(jax.random.PRNGKey(6), 60000, 5, 100, True)
    assert not np.array_equal(k1, train_idx)


def test_reparameterisation_round_trip():
    h = ol.online_hparams(np.array([1e-3, 0.1]), np.array([0.9, 0.0]))
    assert set(h) == {"log_alpha_eff", "log_one_minus_mu"}
    np.testing.assert_allclose(np.exp(h["log_alpha_eff"]), [1e-2, 0.1], rtol=1e-6)
    alpha, mu = ol.lr_and_momentum(h)
    np.testing.assert_allclose(alpha, [1e-3, 0.1], rtol=1e-6)
    np.testing.assert_allclose(mu, [0.9, 0.0], atol=1e-7)


def test_exponential_decay_hits_its_start_and_end_values():
    t_start, t_last = 1000, 1999
    a = ol.decayed_alpha_eff(jnp.arange(t_start, t_last + 1, dtype=jnp.float64), 0.37, t_start, t_last, 1e-4)
    assert math.isclose(float(a[0]), 0.37, rel_tol=1e-12) and math.isclose(float(a[-1]), 1e-4, rel_tol=1e-12)
    ratios = np.asarray(a[1:] / a[:-1])
    np.testing.assert_allclose(ratios, ratios[0], rtol=1e-9)  # exponential: a constant factor per step
    assert ratios[0] < 1


def test_online_run_shapes_baseline_and_decay(baseline_run):
    r = baseline_run
    assert r.train_loss.shape == (2, 7) and r.alpha_eff.shape == (2, 12) and r.step[-1] == 60
    assert np.all(np.isfinite(r.train_loss)) and not r.diverged.any()
    assert r.train_loss[1, -1] < r.train_loss[1, 0]
    np.testing.assert_allclose(r.alpha_eff[:, :6], [[0.1] * 6, [0.5] * 6], rtol=1e-6)  # constant, then decay
    np.testing.assert_allclose(r.momentum, 0.9, rtol=1e-6)
    t = r.lr_step[6:]
    np.testing.assert_allclose(r.alpha_eff[1, 6:], 0.5 * (1e-4 / 0.5) ** ((t - 30) / 29), rtol=1e-6)
    assert np.all(np.isnan(r.meta_loss))


def test_online_smd_adapts_and_stays_in_the_clipping_ranges(smd_run):
    r = smd_run
    a, m = r.alpha_eff[:, :6], r.momentum[:, :6]
    assert np.all(np.abs(np.diff(np.log(a), axis=1)) > 0)  # every update moved alpha_eff
    assert np.all((a >= 1e-4 * (1 - 1e-6)) & (a <= 10 * (1 + 1e-6)))
    assert np.all((m >= 0) & (m <= 0.999 + 1e-6))
    np.testing.assert_allclose(r.momentum[:, 6:], np.broadcast_to(r.momentum[:, 5:6], (2, 6)), rtol=1e-6)  # mu frozen after adaptation
    assert np.all(np.isfinite(r.meta_loss))


def test_meta_update_skips_diverged_lookahead_and_clips():
    h = ol.online_hparams(0.05, 0.5)
    adam = ol.meta_optimizer(0.1).init(h)
    g = {k: jnp.float32(1e6) for k in h}
    h1, adam1 = ol.meta_update(h, adam, jnp.float32(jnp.inf), g, 0.1)
    assert all(float(h1[k]) == float(h[k]) for k in h) and int(mo.adam_moments(adam1)[2]) == 0
    h2, adam2 = ol.meta_update(h, adam, jnp.float32(1.0), g, 0.1)
    m, _, count = mo.adam_moments(adam2)
    assert int(count) == 1 and float(m["log_alpha_eff"]) == pytest.approx(0.1 * mo.GRAD_CLIP)
    assert float(h2["log_alpha_eff"]) == pytest.approx(float(h["log_alpha_eff"]) - 0.1, rel=1e-4)
    far = {"log_alpha_eff": jnp.float32(50.0), "log_one_minus_mu": jnp.float32(-50.0)}
    c = mo.box(mo.LOG_BOUNDS)(far)
    assert float(jnp.exp(c["log_alpha_eff"])) == pytest.approx(10.0, rel=1e-5)
    assert float(1 - jnp.exp(c["log_one_minus_mu"])) == pytest.approx(0.999, rel=1e-5)


def test_diverged_lookahead_gives_inf_and_zero_gradient_not_nan():
    x, y = _data(jnp.float32)
    w, v = _state(jnp.float32)
    train_idx, eval_idx = ol.lookahead_batches(jax.random.PRNGKey(3), x.shape[0], 5, 16, True)
    value, grads = meta_gradient(ol.online_hparams(1e30, 0.0), w, v, x * 1e3, y, train_idx, eval_idx)
    assert float(value) == np.inf and all(float(g) == 0 for g in grads.values())


def test_diverging_run_is_flagged_with_inf_loss_never_nan():
    r = _run([1e-2, 1e4], 0.9, BASELINE)
    assert list(r.diverged) == [False, True]
    assert np.isinf(r.final_loss[1]) and np.isnan(r.test_error[1]) and not np.isnan(r.train_loss).any()
    assert np.isfinite(r.final_loss[0])


def test_float32_everywhere(smd_run):
    h = ol.online_hparams(0.05, 0.9)
    assert all(v.dtype == jnp.float32 for v in h.values())
    x, y = _data(jnp.float32)
    w, v = _state(jnp.float32)
    train_idx, eval_idx = ol.lookahead_batches(jax.random.PRNGKey(3), x.shape[0], 5, 16, True)
    assert train_idx.dtype == jnp.int32
    value, grads = meta_gradient(h, w, v, x, y, train_idx, eval_idx)
    assert value.dtype == jnp.float32 and all(g.dtype == jnp.float32 for g in grads.values())
    r = smd_run
    assert all(a.dtype == jnp.float32 for a in jax.tree.leaves(r.state))
    s = ol.lookahead_surface(jax.random.PRNGKey(0), r.run_state(0), x, y, [0.01, 0.1], 0.9, batch_size=10,
                             n_samples=4)
    assert s["mean"].shape == (2,) and np.all(np.isfinite(s["mean"])) and s["best"].sum() == pytest.approx(1.0)


@pytest.mark.parametrize("change, match", [
    (dict(lookahead=0), "lookahead"), (dict(steps=0), "steps"), (dict(meta_steps=-1), "meta_steps"),
    (dict(adapt_steps=60), "adapt_steps"), (dict(record_every=7), "record_every"), (dict(meta_lr=0.0), "meta_lr"),
    (dict(meta_b2=1.0), "meta_b2"), (dict(final_lr=-1.0), "final_lr"), (dict(batch_size=2.5), "batch_size"),
    (dict(adapt_steps=25), "adapt_steps"),
])
def test_bad_config_raises_naming_the_setting(change, match):
    with pytest.raises(ValueError, match=match):
        TINY._replace(**change).validate()


def test_bad_arguments_raise():
    x, y = _data(jnp.float32)
    key = jax.random.PRNGKey(0)
    with pytest.raises(ValueError, match="alpha"):
        ol.online_run(key, x, y, x, y, 0.0, 0.9, TINY, sizes=SIZES)
    with pytest.raises(ValueError, match="mu"):
        ol.online_run(key, x, y, x, y, 0.01, 1.0, TINY, sizes=SIZES)
    with pytest.raises(ValueError, match="config"):
        ol.online_run(key, x, y, x, y, 0.01, 0.9, {"steps": 10}, sizes=SIZES)
    with pytest.raises(ValueError, match="sizes"):
        ol.online_run(key, x, y, x, y, 0.01, 0.9, TINY, sizes=(5, 3))
    with pytest.raises(ValueError, match="mu"):
        ol.online_hparams(0.1, -0.1)
    with pytest.raises(ValueError, match="n_samples"):
        ol.lookahead_surface(key, _state(jnp.float32), x, y, [0.1], n_samples=0)
    with pytest.raises(ValueError, match="alpha_eff"):
        ol.lookahead_surface(key, _state(jnp.float32), x, y, [-0.1])


def test_summary_table_lists_every_run(baseline_run):
    table = ol.summary_table({"hand-tuned": baseline_run})
    lines = table.splitlines()
    assert len(lines) == 4 and lines[0].startswith("run") and "final loss" in lines[0]
    assert lines[2].split()[1] == "0.1" and lines[3].split()[1] == "0.5"


def test_paper_config_is_valid_and_has_the_papers_settings():
    c = ol.OnlineConfig.paper()
    c.validate()
    assert (c.steps, c.adapt_steps, c.steps_per_update, c.meta_steps, c.lookahead) == (50000, 25000, 10, 100, 5)
    assert (c.meta_lr, c.meta_b2, c.final_lr) == (0.01, 0.999, 1e-4)
