"""shb_lib: the computations behind the book *Understanding Short-Horizon Bias in Stochastic Meta-Optimization*.

Every equation of Wu, Ren, Liao & Grosse (ICLR 2018) that the book uses lives once in this package, in the paper's
two halves and what they share:

- :mod:`shb_lib.nqm` -- the noisy quadratic model: moment recursions, greedy-optimal steps, schedules, phases.
- :mod:`shb_lib.mnist` -- the network half: MNIST, the 784-100-100-10 network, SGD with momentum, batches,
  forward-mode hypergradients, offline and online SMD, loss surfaces, long runs, experiments and findings.
- :mod:`shb_lib.estimators` -- meta-gradient estimators (truncated, ES, PES) on both halves.
- Shared: :mod:`shb_lib.meta_optimizer` (the one meta-optimizer), :mod:`shb_lib.decay` (the decay schedules),
  :mod:`shb_lib.divergence`, :mod:`shb_lib.checks`, :mod:`shb_lib.results_io`, :mod:`shb_lib.precision`.
- Presentation: :mod:`shb_lib.plotting`, :mod:`shb_lib.widgets`, :mod:`shb_lib.explorables`, :mod:`shb_lib.glue`,
  :mod:`shb_lib.book`, :mod:`shb_lib.pdf`.

Importing the package changes no JAX setting. The noisy quadratic needs JAX's 64-bit mode: call
:func:`shb_lib.precision.use_float64` once at the top (the chapters do); the network code creates its arrays in
explicit ``float32``.
"""

__version__ = "0.1.0"
