"""The noisy quadratic model (NQM) of Wu, Ren, Liao & Grosse (ICLR 2018, section 2 and Appendix A; short version
section 2): exact moment dynamics of SGD with momentum, the greedy-optimal step, and greedy / fixed / optimized
schedules. Everything is float64: call :func:`shb_lib.precision.use_float64` once first (a problem built
without it refuses).

Submodules, one concept each: :mod:`.problem` (the problem), :mod:`.dynamics` (ICLR Theorem 1, losses, Monte Carlo),
:mod:`.greedy` (ICLR Theorem 2), :mod:`.schedules` (fitted schedules, Fig. 1 and Fig. 2 computations).
"""

from .dynamics import (Moments, band_losses, excess_loss, expected_loss, init_moments, monte_carlo_zscores, rollout,
                       sample_paths, simulate, step, trajectory)
from .greedy import OneStepQuadratic, greedy_step, one_step_loss, one_step_quadratic
from .problem import BAND, PAPER_T, NoisyQuadratic, chebyshev_spectrum, paper_problem
from .schedules import (FIG1_2D, MU_MAX, aggressive_vs_conservative, constrained_optimized_schedule,
                        max_feasible_scale, PAPER_ADAM_LR, PAPER_ADAM_STEPS, Schedule, default_lr_max,
                        figure1_schedules,
                        constant_schedule_final_loss, final_excess_loss, final_excess_loss_and_grad,
                        fixed_lr_meta_objective, fixed_schedule,
                        greedy_schedule, optimized_schedule)

__all__ = [
    "chebyshev_spectrum", "NoisyQuadratic", "paper_problem", "PAPER_T", "BAND",
    "Moments", "init_moments", "step", "expected_loss", "excess_loss", "band_losses", "rollout", "trajectory",
    "simulate", "sample_paths", "monte_carlo_zscores",
    "greedy_step", "one_step_quadratic", "one_step_loss", "OneStepQuadratic",
    "Schedule", "greedy_schedule", "fixed_schedule", "optimized_schedule", "figure1_schedules", "default_lr_max",
    "final_excess_loss", "final_excess_loss_and_grad", "constant_schedule_final_loss", "fixed_lr_meta_objective", "MU_MAX", "PAPER_ADAM_LR",
    "PAPER_ADAM_STEPS", "constrained_optimized_schedule", "max_feasible_scale", "aggressive_vs_conservative",
    "FIG1_2D",
]
