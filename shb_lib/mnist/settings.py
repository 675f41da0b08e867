"""The MNIST settings side by side: the short (workshop) version, the ICLR version, the authors' code and this book.

Each row names a setting and what each source says, with the source's location (``L<n>``: the line of
``short-horizon-bias-iclr2018-full.txt``; ``file.py:<n>``: the authors' TF1 code, github renmengye/meta-optim-public
at commit 7b0c05f). "not stated" means the text gives no value; "(inferred)" marks a reading of the code that was
not run. The book's columns are read from the library's own settings (:data:`shb_lib.mnist.experiments.SCALES`,
:class:`shb_lib.mnist.online.OnlineConfig`, :mod:`shb_lib.meta_optimizer`, :mod:`shb_lib.mnist.model`), so they cannot
drift from what runs; what the committed paper-scale units actually ran is in chapter 4's provenance list.
"""

from __future__ import annotations

from ..plotting.tables import MarkdownTable, number as _g  # %g, six significant digits: "5000", "0.9", "1e-04"


def offline_rows() -> list[tuple[str, ...]]:
    """Chapter 4's table: ``(setting, short, ICLR, authors' code, book scale, paper scale, the book follows)``."""
    from .. import meta_optimizer as mo
    from . import model, optimizer
    from .experiments import COMMON, SCALES

    b, p = SCALES["book"], SCALES["paper"]
    per = lambda v: "/".join(_g(x) for x in v)  # noqa: E731
    a_lo, a_hi = COMMON["alpha_0_range"]
    b_lo, b_hi = COMMON["beta_range"]
    return [
        ("pretraining steps", "1000", "50 (L515)", "50 (offline.py:97)", _g(COMMON["pretrain_steps"]),
         _g(COMMON["pretrain_steps"]), "ICLR, code"),
        ("meta-steps", "2000", "5000 (L517)", "5000 (offline.py:95)", per(b["meta_steps"]), per(p["meta_steps"]),
         "fewer (time); paper scale ran fewer still"),
        ("meta-optimized", "alpha, mu and beta", "alpha_0 and beta, mu = 0.9 (L507-509)",
         "log alpha_eff, log beta; mu = 0.9 (offline.py:593)",
         f"log alpha_eff, log beta; mu = {_g(optimizer.MOMENTUM)}", f"the same; mu = {_g(optimizer.MOMENTUM)}",
         "ICLR, code"),
        ("initial weights, std", "not stated", "0.1 (L514)", "0.05 (models.py:320)", _g(model.INIT_STD),
         _g(model.INIT_STD), "ICLR"),
        ("momentum convention", "not stated", "v <- mu v - alpha g; theta <- theta + v",
         "v <- mu v + g; w <- w - alpha v (optimizers.py:84-90)", "as the code (and optax.sgd)",
         "as the code", "code"),
        ("time constant K", "not stated", "5000 (L509)", "5000 (optimizers.py:389)", _g(b["K"]), _g(p["K"]),
         "ICLR, code; book scale compressed"),
        ("horizons", "100, 1k, 5k, 20k", "100, 1k, 5k, 20k", "the same; SMD only up to 5k (offline.py:808)",
         per(b["horizons"]), per(p["horizons"]), "texts"),
        ("batch size", "not stated", "not stated", "100 (offline.py:119)", _g(COMMON["batch_size"]),
         _g(COMMON["batch_size"]), "code"),
        ("meta-objective batches", "not stated", "not stated", "600 fresh training batches (offline.py:654)",
         f"surface {b['surface_eval_batches']}, SMD {b['smd_eval_batches']}",
         f"surface {p['surface_eval_batches']}, SMD {p['smd_eval_batches']}", "code at paper scale"),
        ("meta-optimizer", "Adam, log space", "Adam, log space, rate not stated (L517)",
         "momentum SGD 0.9, rate 0.01, its state reset every meta-step (inferred; offline.py:608, 668)",
         f"Adam, rate {_g(b['meta_lr'])}", f"Adam, rate {_g(p['meta_lr'])} (runs: see provenance)",
         "texts (Adam)"),
        ("gradient clip, bounds", "not stated", "not stated",
         "clip +-10; alpha_eff in [1e-4, 10], beta in [1e-4, 1e3] (offline.py:616-617)",
         f"clip +-{_g(mo.GRAD_CLIP)}; alpha_eff in [{_g(mo.ALPHA_EFF_RANGE[0])}, {_g(mo.ALPHA_EFF_RANGE[1])}], "
         f"beta in [{_g(mo.BETA_RANGE[0])}, {_g(mo.BETA_RANGE[1])}]", "the same", "code"),
        ("SMD starts", "not stated", "\"multiple random\" (L520)",
         "alpha_0 = 0.01, beta in {0.1, 10} (offline.py:101, 104)",
         f"alpha_0 = {_g(b['init_alpha_0'])}, beta in {{{', '.join(_g(x) for x in b['init_betas'])}}}",
         f"alpha_0 = {_g(p['init_alpha_0'])}, beta in {{{', '.join(_g(x) for x in p['init_betas'])}}}", "code"),
        ("surface samples", "2500, Gaussian interpolation", "2500, Gaussian interpolation (L497)",
         "2500 (offline.py:98); alpha_0 in [1e-3, 0.5], beta in [1e-2, 200], log-uniform; a quartic kernel on a "
         "50 x 50 grid, optimum = mean of the 50 best cells (offline.py:321-420)",
         f"{per(b['n_samples'])}; alpha_0 in [{_g(a_lo)}, {_g(a_hi)}], beta in [{_g(b_lo)}, {_g(b_hi)}]",
         f"{per(p['n_samples'])} (and a 96-sample set)",
         f"ranges: code; choice: geometric mean of the {b['top']} best samples (ours), the code's kernel beside it"),
        ("long runs", "20k steps", "20k steps (L529)",
         "20k steps; alpha_0 multiplied by 0.1 first (offline.py:778)", _g(b["final_steps"]),
         _g(p["final_steps"]), "texts; no factor 0.1 (see below)"),
    ]


def online_rows() -> list[tuple[str, ...]]:
    """Chapter 5's table: ``(setting, ICLR, authors' code, book scale, paper scale, the book follows)`` (the short
    version has no online experiment)."""
    from .. import meta_optimizer as mo
    from . import model
    from .online import CHAPTER_STARTS, OnlineConfig

    b, p = OnlineConfig(), OnlineConfig.paper()
    starts = lambda kind: ", ".join(_g(a) for a in CHAPTER_STARTS[kind])  # noqa: E731
    return [
        ("meta-steps per update", "100 Adam steps every 10 training steps (L549-550)",
         "10 meta-steps every 100 training steps (online.py:72-73; its docstring says 100 and 10)",
         f"{b.meta_steps} every {b.steps_per_update}", f"{p.meta_steps} every {p.steps_per_update}", "ICLR"),
        ("lookahead", "5 steps (Figs. 7-8)", "5 (online.py:119)", _g(b.lookahead), _g(p.lookahead), "both"),
        ("adapted + decayed steps", "25k + 25k (L550-551)", "50k, adapting up to the midpoint (online.py:209, 316)",
         f"{b.adapt_steps} + {b.steps - b.adapt_steps}", f"{p.adapt_steps} + {p.steps - p.adapt_steps}",
         "ICLR; book scale shorter"),
        ("final learning rate", "1e-4 (L552)", "alpha_eff decays to 1e-4 (online.py:208, 350)",
         f"alpha_eff decays to {_g(b.final_lr)}", f"alpha_eff decays to {_g(p.final_lr)}", "code"),
        ("meta-optimizer", "Adam, rate not stated", "Adam, rate 0.01, TF defaults (0.9, 0.999); its state reset "
         "every update (inferred; online.py:255, 338)", f"Adam, rate {_g(b.meta_lr)}, b2 {_g(b.meta_b2)}",
         f"Adam, rate {_g(p.meta_lr)}, b2 {_g(p.meta_b2)}", "book scale: ours (see the note below the table)"),
        ("gradient clip, bounds", "not stated",
         "clip +-10; alpha_eff in [1e-4, 10], 1 - mu in [1e-4, 1] (online.py:264-265)",
         f"clip +-{_g(mo.GRAD_CLIP)}; alpha_eff in [{_g(mo.ALPHA_EFF_RANGE[0])}, {_g(mo.ALPHA_EFF_RANGE[1])}],"
         f" mu in [{_g(mo.MU_RANGE[0])}, {_g(mo.MU_RANGE[1])}]", "the same", "code, nearly"),
        ("initial alpha (mu = 0.9)", "\"widely varying\"", "1e-3, 5e-3, 1e-2, 5e-2, 1e-1 (online.py:632)",
         f"stochastic {starts('stochastic')}; deterministic {starts('deterministic')}", "the same", "code, fewer"),
        ("lookahead batches", "not stated", "one draw of 5 + 5 batches reused by all meta-steps of an update "
         "(online.py:317-333)", "fresh for every meta-step", "fresh for every meta-step", "Algorithm 1 (ICLR)"),
        ("training loss of the curves", "not stated", "600 batches, about the whole training set (online.py:374)",
         f"{b.n_eval_examples} fixed training examples", f"{p.n_eval_examples} training examples",
         "code at paper scale"),
        ("initial weights, std", "0.1 (L546)", "0.05 (models.py:320)", _g(model.INIT_STD), _g(model.INIT_STD), "ICLR"),
    ]


def offline_table():
    """:func:`offline_rows` as a :class:`shb_lib.plotting.tables.MarkdownTable`."""
    return MarkdownTable(["setting", "short version", "ICLR version", "authors' code", "book scale", "paper scale",
                          "the book follows"], offline_rows())


def online_table():
    """:func:`online_rows` as a :class:`shb_lib.plotting.tables.MarkdownTable`."""
    return MarkdownTable(["setting", "ICLR version", "authors' code", "book scale", "paper scale",
                          "the book follows"], online_rows())


__all__ = ["offline_rows", "offline_table", "online_rows", "online_table"]
