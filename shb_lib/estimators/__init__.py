"""Estimators of the long-horizon meta-gradient, compared where the exact answer is known ("Beyond the paper").

By concern:

- :mod:`.tasks` -- the schedules ``alpha_t = schedule(phi, t)``, the window function (:class:`UnrolledTask`) of a
  noisy-quadratic run (:func:`nqm_task`) and of a network run (:func:`mnist_task`), sampled objectives, and the
  package's shared input checks.
- :mod:`.references` -- exact answers on the noisy quadratic: the objective, its gradient, the exact mean of the
  truncated estimator, the ES-smoothed gradient, stationary points.
- :mod:`.gradients` -- the sampled estimators: truncated backpropagation, ES, truncated ES, persistent ES.
- :mod:`.statistics` -- bias and variance, window sweeps, meta-optimization with an estimator
  (:mod:`shb_lib.meta_optimizer`), Polyak averages.

The public names of the four modules are available here (``shb_lib.estimators.truncated_gradient``).
"""

from .gradients import WINDOWED, es_gradient, pes_gradient, tes_gradient, truncated_gradient, windowed_estimator
from .references import (exact_gradient, exact_objective, expected_truncated_gradient, objective_grid,
                         smoothed_exact_gradient, stationary_point)
from .statistics import (EstimatorStats, estimator_statistics, meta_optimize, polyak_average, reference_statistics,
                         sweep_windows)
from .tasks import (DECAY_TIME_CONST, UnrolledTask, constant_schedule, inverse_time_schedule, mnist_task, nqm_task,
                    objective_samples, sampled_loss, sampled_objective, sampled_sgd_step, schedule_values,
                    small_problem)

__all__ = [
    "constant_schedule", "inverse_time_schedule", "schedule_values", "DECAY_TIME_CONST", "small_problem",
    "UnrolledTask", "sampled_sgd_step", "sampled_loss", "nqm_task", "mnist_task", "sampled_objective",
    "objective_samples",
    "exact_objective", "exact_gradient", "expected_truncated_gradient", "smoothed_exact_gradient",
    "stationary_point", "objective_grid",
    "truncated_gradient", "es_gradient", "tes_gradient", "pes_gradient", "WINDOWED", "windowed_estimator",
    "EstimatorStats", "estimator_statistics", "reference_statistics", "sweep_windows", "meta_optimize",
    "polyak_average",
]
