"""Input checks shared by every public function and both command lines.

Each check validates one argument at the public boundary, once, and raises a ``ValueError`` whose message starts
with the parameter's name, then says the allowed range and the value it got::

    alpha_0 must be finite and > 0, got inf
    horizon must be an integer >= 1, got True (a bool)
    images must have 784 features (the input width of w0), got 783

Inner jitted code assumes valid input. Checks of *values* are skipped for traced arrays (inside ``jit``/``vmap``,
where values are unknown); checks of shapes and dtypes run on tracers too, at trace time.

Also here: :class:`DivergedError`, raised by a function that refuses to consume a diverged result (a surface whose
every sample diverged), and :func:`arg_type`, which turns a check into an ``argparse`` type so that a command-line
flag gets the same check and message as the function behind it.
"""

from __future__ import annotations

import argparse
import numbers

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "DivergedError", "is_traced", "check_int", "check_real", "check_positive", "check_nonnegative",
    "check_unit_interval", "positive_1d", "check_bool", "check_choice", "check_key", "check_array", "check_float_dtype",
    "check_same_dtype", "check_mlp_params", "check_dataset", "check_finite_tree", "arg_type", "int_arg",
    "real_arg", "positive_arg",
]


class DivergedError(ValueError):
    """A function was asked to consume a diverged result (e.g. the optimum of a surface whose every sample
    diverged) and refuses instead of returning a number that means nothing."""


def is_traced(x) -> bool:
    """Whether ``x`` is a JAX tracer (its value is unknown: inside ``jit``, ``vmap``, ``grad``)."""
    return isinstance(x, jax.core.Tracer)


def _describe(value) -> str:
    """``repr`` of a value, short for arrays, with its type when that is the problem."""
    if isinstance(value, (bool, np.bool_)):
        return f"{value!r} (a bool)"
    if isinstance(value, str):
        return f"{value!r} (a string)"
    if isinstance(value, (np.ndarray, jax.Array)) and np.ndim(value) > 0:
        return f"an array of shape {tuple(np.shape(value))}"
    if value is None:
        return "None"
    if isinstance(value, (float, np.floating)):
        return f"{float(value)!r}"
    return repr(value)


# ----------------------------------------------------------------------------------------------------------------
# Numbers.


def check_int(name: str, value, low: int | None = None, high: int | None = None) -> int:
    """An integer (Python ``int``, numpy integer or a 0-d integer array; never a bool or a float) in
    ``[low, high]`` (either bound may be ``None``). Returns it as a Python ``int``.

    A traced 0-d integer array passes the type check and skips the range check.
    """
    if low is not None and high is not None:
        allowed = f"an integer in [{low}, {high}]"
    elif low is not None:
        allowed = f"an integer >= {low}"
    elif high is not None:
        allowed = f"an integer <= {high}"
    else:
        allowed = "an integer"
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be {allowed}, got {_describe(value)}")
    if is_traced(value):
        if jnp.ndim(value) != 0 or not jnp.issubdtype(value.dtype, jnp.integer):
            raise ValueError(f"{name} must be {allowed}, got a traced {value.dtype} array of shape {value.shape}")
        return value
    if isinstance(value, numbers.Integral):
        v = int(value)
    elif isinstance(value, (np.ndarray, jax.Array)) and value.ndim == 0 and np.issubdtype(value.dtype, np.integer):
        v = int(value)
    else:
        raise ValueError(f"{name} must be {allowed}, got {_describe(value)}")
    if (low is not None and v < low) or (high is not None and v > high):
        raise ValueError(f"{name} must be {allowed}, got {v!r}")
    return v


def _as_float_array(name: str, value, allowed: str) -> np.ndarray:
    if isinstance(value, (bool, np.bool_, str, bytes)) or value is None:
        raise ValueError(f"{name} must be {allowed}, got {_describe(value)}")
    try:
        x = np.asarray(value)
    except Exception:  # ragged lists, objects numpy cannot hold
        raise ValueError(f"{name} must be {allowed}, got {value!r}") from None
    if x.dtype == bool or x.dtype.kind not in "iuf":
        raise ValueError(f"{name} must be {allowed}, got {_describe(value)} of dtype {x.dtype}")
    return x.astype(np.float64)


def check_real(name: str, value, *, low: float | None = None, high: float | None = None, low_open: bool = False,
               high_open: bool = False, finite: bool = True, scalar: bool = False):
    """A real number, or an array of them, every element finite (unless ``finite=False``) and within the bounds.

    ``low``/``high`` are inclusive unless ``low_open``/``high_open``; ``scalar=True`` refuses arrays with axes.
    Bools, strings and non-numeric arrays are refused. Returns ``value`` unchanged (so valid input is passed on bit
    for bit); traced values are not checked.
    """
    parts = []
    if low is not None and high is not None:
        parts.append(f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}")
    elif low is not None:
        parts.append(f"{'>' if low_open else '>='} {low:g}")
    elif high is not None:
        parts.append(f"{'<' if high_open else '<='} {high:g}")
    allowed = ("finite" + (" and " if parts else "") if finite else "") + " ".join(parts) or "a number"
    if is_traced(value):
        return value
    x = _as_float_array(name, value, allowed)
    if scalar and x.ndim:
        raise ValueError(f"{name} must be a single number ({allowed}), got an array of shape {x.shape}")
    ok = np.ones(x.shape, bool)
    if finite:
        ok &= np.isfinite(x)
    else:
        ok &= ~np.isnan(x)
    if low is not None:
        ok &= (x > low) if low_open else (x >= low)
    if high is not None:
        ok &= (x < high) if high_open else (x <= high)
    if not np.all(ok):
        if x.ndim == 0:
            raise ValueError(f"{name} must be {allowed}, got {float(x)!r}")
        where = tuple(int(i) for i in np.argwhere(~ok)[0])
        index = where[0] if len(where) == 1 else where
        raise ValueError(f"{name} must be {allowed} in every element, got {name}[{index}] = {float(x[where])!r}")
    return value


def check_positive(name: str, value):
    """Finite and ``> 0`` (element-wise for arrays)."""
    return check_real(name, value, low=0.0, low_open=True)


def positive_1d(name: str, value) -> np.ndarray:
    """A finite number ``> 0`` or a 1-D array of them (one per run), as a float64 numpy array of shape ``(n,)``."""
    check_positive(name, value)
    x = np.atleast_1d(np.asarray(value, np.float64))
    if x.ndim != 1:
        raise ValueError(f"{name} must be a scalar or a 1-D array, got shape {x.shape}")
    return x


def check_nonnegative(name: str, value):
    """Finite and ``>= 0`` (element-wise for arrays)."""
    return check_real(name, value, low=0.0)


def check_unit_interval(name: str, value):
    """In ``[0, 1)`` (a momentum; element-wise for arrays)."""
    return check_real(name, value, low=0.0, high=1.0, high_open=True)


def check_bool(name: str, value) -> bool:
    """A bool (Python or numpy); refuses ``0``/``1``, strings and ``None``."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {_describe(value)}")
    return bool(value)


def check_choice(name: str, value, choices) -> object:
    """One of ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}")
    return value


# ----------------------------------------------------------------------------------------------------------------
# Arrays, keys, pytrees.


def check_key(name: str, key):
    """A ``jax.random`` key: a typed key (``jax.random.key(seed)``) of shape ``()`` or a raw ``uint32`` key
    (``jax.random.PRNGKey(seed)``) of shape ``(2,)`` (``(4,)`` for the ``rbg`` implementations). Tracers are
    checked by shape and dtype. Returns ``key``."""
    how = "a jax.random key of shape () or a raw uint32 key of shape (2,) (jax.random.PRNGKey(seed))"
    if not isinstance(key, (jax.Array, np.ndarray)):
        raise ValueError(f"{name} must be {how}, got {_describe(key)}")
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        if key.shape != ():
            raise ValueError(f"{name} must be {how}, got a typed key array of shape {key.shape}")
        return key
    if key.dtype != np.uint32 or key.shape not in ((2,), (4,)):
        raise ValueError(f"{name} must be {how}, got an array of dtype {key.dtype} and shape {key.shape}")
    return key


def check_array(name: str, x, *, ndim: int | None = None, kind: str | None = None, min_len: int | None = None,
                finite: bool = False):
    """An array (anything ``jnp.asarray`` takes) with ``ndim`` axes, dtype kind in ``kind`` (``"f"`` float,
    ``"iu"`` integer, ``"fiu"`` either; never bool or string), at least ``min_len`` rows, and finite values if
    ``finite`` (values of tracers are not checked). Returns ``x`` unchanged."""
    if isinstance(x, (str, bytes, bool, np.bool_)) or x is None:
        raise ValueError(f"{name} must be an array, got {_describe(x)}")
    if not is_traced(x):
        try:
            arr = np.asarray(x)
        except Exception:
            raise ValueError(f"{name} must be an array of numbers, got {type(x).__name__}") from None
        dtype, shape = arr.dtype, arr.shape
    else:
        arr, dtype, shape = None, x.dtype, x.shape
    kinds = {"f": "float", "iu": "integer", "fiu": "numeric"}
    if dtype == bool or dtype.kind not in "fiu" or (kind is not None and dtype.kind not in kind):
        raise ValueError(f"{name} must be a {kinds.get(kind, 'numeric')} array, got dtype {dtype}")
    if ndim is not None and len(shape) != ndim:
        raise ValueError(f"{name} must be a {ndim}-D array, got shape {tuple(shape)}")
    if min_len is not None and (len(shape) == 0 or shape[0] < min_len):
        raise ValueError(f"{name} must have at least {min_len} rows, got shape {tuple(shape)}")
    if finite and arr is not None and dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite; it holds {int(np.sum(~np.isfinite(arr)))} non-finite values")
    return x


def check_float_dtype(name: str, dtype):
    """``float32`` or ``float64`` (the two dtypes the package computes in). Returns the numpy dtype."""
    try:
        d = np.dtype(dtype)
    except TypeError:
        raise ValueError(f"{name} must be float32 or float64, got {dtype!r}") from None
    if d not in (np.float32, np.float64):
        raise ValueError(f"{name} must be float32 or float64, got {d}")
    return d


def check_same_dtype(name: str, tree, dtype, other: str):
    """Every leaf of ``tree`` has ``dtype`` (the dtype of ``other``, named in the message): mixing float32 and
    float64 makes JAX fail deep inside a ``lax.scan``. Python numbers and weakly typed arrays take the dtype of what
    they meet, so they pass. Works on tracers (at trace time)."""
    for leaf in jax.tree.leaves(tree):
        if isinstance(leaf, (int, float)) or getattr(leaf, "weak_type", False):
            continue
        d = jnp.result_type(leaf)
        if d != dtype:
            raise ValueError(f"{name} must have the dtype of {other} ({np.dtype(dtype)}), got {np.dtype(d)}; "
                             f"convert one of them (e.g. jnp.asarray(x, jnp.{np.dtype(dtype)}))")
    return tree


def check_mlp_params(name: str, params) -> tuple[int, int, np.dtype]:
    """MLP parameters ``((W1, b1), (W2, b2), ...)`` as :func:`shb_lib.mnist.model.init_mlp` returns: float matrices and
    vectors whose shapes chain, all of one dtype. Returns ``(input width, number of classes, dtype)``; works on
    tracers (shapes and dtypes only)."""
    how = f"{name} must be MLP parameters ((W1, b1), (W2, b2), ...) as shb_lib.mnist.model.init_mlp returns"
    if not isinstance(params, (tuple, list)) or not params:
        raise ValueError(f"{how}, got {type(params).__name__}")
    dtype, width = None, None
    for i, layer in enumerate(params):
        if not isinstance(layer, (tuple, list)) or len(layer) != 2:
            raise ValueError(f"{how}; layer {i} is not a (W, b) pair")
        w, b = layer
        ws, bs = jnp.shape(w), jnp.shape(b)
        if len(ws) != 2 or bs != ws[1:]:
            raise ValueError(f"{how}; layer {i} has W of shape {ws} and b of shape {bs}")
        if width is not None and ws[0] != width:
            raise ValueError(f"{how}; layer {i} takes {ws[0]} inputs but layer {i - 1} gives {width}")
        for x in (w, b):
            d = jnp.result_type(x)
            if not jnp.issubdtype(d, jnp.floating):
                raise ValueError(f"{how}; layer {i} has dtype {d}, not a float dtype")
            if dtype is not None and d != dtype:
                raise ValueError(f"{name} must have one dtype in every layer, got {dtype} and {d}")
            dtype = d
        width = ws[1]
    return int(jnp.shape(params[0][0])[0]), int(width), np.dtype(dtype)


def check_dataset(images, labels, *, width: int | None = None, n_classes: int | None = None,
                  names=("images", "labels"), finite: bool = True) -> None:
    """A data set: ``images`` a numeric ``(N, D)`` array with ``N >= 1`` (``D = width`` when given, the input
    width of the network), finite; ``labels`` an integer ``(N,)`` array with values in ``[0, n_classes)``. Values
    of tracers are not checked (nor finiteness with ``finite=False``). ``names`` name the two arguments in messages
    (``("test_images", "test_labels")``)."""
    xi, yi = names
    check_array(xi, images, ndim=2, kind="fiu", min_len=1)
    n, d = jnp.shape(images)
    if width is not None and d != width:
        raise ValueError(f"{xi} must have {width} features (the input width of the network), got {d}")
    check_array(yi, labels, ndim=1, kind="iu")
    if jnp.shape(labels) != (n,):
        raise ValueError(f"{yi} must have shape ({n},), one label per row of {xi}, got {jnp.shape(labels)}")
    if finite and not is_traced(images):
        x = np.asarray(images)
        if x.dtype.kind == "f" and not np.isfinite(x).all():
            raise ValueError(f"{xi} must be finite; it holds {int(np.sum(~np.isfinite(x)))} non-finite values")
    if n_classes is not None and not is_traced(labels):
        y = np.asarray(labels)
        if y.size and (y.min() < 0 or y.max() >= n_classes):
            raise ValueError(f"{yi} must be in [0, {n_classes - 1}] (the network has {n_classes} outputs), got "
                             f"values from {y.min()} to {y.max()}")


def check_finite_tree(name: str, tree):
    """Every leaf of a pytree is finite (leaves that are tracers are not checked). Returns ``tree``."""
    for leaf in jax.tree.leaves(tree):
        if not is_traced(leaf):
            check_array(name, leaf, finite=True)
    return tree


# ----------------------------------------------------------------------------------------------------------------
# Command lines.


def arg_type(check, parse=float, what: str = "value"):
    """An ``argparse`` type that parses a string with ``parse`` and then applies ``check(value)`` (one of the checks
    above with the name bound); a ``ValueError`` becomes argparse's "invalid value" message, so ``--meta-lr inf``
    exits with status 2 and says why. Example: ``type=arg_type(lambda v: check_positive("--meta-lr", v))``."""

    def convert(text: str):
        try:
            value = parse(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        try:
            check(value)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
        return value

    convert.__name__ = getattr(parse, "__name__", "value")
    return convert


def int_arg(flag: str, low: int | None = None, high: int | None = None, what: str = "a whole number"):
    """An ``argparse`` type for an integer flag in ``[low, high]`` (:func:`check_int`): ``--horizons 0`` exits with
    "argument --horizons: --horizons must be an integer >= 1, got 0"."""
    return arg_type(lambda v: check_int(flag, v, low, high), parse=int, what=what)


def real_arg(flag: str, **bounds):
    """An ``argparse`` type for a real-number flag, finite and within ``bounds`` (the keywords of
    :func:`check_real`): ``--meta-lr inf`` exits with "argument --meta-lr: --meta-lr must be finite and > 0, got
    inf"."""
    return arg_type(lambda v: check_real(flag, v, scalar=True, **bounds), parse=float, what="a number")


def positive_arg(flag: str):
    """:func:`real_arg` for a finite number ``> 0``."""
    return real_arg(flag, low=0.0, low_open=True)
