"""The phase diagram of chapter 7 (shb_lib.nqm.phase): agreement with shb_lib.nqm on single problems, the change of
variables behind preconditioning, the paper's numbers, bad input."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import shb_lib.nqm as nqm
from shb_lib.nqm import phase as ph

SMALL = ph.FitSettings(steps=60, adam_lr=0.02, grid=4)


def test_phase_problem_at_the_papers_point_is_the_papers_problem():
    q, paper = ph.phase_problem(200, 1.0, 0.0, 1000), nqm.paper_problem()
    for field in ("h", "sigma2", "theta0_mean", "theta0_var"):
        np.testing.assert_allclose(getattr(q, field), getattr(paper, field), rtol=1e-12)


def test_preconditioning_is_a_change_of_variables():
    """The preconditioned problem's excess loss equals the original-coordinate recursion of
    theta' = theta + mu v - lr h^-p g (curvature h^(1-p) in the update, h in the loss, the original noise)."""
    p, base = 0.6, ph.phase_problem(50, 0.7, 0.0, 20)
    lrs, mus = jnp.full(40, 0.3 / 10 ** 0.4), jnp.full(40, 0.5)
    pre = ph.preconditioned(base, p)
    in_update = nqm.NoisyQuadratic(h=base.h ** (1 - p), sigma2=base.sigma2, theta0_mean=base.theta0_mean,
                                   theta0_var=base.theta0_var)
    theta2 = nqm.trajectory(in_update, lrs, mus).theta2
    np.testing.assert_allclose(nqm.rollout(pre, lrs, mus), 0.5 * np.sum(base.h * theta2, axis=-1), rtol=1e-10)
    # Fisher assumption survives: sigma'^2 = s / h'
    np.testing.assert_allclose(pre.sigma2 * pre.h, 0.7, rtol=1e-12)
    np.testing.assert_allclose(ph.preconditioned(base, 1.0).h, 1.0, rtol=1e-12)
    np.testing.assert_allclose(ph.preconditioned(base, 0.0).h, base.h, rtol=0)


def test_greedy_agrees_with_nqm_and_the_paper():
    q = nqm.paper_problem()
    loss, lrs, mus, _ = jax.jit(ph.greedy_final_loss, static_argnums=1)(q, 250)
    ref = nqm.greedy_schedule(q, 250)
    np.testing.assert_allclose(lrs, ref.lrs, rtol=1e-12)
    np.testing.assert_allclose(mus, ref.momenta, rtol=1e-12, atol=1e-15)
    assert float(loss) == pytest.approx(ref.final_loss, rel=1e-12)
    assert float(loss) == pytest.approx(63.86, rel=1e-3)  # ICLR section 2.3; chapter 3


def test_optimized_schedule_is_what_nqm_says_it_achieves():
    q = ph.phase_problem(30, 1.0, 0.25, 20)
    loss, lrs, mus = jax.jit(ph.optimized_final_loss, static_argnums=(1, 2))(q, 80, SMALL)
    assert float(loss) == pytest.approx(float(nqm.rollout(q, lrs, mus)[-1]), rel=1e-10)
    assert np.all(lrs >= 0) and np.all(lrs <= 2 / float(jnp.max(q.h)) * (1 + 1e-12)) and np.all(mus >= 0)


def test_parametric_choice_is_the_argmin_of_the_horizons_loss():
    q = ph.phase_problem(100, 1.0, 0.0, 20)
    losses, alpha, beta = jax.jit(ph.parametric_final_losses, static_argnums=(1, 2, 3))(q, 60, (5, 60), 4)
    a_rel, betas = ph.parametric_grid(4)
    finals = []
    for h in (5, 60):
        hmax = float(jnp.max(q.h))
        curves = [nqm.rollout(q, ph.inverse_time_lrs(a / hmax, b, 60), np.zeros(60)) for a, b in zip(a_rel, betas)]
        i = int(np.argmin([c[h] for c in curves]))
        finals.append(float(curves[i][-1]))
        assert alpha[(5, 60).index(h)] == pytest.approx(float(a_rel[i]) / hmax, rel=1e-12)
    np.testing.assert_allclose(losses, finals, rtol=1e-10)


def test_papers_point_at_full_size_gives_chapter_3s_numbers_and_the_small_diagrams_ratio():
    """n = 1000 (the paper's): greedy 63.86, the optimized schedule below the paper's 4.25 (ICLR section 2.3), ratio
    about 16; the diagram's n = 30 gives the same ratio to 1 %."""
    full = ph._one_jit(nqm.paper_problem(), 250, ph.SHORT_HORIZONS, ph.FitSettings(), 50)
    small = ph._one_jit(ph.phase_problem(200, 1.0, 0.0, 30), 250, ph.SHORT_HORIZONS, ph.FitSettings(), 1)
    assert float(full["greedy"]) == pytest.approx(63.86, rel=1e-3)
    assert 3.5 < float(full["best"]) <= 4.25
    r_full, r_small = float(full["greedy"] / full["best"]), float(small["greedy"] / small["best"])
    assert 14 < r_full < 19
    assert r_small == pytest.approx(r_full, rel=0.01)


def test_zero_noise_greedy_is_optimal_and_noise_breaks_it():
    """The paper's deterministic claim (ICLR section 2.3): without noise greedy loses nothing; with the paper's
    noise on the same problem it does."""
    d = ph.phase_diagram([1.0, 200.0, 1e4], [0.0, 1.0], [0.0], n=20, settings=SMALL)
    assert np.all(ph.works(d.greedy_ratio[..., 0]))
    assert not np.any(ph.works(d.greedy_ratio[0, 1:, 1]))
    assert np.all(d.greedy_ratio >= 1.0)


def test_vmapped_diagram_equals_the_python_loop():
    args = dict(n=10, T=40, horizons=(5,), settings=SMALL)
    d = ph.phase_diagram([3.0, 100.0], [0.0, 0.5], [0.0, 1.0], **args)
    loop = ph.loop_phase_diagram([3.0, 100.0], [0.0, 0.5], [0.0, 1.0], **args)
    for field in ("greedy", "optimized", "parametric", "best", "greedy_bands", "optimized_bands"):
        np.testing.assert_allclose(getattr(d, field), getattr(loop, field), rtol=1e-9)


def test_point_schedules_bands_add_up_and_match_the_diagram():
    pt = ph.point_schedules(200, 1.0, 0.0, n=20, settings=SMALL, T=60)
    d = ph.phase_diagram([200.0], [1.0], [0.0], n=20, T=60, settings=SMALL)
    assert pt["greedy"]["loss"][-1] == pytest.approx(float(d.greedy[0, 0, 0]), rel=1e-9)
    assert pt["optimized"]["loss"][-1] == pytest.approx(float(d.optimized[0, 0, 0]), rel=1e-9)
    assert np.all(pt["greedy"]["high"] + pt["greedy"]["low"] <= pt["greedy"]["loss"] * (1 + 1e-12))


def test_predictor_features_and_fit():
    assert ph.flat_noise_to_signal(200, 1.0) == pytest.approx(1.0 / (0.05 * 10))
    assert ph.effective_condition_number(1e4, 0.5) == pytest.approx(100.0)
    x = np.array([0.1, 0.2, 0.8, 0.9])
    y = np.zeros(4)
    (c0, c1), acc = ph.fit_boundary(x, y, x < 0.5)
    assert acc == 1.0 and 0.2 <= c0 < 0.8
    assert list(ph.predict_works((c0, c1), x, y)) == [True, True, False, False]


@pytest.mark.parametrize("call, match", [
    (lambda: ph.phase_problem(0.5, 1.0, 0.0), "kappa"),
    (lambda: ph.phase_problem(10, -1.0, 0.0), "noise_scale"),
    (lambda: ph.phase_problem(10, 1.0, 1.5), "p"),
    (lambda: ph.phase_problem(10, 1.0, 0.0, 0), "n"),
    (lambda: ph.preconditioned("x", 0.5), "problem"),
    (lambda: ph.phase_diagram([10.0], [1.0], [0.0], T=1), "T"),
    (lambda: ph.phase_diagram([10.0], [1.0], [0.0], horizons=(300,)), "horizons"),
    (lambda: ph.phase_diagram([10.0], [1.0], [0.0], settings=(1, 2)), "settings"),
    (lambda: ph.phase_diagram([10.0], [math.nan], [0.0]), "noise_scales"),
    (lambda: ph.works([1.0], tolerance=0.0), "tolerance"),
    (lambda: ph.fit_boundary([1.0], [1.0, 2.0], [True]), "x, y"),
])
def test_bad_input_names_the_parameter(call, match):
    with pytest.raises(ValueError, match=match):
        call()
