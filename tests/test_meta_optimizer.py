"""The one meta-optimizer (shb_lib.meta_optimizer): Adam from optax against the formula, the clip, the box, the
divergence guard and the checkpoint round trip."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from shb_lib import meta_optimizer as mo


def _adam_by_hand(x, grads, lr, b1=0.9, b2=0.999, eps=1e-8, clip=None):
    """Kingma & Ba's Adam written out in float64 numpy (the reference)."""
    m = v = np.zeros_like(x)
    path = [x]
    for n, g in enumerate(grads, start=1):
        g = np.clip(g, -clip, clip) if clip is not None else g
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        x = x - lr * (m / (1 - b1 ** n)) / (np.sqrt(v / (1 - b2 ** n)) + eps)
        path.append(x)
    return np.array(path)


@pytest.mark.parametrize("clip", [None, 0.5])
def test_adam_is_the_formula(clip):
    rng = np.random.default_rng(0)
    grads = rng.normal(size=(20, 3)) * np.array([0.1, 1.0, 10.0])
    opt = mo.adam(0.05, b2=0.99, grad_clip=clip)
    x, state, path = jnp.asarray(np.ones(3)), None, []
    state = opt.init(x)
    path.append(np.asarray(x))
    for g in grads:
        x, state = mo.step(opt, x, jnp.asarray(g), state)
        path.append(np.asarray(x))
    np.testing.assert_allclose(np.array(path), _adam_by_hand(np.ones(3), grads, 0.05, b2=0.99, clip=clip), rtol=1e-12)


def test_clipping_bounds_the_first_step():
    opt = mo.adam(0.1, grad_clip=mo.GRAD_CLIP)
    x = {"a": jnp.float32(0.0)}
    new, state = mo.step(opt, x, {"a": jnp.float32(1e6)}, opt.init(x))
    m, _, count = mo.adam_moments(state)
    assert int(count) == 1 and float(m["a"]) == pytest.approx(0.1 * mo.GRAD_CLIP)
    assert float(new["a"]) == pytest.approx(-0.1, rel=1e-5)  # Adam's first step has length lr


def test_box_clips_each_named_value_to_its_range():
    h = {"log_alpha_eff": jnp.float32(50.0), "log_beta": jnp.float32(-50.0), "log_one_minus_mu": jnp.float32(1.0),
         "other": jnp.float32(7.0)}
    c = mo.box(mo.LOG_BOUNDS)(h)
    assert np.isclose(np.exp(float(c["log_alpha_eff"])), mo.ALPHA_EFF_RANGE[1], rtol=1e-5)
    assert np.isclose(np.exp(float(c["log_beta"])), mo.BETA_RANGE[0], rtol=1e-5)
    assert float(c["log_one_minus_mu"]) == 0.0 and float(c["other"]) == 7.0
    lo, hi = jnp.zeros(2), jnp.array([1.0, 2.0])
    np.testing.assert_array_equal(mo.box((lo, hi))(jnp.array([-1.0, 5.0])), [0.0, 2.0])


def test_guard_keeps_values_and_state_when_not_ok():
    opt = mo.adam(0.1)
    x = jnp.array([1.0, 2.0])
    state = opt.init(x)
    x1, state1 = mo.guarded_step(opt, x, jnp.array([1.0, -1.0]), state, jnp.bool_(False))
    np.testing.assert_array_equal(x1, x)
    assert all(np.array_equal(a, b) for a, b in zip(jax.tree.leaves(state1), jax.tree.leaves(state)))
    x2, state2 = mo.guarded_step(opt, x, jnp.array([1.0, -1.0]), state, jnp.bool_(True))
    assert not np.array_equal(x2, x) and int(mo.adam_moments(state2)[2]) == 1


def test_moments_round_trip_through_a_checkpoint():
    opt = mo.adam(0.1, grad_clip=1.0)
    x = {"a": jnp.float32(1.0), "b": jnp.float32(2.0)}
    state = opt.init(x)
    for g in (0.3, -2.0, 0.7):
        x, state = mo.step(opt, x, {"a": jnp.float32(g), "b": jnp.float32(-g)}, state)
    m, v, count = mo.adam_moments(state)
    restored = mo.with_adam_moments(opt.init(x), {k: np.asarray(a) for k, a in m.items()},
                                    {k: np.asarray(a) for k, a in v.items()}, np.asarray(count))
    assert jax.tree.structure(restored) == jax.tree.structure(state)
    assert all(np.array_equal(a, b) for a, b in zip(jax.tree.leaves(restored), jax.tree.leaves(state)))


@pytest.mark.parametrize("kw, name", [({"meta_lr": 0.0}, "meta_lr"), ({"meta_lr": 0.1, "b2": 1.0}, "b2"),
                                      ({"meta_lr": 0.1, "grad_clip": -1.0}, "grad_clip")])
def test_bad_settings_are_named(kw, name):
    with pytest.raises(ValueError, match=name):
        mo.adam(**kw)
