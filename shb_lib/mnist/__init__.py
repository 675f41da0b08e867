"""The network half of the paper (ICLR section 3; short version section 3): meta-optimizing the learning-rate
schedule of a 784-100-100-10 network on MNIST.

One concept per module, in the order data flows:

- :mod:`.data` -- MNIST: argument > ``$SHB_DATA_DIR`` > cache > verified download; IDX parsing; SHA-256 checks.
- :mod:`.model` -- the network and its loss (ICLR section 3.2).
- :mod:`.optimizer` -- SGD with momentum under the inverse-time decay; the one training step every loop takes.
- :mod:`.batches` -- mini-batch indices: by epochs (without replacement) or uniform (with replacement).
- :mod:`.hypergrad` -- the offline meta-objective and its forward-mode hypergradient (ICLR Eqs. 8-9).
- :mod:`.training` -- the warm start and the long runs with a chosen schedule (ICLR Fig. 6).
- :mod:`.offline` -- offline SMD (ICLR Algorithm 1).
- :mod:`.surface` -- the meta-objective surface by random search and the authors' kernel interpolation (ICLR
  Fig. 5).
- :mod:`.online` -- online SMD with a 5-step lookahead (ICLR section 3.3, Figs. 7-8).
- :mod:`.experiments` -- book / paper scales, resumable result files, the command line.
- :mod:`.remedies` -- chapter 7's network test (SGD or Adam as the base optimizer).
- :mod:`.findings` -- the book's network findings over seeds and their claims.
- :mod:`.settings` -- the MNIST settings side by side (paper, authors' code, book).

The network computes in ``float32`` whatever JAX's 64-bit mode (every array is created with an explicit dtype).
"""
