"""shb_lib: the computations behind the book *Understanding Short-Horizon Bias in Stochastic Meta-Optimization*.

Every equation of Wu, Ren, Liao & Grosse (ICLR 2018) that the book uses lives once in this package:

- :mod:`shb_lib.nqm` -- the noisy quadratic model: moment recursions, greedy-optimal steps, schedules.
- :mod:`shb_lib.data`, :mod:`shb_lib.mlp`, :mod:`shb_lib.optim` -- MNIST, the 784-100-100-10 network, SGD with momentum.
- :mod:`shb_lib.hypergrad`, :mod:`shb_lib.meta`, :mod:`shb_lib.experiments` -- forward-mode hypergradients,
  offline meta-optimization, loss surfaces and resumable paper-scale runs.
- :mod:`shb_lib.widgets`, :mod:`shb_lib.plotting` -- sliders and the one figure style.
- :mod:`shb_lib.book` -- regenerate the chapters' stored outputs.

Importing the package turns on JAX's 64-bit mode (``jax_enable_x64``): the noisy quadratic is computed exactly in
float64. Code for the network therefore creates its arrays with an explicit ``float32`` dtype.
"""

import jax

jax.config.update("jax_enable_x64", True)

__version__ = "0.1.0"
