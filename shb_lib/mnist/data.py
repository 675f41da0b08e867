"""MNIST, verified: the data set of the paper's network experiments.

:func:`load_mnist` returns the 60000 training and 10000 test images of MNIST as ``float32`` arrays of shape
``(n, 784)`` scaled to ``[0, 1]``, with ``int32`` labels.

Where the files are looked for, in this order:

1. the ``data_dir`` argument of :func:`load_mnist`, if given;
2. else the folder named by the environment variable ``SHB_DATA_DIR``, if set (and not empty);
3. else the per-user cache ``$XDG_CACHE_HOME/shb/mnist`` (default ``~/.cache/shb/mnist``);
4. else, with ``download=True`` (the default), a download into that cache from the public mirrors in
   :data:`MIRRORS`, tried in turn, each request with a timeout of :data:`DOWNLOAD_TIMEOUT` seconds.

A folder named by 1 or 2 is authoritative: it must exist and hold the four files of :data:`FILE_NAMES`, each
either gzipped (``name.gz``) or raw (``name``; the raw file is preferred when both are present); otherwise
:func:`load_mnist` raises instead of falling back to the cache or a download, so that a typo in a path is
reported, not papered over.

Every file is checked before it is used: its IDX header (magic number and dimensions) is parsed, its length
compared with the one the header declares, and the SHA-256 of its decompressed bytes compared with
:data:`SHA256SUMS`. A truncated or corrupted file is never used: in a named folder it raises
:class:`MNISTCorruptError` naming the file and what is wrong; in the cache it is deleted and downloaded again.
Downloads are verified in memory, then written to a temporary file in the cache folder and moved into place
with :func:`os.replace`, so the cache never holds a partial file.

When no folder holds the files and nothing can be downloaded, :class:`MNISTNotFoundError` (a
:class:`FileNotFoundError`) says in one message where it looked, what failed, and how to get the data.

Loaded arrays are kept in memory per source folder (the two most recent), so calling :func:`load_mnist` twice
parses the files once. The arrays returned are therefore shared and **read-only**; call ``.copy()`` on one to
modify it.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import gzip
import hashlib
import io
import os
import struct
import tempfile
import threading
import urllib.error
import urllib.request
import zlib
from pathlib import Path

import numpy as np

__all__ = [
    "DOWNLOAD_TIMEOUT",
    "ENV_VAR",
    "FILE_NAMES",
    "MIRRORS",
    "MNIST",
    "MNISTCorruptError",
    "MNISTNotFoundError",
    "SHA256SUMS",
    "default_cache_dir",
    "load_mnist",
]

#: The environment variable naming a folder that holds the four MNIST files.
ENV_VAR = "SHB_DATA_DIR"

#: SHA-256 of the DECOMPRESSED standard MNIST files (gzip bytes differ between mirrors; these do not).
SHA256SUMS: dict[str, str] = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

#: The four file names (without ``.gz``): train images, train labels, test images, test labels.
FILE_NAMES: tuple[str, ...] = tuple(SHA256SUMS)

#: Mirrors tried in turn; each serves ``<mirror><name>.gz``.
MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)

#: Seconds a download request may block (connecting, or waiting for data) before the next mirror is tried.
DOWNLOAD_TIMEOUT: float = 30.0

# IDX dimensions each file must declare. Magic numbers: 0x0000080N = unsigned bytes, N dimensions.
_SHAPES: dict[str, tuple[int, ...]] = {
    "train-images-idx3-ubyte": (60000, 28, 28),
    "train-labels-idx1-ubyte": (60000,),
    "t10k-images-idx3-ubyte": (10000, 28, 28),
    "t10k-labels-idx1-ubyte": (10000,),
}
_UBYTE = 0x08
_MAX_DOWNLOAD_BYTES = 64 << 20  # the largest .gz is ~10 MB; refuse anything absurd
_MEMO_SIZE = 2  # parsed data sets kept in memory (about 220 MB each)


class MNISTNotFoundError(FileNotFoundError):
    """No folder holds the MNIST files and they could not be downloaded (or a named folder is missing)."""


class MNISTCorruptError(ValueError):
    """An MNIST file is truncated, corrupted or not the expected file; the message names it and the fault."""


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class MNIST:
    """The MNIST data set, pixels scaled to ``[0, 1]``. All arrays are read-only (shared with a memory cache).

    Attributes:
        train_images: ``float32`` array of shape ``(60000, 784)``, values in ``[0, 1]``.
        train_labels: ``int32`` array of shape ``(60000,)``, values in ``0..9``.
        test_images: ``float32`` array of shape ``(10000, 784)``, values in ``[0, 1]``.
        test_labels: ``int32`` array of shape ``(10000,)``, values in ``0..9``.
        source: absolute path of the folder the verified files were read from (provenance).
    """

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    source: str

    def __repr__(self) -> str:
        return (
            f"MNIST(train={self.train_images.shape[0]}, test={self.test_images.shape[0]}, "
            f"source={self.source!r})"
        )


def default_cache_dir() -> Path:
    """The per-user cache folder for MNIST.

    Returns:
        ``$XDG_CACHE_HOME/shb/mnist`` if ``XDG_CACHE_HOME`` is set to an absolute path, else
        ``~/.cache/shb/mnist``. The folder is not created.
    """
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "shb" / "mnist"


# --------------------------------------------------------------------------------------------- checking files


def _decompress(raw: bytes, label: str, limit: int) -> bytes:
    """Gunzip ``raw`` (at most ``limit`` bytes out), turning every failure into an :class:`MNISTCorruptError`."""
    if raw[:2] != b"\x1f\x8b":
        raise MNISTCorruptError(f"{label}: not a gzip file (it starts with {raw[:8]!r}).")
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(raw)) as f:
            return f.read(limit)
    except EOFError:
        raise MNISTCorruptError(
            f"{label}: truncated gzip file ({len(raw)} bytes; the compressed stream ends early)."
        ) from None
    except (OSError, zlib.error) as e:  # gzip.BadGzipFile is an OSError; bad CRC, bad deflate data
        raise MNISTCorruptError(f"{label}: corrupted gzip file ({e}).") from None


def _check(name: str, payload: bytes, label: str, compressed: bool) -> np.ndarray:
    """Verify one file's bytes and return its contents as a ``uint8`` array of the IDX shape.

    Args:
        name: the file's name without ``.gz`` (a key of :data:`SHA256SUMS`).
        payload: the file's bytes as stored (gzipped if ``compressed``).
        label: how to name the file in error messages (its path or URL).
        compressed: whether ``payload`` is gzipped.

    Returns:
        The data as a ``uint8`` array of the shape in the header.

    Raises:
        MNISTCorruptError: bad gzip stream, wrong magic number or dimensions, a length that differs from the
            header's, or a SHA-256 that differs from :data:`SHA256SUMS`.
    """
    shape = _SHAPES[name]
    ndim = len(shape)
    header_len = 4 + 4 * ndim
    expected_len = header_len + int(np.prod(shape))
    data = _decompress(payload, label, expected_len + 1) if compressed else payload
    what = "decompressed " if compressed else ""

    if len(data) < 4:
        raise MNISTCorruptError(f"{label}: truncated: {len(data)} {what}bytes, not even an IDX magic number.")
    magic = struct.unpack(">I", data[:4])[0]
    expected_magic = (_UBYTE << 8) | ndim
    if magic != expected_magic:
        raise MNISTCorruptError(
            f"{label}: wrong IDX magic number 0x{magic:08x}, expected 0x{expected_magic:08x} "
            f"(unsigned bytes, {ndim}-D); this is not the MNIST file {name!r}."
        )
    if len(data) < header_len:
        raise MNISTCorruptError(
            f"{label}: truncated: {len(data)} {what}bytes, shorter than its {header_len}-byte IDX header."
        )
    dims = struct.unpack(f">{ndim}I", data[4:header_len])
    if dims != shape:
        raise MNISTCorruptError(f"{label}: IDX header declares dimensions {dims}, expected {shape} for {name!r}.")
    if len(data) < expected_len:
        raise MNISTCorruptError(
            f"{label}: truncated: {len(data)} {what}bytes, but its header {dims} needs {expected_len}."
        )
    if len(data) > expected_len:
        raise MNISTCorruptError(
            f"{label}: trailing data: {what}length exceeds the {expected_len} bytes its header {dims} declares."
        )
    digest = hashlib.sha256(data).hexdigest()
    if digest != SHA256SUMS[name]:
        raise MNISTCorruptError(
            f"{label}: SHA-256 of the {what}bytes is {digest}, expected {SHA256SUMS[name]}; the file is corrupted."
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header_len).reshape(shape)


def _find(folder: Path) -> tuple[dict[str, Path], list[str]]:
    """The file to read for each name in ``folder`` (raw preferred over ``.gz``), and the names missing."""
    found, missing = {}, []
    for name in FILE_NAMES:
        for candidate in (folder / name, folder / f"{name}.gz"):
            if candidate.is_file():
                found[name] = candidate
                break
        else:
            missing.append(name)
    return found, missing


def _read(name: str, path: Path) -> np.ndarray:
    return _check(name, path.read_bytes(), str(path), compressed=path.suffix == ".gz")


# --------------------------------------------------------------------------------------------- downloading


def _fetch(url: str) -> bytes:
    """The bytes at ``url`` (at most :data:`_MAX_DOWNLOAD_BYTES`), with :data:`DOWNLOAD_TIMEOUT`."""
    request = urllib.request.Request(url, headers={"User-Agent": "shb-lib (MNIST loader)"})
    with urllib.request.urlopen(request, timeout=DOWNLOAD_TIMEOUT) as response:
        payload = response.read(_MAX_DOWNLOAD_BYTES + 1)
    if len(payload) > _MAX_DOWNLOAD_BYTES:
        raise MNISTCorruptError(f"{url}: larger than {_MAX_DOWNLOAD_BYTES} bytes; not an MNIST file.")
    return payload


class _Downloader:
    """Downloads into one cache folder for one :func:`load_mnist` call, remembering what failed.

    A mirror that cannot be reached (refused, unresolvable, timed out) is not tried again for the other files,
    so an offline machine waits at most :data:`DOWNLOAD_TIMEOUT` per mirror, not per mirror and file.
    """

    def __init__(self, cache: Path):
        self.cache = cache
        self.failures: list[str] = []
        self.unreachable: set[str] = set()

    def __call__(self, name: str) -> bool:
        """Download ``name`` into the cache from the first mirror that serves a verified copy.

        The payload is verified in memory, written to a temporary file in the cache folder and moved into
        place with :func:`os.replace`. Each failed attempt is recorded in ``failures``.

        Returns:
            Whether a verified copy is now in the cache.
        """
        for mirror in MIRRORS:
            url = f"{mirror}{name}.gz"
            if mirror in self.unreachable:
                continue
            try:
                payload = _fetch(url)
                _check(name, payload, url, compressed=True)
            except (OSError, MNISTCorruptError) as e:  # URLError, HTTPError and timeouts are OSErrors
                self.failures.append(f"{url}: {_describe(e)}")
                if not isinstance(e, (MNISTCorruptError, urllib.error.HTTPError)):
                    self.unreachable.add(mirror)
                continue
            try:
                self._store(name, payload)
            except OSError as e:
                self.failures.append(f"could not write {name}.gz into {self.cache}: {type(e).__name__}: {e}")
                return False
            return True
        return False

    def _store(self, name: str, payload: bytes) -> None:
        self.cache.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.cache, prefix=f".{name}.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(payload)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.cache / f"{name}.gz")
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        (self.cache / name).unlink(missing_ok=True)  # a stale raw copy would shadow the verified download


def _describe(e: BaseException) -> str:
    if isinstance(e, MNISTCorruptError):
        return str(e).split(": ", 1)[-1]
    if isinstance(e, urllib.error.HTTPError):
        return f"HTTP {e.code} {e.reason}"
    if isinstance(e, urllib.error.URLError):
        return f"{type(e.reason).__name__}: {e.reason}"
    return f"{type(e).__name__}: {e}"


# --------------------------------------------------------------------------------------------- loading

_memo: collections.OrderedDict = collections.OrderedDict()
_memo_lock = threading.Lock()


def _signature(files: dict[str, Path]) -> tuple:
    """Key for the memory cache: the files read, their identity, size and modification time.

    A file replaced or rewritten since it was verified therefore gets verified again.
    """
    sig = []
    for name in FILE_NAMES:
        st = files[name].stat()
        sig.append((str(files[name]), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns))
    return tuple(sig)


def _assemble(arrays: dict[str, np.ndarray], source: Path) -> MNIST:
    def images(a: np.ndarray) -> np.ndarray:
        out = a.reshape(a.shape[0], -1).astype(np.float32) / np.float32(255)
        out.flags.writeable = False
        return out

    def labels(a: np.ndarray) -> np.ndarray:
        out = a.astype(np.int32)
        if out.size and out.max() > 9:
            raise MNISTCorruptError(f"{source}: labels outside 0..9.")
        out.flags.writeable = False
        return out

    return MNIST(
        train_images=images(arrays["train-images-idx3-ubyte"]),
        train_labels=labels(arrays["train-labels-idx1-ubyte"]),
        test_images=images(arrays["t10k-images-idx3-ubyte"]),
        test_labels=labels(arrays["t10k-labels-idx1-ubyte"]),
        source=str(source),
    )


def _from_memo_or(files: dict[str, Path], load) -> MNIST:
    key = _signature(files)
    with _memo_lock:
        if key in _memo:
            _memo.move_to_end(key)
            return _memo[key]
    ds = load()
    with _memo_lock:
        _memo[_signature(files)] = ds  # signature again: the cache path may have replaced files
        while len(_memo) > _MEMO_SIZE:
            _memo.popitem(last=False)
    return ds


def _clear_memory_cache() -> None:
    """Forget the data sets kept in memory (for tests, or to free about 220 MB each)."""
    with _memo_lock:
        _memo.clear()


def _how_to_fix(cache: Path) -> str:
    names = ", ".join(f"{n}.gz" for n in FILE_NAMES)
    return (
        f"To fix: set the environment variable {ENV_VAR} (or pass data_dir=...) to a folder holding the four "
        f"MNIST files {names} (gzipped or not); or connect to the internet and call load_mnist(download=True), "
        f"which downloads them into {cache}."
    )


def _load_named(folder: Path, how: str) -> MNIST:
    cache = default_cache_dir()
    if not folder.exists():
        raise MNISTNotFoundError(f"MNIST: {how} names {str(folder)!r}, which does not exist. {_how_to_fix(cache)}")
    if not folder.is_dir():
        raise MNISTNotFoundError(f"MNIST: {how} names {str(folder)!r}, which is not a folder. {_how_to_fix(cache)}")
    files, missing = _find(folder)
    if missing:
        raise MNISTNotFoundError(
            f"MNIST: the folder {str(folder)!r} (from {how}) lacks "
            f"{', '.join(f'{n}[.gz]' for n in missing)}. {_how_to_fix(cache)}"
        )
    source = folder.resolve()

    def load() -> MNIST:
        return _assemble({name: _read(name, path) for name, path in files.items()}, source)

    return _from_memo_or(files, load)


def _load_cached(download: bool) -> MNIST:
    cache = default_cache_dir()
    downloader = _Downloader(cache)

    def obtain(name: str) -> bool:
        return download and downloader(name)

    def not_found(problems: list[str]) -> MNISTNotFoundError:
        lines = [f"MNIST not found: {ENV_VAR} is not set, and the per-user cache {cache} lacks valid files."]
        lines += [f"  - {p}" for p in problems]
        if download:
            lines += [f"  - download failed: {f}" for f in downloader.failures]
            if not MIRRORS:
                lines.append("  - no download mirrors are configured (shb_lib.mnist.data.MIRRORS is empty).")
        else:
            lines.append("  - download=False, so nothing was downloaded.")
        lines.append(_how_to_fix(cache))
        return MNISTNotFoundError("\n".join(lines))

    files, missing = _find(cache) if cache.is_dir() else ({}, list(FILE_NAMES))
    problems = [f"{cache / n}[.gz]: missing" for n in missing if not obtain(n)]  # tries every missing file
    if problems:
        raise not_found(problems)
    files, _ = _find(cache)
    source = cache.resolve()

    def load() -> MNIST:
        arrays = {}
        for name in FILE_NAMES:
            for path in (cache / name, cache / f"{name}.gz"):  # the raw copy first, as _find does
                if not path.is_file():
                    continue
                try:
                    arrays[name] = _read(name, path)
                    files[name] = path
                    break
                except MNISTCorruptError as e:
                    problems.append(f"{e} (deleted)")
                    path.unlink()
            else:
                if not obtain(name):
                    raise not_found(problems)
                files[name] = cache / f"{name}.gz"
                arrays[name] = _read(name, files[name])
        return _assemble(arrays, source)

    return _from_memo_or(files, load)


def load_mnist(data_dir: str | os.PathLike | None = None, *, download: bool = True) -> MNIST:
    """Load MNIST, verified, with pixels scaled to ``[0, 1]``.

    Looks in ``data_dir``, else ``$SHB_DATA_DIR``, else the per-user cache (:func:`default_cache_dir`), else
    downloads into that cache; see the module docstring. Results are kept in memory per source folder, so a
    second call is free; the arrays are shared and read-only.

    Args:
        data_dir: a folder holding the four MNIST files (gzipped or raw). If given, it alone is used.
        download: whether to download missing or corrupted files into the per-user cache. Only used when
            neither ``data_dir`` nor ``SHB_DATA_DIR`` names a folder.

    Returns:
        An :class:`MNIST` with ``float32`` images of shape ``(n, 784)``, ``int32`` labels, and ``source``, the
        folder the files came from.

    Raises:
        MNISTNotFoundError: ``data_dir`` or ``SHB_DATA_DIR`` names a folder that does not exist or lacks a
            file; or no valid files are in the cache and they could not be downloaded (the message says
            where it looked, what failed and how to get the data).
        MNISTCorruptError: a file in a folder named by ``data_dir`` or ``SHB_DATA_DIR`` is truncated,
            corrupted or not the expected file (the message names it and the fault).
        ValueError: ``data_dir`` is not a path, or ``download`` not a bool.
    """
    if not isinstance(download, (bool, np.bool_)):
        raise ValueError(f"download must be True or False, got {download!r}")
    if data_dir is not None and not isinstance(data_dir, (str, os.PathLike)):
        raise ValueError(f"data_dir must be a path (str or os.PathLike) or None, got {type(data_dir).__name__}")
    if data_dir is not None and str(data_dir) == "":
        raise ValueError("data_dir must name a folder, got the empty string (pass None to use $SHB_DATA_DIR or the "
                         "cache)")
    if data_dir is not None:
        return _load_named(Path(data_dir).expanduser(), "the argument data_dir of load_mnist")
    env = os.environ.get(ENV_VAR, "")
    if env:
        return _load_named(Path(env).expanduser(), f"the environment variable {ENV_VAR}")
    return _load_cached(download)
