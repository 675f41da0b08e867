"""Files that are never destroyed: atomic writes, writable output folders, strict JSON, corrupt files named.

Every file the package writes (notebooks, result units, checkpoints, figures) goes through :func:`atomic_write`: the
content is written to a temporary file in the destination's own folder, flushed to disk, then moved over the
destination with :func:`os.replace`. A full disk, a ``SIGINT`` or a ``SIGKILL`` mid-write leaves the old file as it
was (and at worst a ``.<name>.*.tmp`` file beside it, removed on any Python exception).

Reading: :func:`read_json` and :func:`read_npz` turn a truncated or corrupted file into :class:`CorruptFileError`
naming the file; :func:`set_aside` renames such a file out of the way (``<name>.corrupt``, then ``.corrupt-1``, ...)
so that the work can be recomputed without losing the evidence. :func:`check_writable_dir` checks an output folder
before any work starts; :func:`dumps_json` refuses the non-standard ``Infinity``/``NaN`` that :mod:`json` would write.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import pathlib
import tempfile
import warnings

import numpy as np

__all__ = ["CorruptFileError", "CorruptFileWarning", "atomic_write", "atomic_write_text", "atomic_write_bytes",
           "check_writable_dir", "dumps_json", "read_json", "read_npz", "set_aside", "read_npz_or_set_aside",
           "read_unit"]


class CorruptFileWarning(UserWarning):
    """A corrupt result file was found, named, and set aside; the work it held will be recomputed."""


class CorruptFileError(ValueError):
    """A result file is truncated, corrupted or not what its name says; the message names the file."""

    def __init__(self, path, reason: str):
        self.path = pathlib.Path(path)
        super().__init__(f"{self.path}: {reason}")


def atomic_write(path, write, mode: int | None = None) -> pathlib.Path:
    """Write ``path`` atomically: ``write(tmp)`` fills a temporary file (a path string) in the same folder, which is
    then flushed to disk and renamed over ``path``.

    Args:
        path: the destination; its folder must exist (it is not created here).
        write: a function of the temporary file's path that writes the whole content there (to that exact path:
            ``np.savez`` appends ``.npz`` to a name without it, so give it an open file instead).
        mode: permission bits of the new file; default: those of the file it replaces, else ``0o644``
            (``mkstemp`` makes ``0o600`` files, and results are meant to be shared).

    Returns:
        ``path`` as a :class:`pathlib.Path`.

    Raises:
        OSError: from the folder or the disk (full, read-only, ...); ``path`` is then unchanged and the temporary
            file removed.
    """
    path = pathlib.Path(path)
    if mode is None:
        try:
            mode = path.stat().st_mode & 0o7777
        except FileNotFoundError:
            mode = 0o644
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as f:  # what write() wrote is on disk before the rename makes it visible
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
    return path


def atomic_write_text(path, text: str, encoding: str = "utf-8") -> pathlib.Path:
    """:func:`atomic_write` of a string."""
    return atomic_write(path, lambda tmp: pathlib.Path(tmp).write_text(text, encoding=encoding))


def atomic_write_bytes(path, data: bytes) -> pathlib.Path:
    """:func:`atomic_write` of bytes."""
    return atomic_write(path, lambda tmp: pathlib.Path(tmp).write_bytes(data))


def check_writable_dir(path, name: str = "out", probe: bool = True) -> pathlib.Path:
    """Make sure ``path`` is a folder this process can write into, creating it (and its parents) if missing, by
    creating and removing a probe file there; call it before any work whose result goes there. With
    ``probe=False`` only refuse a file in its place (nothing is created: for a folder that may only be read).

    Raises:
        ValueError: naming ``name`` and the path, when it is a file, cannot be created, or is not writable.
    """
    folder = pathlib.Path(path)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{name} must be a folder, but {str(folder)!r} is a file")
    if not probe:
        return folder
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".write-probe.", suffix=".tmp")
        os.close(fd)
        os.remove(probe)
    except OSError as e:
        raise ValueError(f"{name} must be a writable folder, but {str(folder)!r} is not: "
                         f"{type(e).__name__}: {e.strerror or e}") from None
    return folder


def _non_finite(obj, where="") -> str | None:
    """The path (``config.meta_lr``) of the first non-finite float in a JSON-like object, or ``None``."""
    if isinstance(obj, (float, np.floating)):
        return None if math.isfinite(float(obj)) else where or "(the value)"
    if isinstance(obj, dict):
        for k, v in obj.items():
            found = _non_finite(v, f"{where}.{k}" if where else str(k))
            if found:
                return found
    if isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            found = _non_finite(v, f"{where}[{i}]")
            if found:
                return found
    return None


def dumps_json(obj, **kwargs) -> str:
    """``json.dumps`` that refuses ``inf``/``nan`` (standard JSON has neither; Python would write ``Infinity``).

    Raises:
        ValueError: naming where the non-finite value is (``config.meta_lr is inf``).
    """
    where = _non_finite(obj)
    if where is not None:
        raise ValueError(f"{where} is not finite; standard JSON cannot hold it (store it as a string or refuse it "
                         f"earlier)")
    return json.dumps(obj, allow_nan=False, **kwargs)


def _refuse_constant(name):
    raise ValueError(f"non-standard JSON constant {name}")


def read_json(path):
    """The JSON object in ``path``.

    Raises:
        CorruptFileError: the file is not valid (standard) JSON, e.g. truncated; naming the file.
        OSError: it cannot be read.
    """
    path = pathlib.Path(path)
    text = path.read_bytes()
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, UnicodeDecodeError) as e:  # JSONDecodeError is a ValueError
        raise CorruptFileError(path, f"not valid JSON ({len(text)} bytes; {e})") from None


def read_npz(path) -> dict:
    """Every array of the ``.npz`` file ``path``, read in full (so a truncated member is found now, not later).

    Raises:
        CorruptFileError: the file is truncated or corrupted (bad zip, bad member, bad CRC); naming the file.
        OSError: it cannot be read.
    """
    path = pathlib.Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (FileNotFoundError, PermissionError, IsADirectoryError):
        raise
    except Exception as e:  # BadZipFile, zlib.error, EOFError, ValueError, OSError("Failed to interpret ..."), ...
        raise CorruptFileError(path, f"not a readable .npz file ({type(e).__name__}: {e})") from None


def set_aside(path) -> pathlib.Path:
    """Rename a corrupt file to ``<name>.corrupt`` (or ``.corrupt-1``, ``-2``, ... if taken) and return the new
    path: the evidence is kept, and the original name is free for a recomputed file."""
    path = pathlib.Path(path)
    target = path.with_name(path.name + ".corrupt")
    i = 0
    while target.exists():
        i += 1
        target = path.with_name(f"{path.name}.corrupt-{i}")
    os.replace(path, target)
    return target


def _set_aside_and_warn(error: CorruptFileError, paths) -> None:
    """Set ``paths`` aside and warn, naming the corrupt file and where it went (or why it could not be moved: a
    read-only folder; the unit is then recomputed only where it can be written)."""
    moved, failed = [], []
    for p in paths:
        try:
            moved.append(str(set_aside(p)))
        except OSError as e:
            failed.append(f"{p} ({type(e).__name__}: {e.strerror or e})")
    where = f"set aside as {', '.join(moved)}" if moved else ""
    if failed:
        where += ("; " if where else "") + f"could not be set aside: {', '.join(failed)}"
    warnings.warn(f"{error}; {where}; it will be recomputed", CorruptFileWarning, stacklevel=3)


def read_npz_or_set_aside(path, parse=None):
    """The arrays of ``path`` (e.g. a partial checkpoint), or ``None`` if it is missing or corrupt; a corrupt file
    is named in a :class:`CorruptFileWarning` and set aside (:func:`set_aside`), so the caller starts afresh.

    ``parse``, if given, turns the arrays into what is returned; a ``KeyError``, ``ValueError`` or ``TypeError``
    from it (a readable file that lacks what it should hold) counts as corrupt too."""
    path = pathlib.Path(path)
    if not path.exists():
        return None
    try:
        arrays = read_npz(path)
        if parse is None:
            return arrays
        try:
            return parse(arrays)
        except (KeyError, ValueError, TypeError) as e:
            raise CorruptFileError(path, f"does not hold what it should ({type(e).__name__}: {e})") from None
    except CorruptFileError as e:
        _set_aside_and_warn(e, [path])
        return None


def read_unit(npz, js):
    """``(arrays, metadata)`` of a finished result unit (``.npz`` + ``.json``), or ``None`` if either file is
    missing, or if either is corrupt: then both are set aside (:func:`set_aside`) with a :class:`CorruptFileWarning`
    naming the bad file, so that the unit is recomputed instead of every rerun crashing."""
    npz, js = pathlib.Path(npz), pathlib.Path(js)
    if not npz.exists() or not js.exists():
        return None
    try:
        info = read_json(js)
        if not isinstance(info, dict):
            raise CorruptFileError(js, f"holds a {type(info).__name__}, not a unit's metadata object")
        arrays = read_npz(npz)
    except CorruptFileError as e:
        _set_aside_and_warn(e, [p for p in (js, npz) if p.exists()])  # the JSON first: it marks "finished"
        return None
    return arrays, info
