"""Tests of the MNIST loader :mod:`shb_lib.mnist.data`.

All but one test use tiny synthetic IDX files (the module's table of SHA-256 sums and shapes is patched to
theirs) and fake mirrors (``file://`` folders, or an ``http.server`` on 127.0.0.1), so no test needs the network.
``test_real_mnist`` checks the real files when ``SHB_DATA_DIR`` names a folder holding them.
"""

from __future__ import annotations

import gzip
import hashlib
import http.server
import os
import struct
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shb_lib.mnist import data
from shb_lib.mnist.data import MNIST, MNISTCorruptError, MNISTNotFoundError, load_mnist

N_TRAIN, N_TEST = 6, 3
NAMES = data.FILE_NAMES
TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS = NAMES


def idx(arr: np.ndarray) -> bytes:
    """IDX encoding of a uint8 array: magic 0x0000080N, N big-endian dimensions, the bytes."""
    return struct.pack(f">I{arr.ndim}I", 0x0800 | arr.ndim, *arr.shape) + arr.astype(np.uint8).tobytes()


class Synthetic:
    """Tiny MNIST-shaped files, and helpers to write them gzipped or raw."""

    def __init__(self, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.arrays = {
            TRAIN_IMAGES: rng.integers(0, 256, (N_TRAIN, 28, 28), dtype=np.uint8),
            TRAIN_LABELS: np.array([5, 0, 4, 1, 9, 2], dtype=np.uint8),
            TEST_IMAGES: rng.integers(0, 256, (N_TEST, 28, 28), dtype=np.uint8),
            TEST_LABELS: np.array([7, 2, 1], dtype=np.uint8),
        }
        self.arrays[TRAIN_IMAGES][0, 0, :2] = (0, 255)  # both ends of the pixel range
        self.raw = {name: idx(a) for name, a in self.arrays.items()}
        self.gz = {name: gzip.compress(b, mtime=0) for name, b in self.raw.items()}
        self.sums = {name: hashlib.sha256(b).hexdigest() for name, b in self.raw.items()}
        self.shapes = {name: a.shape for name, a in self.arrays.items()}

    def write(self, folder: Path, fmt: str = "gz", names=NAMES) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        for i, name in enumerate(names):
            gz = fmt == "gz" or (fmt == "mixed" and i % 2 == 0)
            (folder / (f"{name}.gz" if gz else name)).write_bytes(self.gz[name] if gz else self.raw[name])
        return folder


@pytest.fixture
def syn(monkeypatch, tmp_path) -> Synthetic:
    """Synthetic files in force; the cache under tmp_path; no SHB_DATA_DIR; no mirrors; empty memory cache."""
    s = Synthetic()
    monkeypatch.setattr(data, "SHA256SUMS", s.sums)
    monkeypatch.setattr(data, "_SHAPES", s.shapes)
    monkeypatch.setattr(data, "MIRRORS", ())
    monkeypatch.delenv("SHB_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    data._clear_memory_cache()
    yield s
    data._clear_memory_cache()


@pytest.fixture
def cache(syn) -> Path:
    return data.default_cache_dir()


def mirror(syn: Synthetic, folder: Path, payloads=None) -> str:
    """A file:// mirror serving ``payloads`` (default: the good .gz files)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, b in (payloads or syn.gz).items():
        (folder / f"{name}.gz").write_bytes(b)
    return folder.as_uri() + "/"


def check_synthetic(ds: MNIST, syn: Synthetic) -> None:
    assert isinstance(ds, MNIST)
    for images, labels, (iname, lname), n in (
        (ds.train_images, ds.train_labels, (TRAIN_IMAGES, TRAIN_LABELS), N_TRAIN),
        (ds.test_images, ds.test_labels, (TEST_IMAGES, TEST_LABELS), N_TEST),
    ):
        assert images.dtype == np.float32 and images.shape == (n, 784)
        assert labels.dtype == np.int32 and labels.shape == (n,)
        expected = syn.arrays[iname].reshape(n, 784).astype(np.float64) / 255
        np.testing.assert_allclose(images, expected, rtol=0, atol=1e-7)
        np.testing.assert_array_equal(labels, syn.arrays[lname])
        assert not images.flags.writeable and not labels.flags.writeable
    assert ds.train_images.min() == 0.0 and ds.train_images.max() == 1.0


# --------------------------------------------------------------------------------------------- named folders


@pytest.mark.parametrize("fmt", ["gz", "raw", "mixed"])
def test_loads_a_named_folder_gzipped_or_raw(syn, tmp_path, fmt):
    folder = syn.write(tmp_path / "d", fmt)
    ds = load_mnist(folder)
    check_synthetic(ds, syn)
    assert ds.source == str(folder.resolve())
    with pytest.raises(ValueError):
        ds.train_images[0, 0] = 0.5  # read-only, as documented


def test_env_var_is_used_and_the_argument_wins(syn, tmp_path, monkeypatch):
    a = syn.write(tmp_path / "a")
    b = syn.write(tmp_path / "b", "raw")
    monkeypatch.setenv("SHB_DATA_DIR", str(a))
    assert load_mnist().source == str(a.resolve())
    assert load_mnist(b).source == str(b.resolve())
    assert load_mnist(str(b)).source == str(b.resolve())


def test_missing_data_dir_names_the_parameter(syn, tmp_path, monkeypatch):
    with pytest.raises(MNISTNotFoundError, match=r"argument data_dir.*does not exist") as e:
        load_mnist(tmp_path / "nope")
    assert str(tmp_path / "nope") in str(e.value)
    monkeypatch.setenv("SHB_DATA_DIR", str(tmp_path / "typo"))
    with pytest.raises(FileNotFoundError, match=r"SHB_DATA_DIR.*does not exist"):
        load_mnist()
    (tmp_path / "afile").write_text("x")
    with pytest.raises(MNISTNotFoundError, match="not a folder"):
        load_mnist(tmp_path / "afile")


def test_named_folder_lacking_a_file_is_an_error_not_a_fallback(syn, tmp_path, monkeypatch):
    folder = syn.write(tmp_path / "d", names=NAMES[:3])
    mirror_uri = mirror(syn, tmp_path / "m")
    monkeypatch.setattr(data, "MIRRORS", (mirror_uri,))
    with pytest.raises(MNISTNotFoundError, match=NAMES[3]) as e:
        load_mnist(folder)
    assert NAMES[0] not in str(e.value).split("lacks")[1].split(".")[0]
    assert not data.default_cache_dir().exists()  # nothing downloaded behind the user's back


def _truncate_gz(s, n):
    return s.gz[n][: len(s.gz[n]) // 2]


def _flip_raw(s, n):
    b = bytearray(s.raw[n])
    b[-1] ^= 0x01
    return bytes(b)


CORRUPTIONS = {
    # kind: (file name suffix, bytes for file n, expected fragment of the message)
    "truncated gz": (".gz", _truncate_gz, "truncated gzip"),
    "gz cut inside the header": (".gz", lambda s, n: gzip.compress(s.raw[n][:10]), "truncated: 10 decompressed"),
    "truncated raw": ("", lambda s, n: s.raw[n][:-1], "truncated"),
    "empty raw": ("", lambda s, n: b"", "truncated: 0 bytes"),
    "flipped byte raw": ("", _flip_raw, "SHA-256"),
    "flipped byte gz": (".gz", lambda s, n: gzip.compress(_flip_raw(s, n)), "SHA-256"),
    "garbage after gzip magic": (".gz", lambda s, n: b"\x1f\x8b" + b"\x00" * 40, "corrupted gzip"),
    "bad gzip CRC": (".gz", lambda s, n: s.gz[n][:-8] + b"\x00" * 4 + s.gz[n][-4:], "corrupted gzip"),
    "not gzip at all": (".gz", lambda s, n: s.raw[n], "not a gzip file"),
    "wrong magic": ("", lambda s, n: b"\x00\x00\x08\x02" + s.raw[n][4:], "magic"),
    "wrong dimensions": ("", lambda s, n: idx(s.arrays[n][:-1]), "dimensions"),
    "trailing data": ("", lambda s, n: s.raw[n] + b"\x00", "trailing"),
}


@pytest.mark.parametrize("kind", CORRUPTIONS)
@pytest.mark.parametrize("which", [0, 1])
def test_bad_file_in_named_folder_is_reported_never_used_never_deleted(syn, tmp_path, kind, which):
    name = NAMES[which]  # an image file (3-D) and a label file (1-D)
    suffix, make, fragment = CORRUPTIONS[kind]
    folder = syn.write(tmp_path / "d", "gz", names=[n for n in NAMES if n != name])
    bad = folder / f"{name}{suffix}"
    bad.write_bytes(make(syn, name))
    with pytest.raises(MNISTCorruptError, match=fragment) as e:
        load_mnist(folder)
    assert str(bad) in str(e.value)
    assert bad.exists()  # the user's folder is never modified


def test_raw_file_preferred_and_checked_even_if_gz_is_good(syn, tmp_path):
    folder = syn.write(tmp_path / "d", "gz")
    (folder / TRAIN_LABELS).write_bytes(syn.raw[TRAIN_LABELS][:-2])
    with pytest.raises(MNISTCorruptError, match="truncated"):
        load_mnist(folder)


# --------------------------------------------------------------------------------------------- memory cache


def test_second_call_is_served_from_memory_and_changed_files_are_rechecked(syn, tmp_path, monkeypatch):
    folder = syn.write(tmp_path / "d")
    reads = []
    real_read = data._read
    monkeypatch.setattr(data, "_read", lambda name, path: reads.append(name) or real_read(name, path))
    ds = load_mnist(folder)
    assert load_mnist(folder) is ds and load_mnist(str(folder)) is ds
    assert len(reads) == 4
    # Replace a file with a truncated one: the memory cache must not hide it.
    (folder / f"{TEST_LABELS}.gz").write_bytes(_truncate_gz(syn, TEST_LABELS))
    with pytest.raises(MNISTCorruptError):
        load_mnist(folder)
    # And a fresh, good copy is loaded again (a new object: the files changed).
    (folder / f"{TEST_LABELS}.gz").write_bytes(syn.gz[TEST_LABELS])
    ds2 = load_mnist(folder)
    check_synthetic(ds2, syn)
    assert ds2 is not ds


# --------------------------------------------------------------------------------------------- cache & download


def test_default_cache_dir_follows_xdg_then_home(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert data.default_cache_dir() == tmp_path / "x" / "shb" / "mnist"
    for value in ("", "relative/path"):  # the XDG spec: ignore empty or relative values
        monkeypatch.setenv("XDG_CACHE_HOME", value)
        monkeypatch.setenv("HOME", str(tmp_path / "h"))
        assert data.default_cache_dir() == tmp_path / "h" / ".cache" / "shb" / "mnist"


def test_downloads_into_cache_trying_mirrors_in_turn(syn, cache, tmp_path, monkeypatch):
    empty = mirror(syn, tmp_path / "empty", payloads={})  # 404-like: file not found
    good = mirror(syn, tmp_path / "good")
    monkeypatch.setattr(data, "MIRRORS", (empty, good))
    ds = load_mnist()
    check_synthetic(ds, syn)
    assert ds.source == str(cache.resolve())
    assert sorted(p.name for p in cache.iterdir()) == sorted(f"{n}.gz" for n in NAMES)  # no temporary files
    for n in NAMES:
        assert (cache / f"{n}.gz").read_bytes() == syn.gz[n]
    # Offline now: the cache alone serves (after forgetting the memory cache).
    monkeypatch.setattr(data, "MIRRORS", ())
    data._clear_memory_cache()
    assert load_mnist(download=False).source == str(cache.resolve())


def test_existing_cache_is_used_without_network(syn, cache, monkeypatch):
    syn.write(cache, "mixed")
    monkeypatch.setattr(data, "_fetch", lambda url: pytest.fail(f"fetched {url}"))
    monkeypatch.setattr(data, "MIRRORS", ("http://127.0.0.1:9/",))
    check_synthetic(load_mnist(), syn)


def test_corrupt_mirror_copy_is_never_cached(syn, cache, tmp_path, monkeypatch):
    truncated = {n: _truncate_gz(syn, n) for n in NAMES}
    bad = mirror(syn, tmp_path / "bad", truncated)
    good = mirror(syn, tmp_path / "good")
    monkeypatch.setattr(data, "MIRRORS", (bad,))
    with pytest.raises(MNISTNotFoundError, match="truncated gzip") as e:
        load_mnist()
    assert not cache.exists() or not any(cache.iterdir())  # nothing partial or unverified left behind
    assert e.value.__context__ is None and e.value.__cause__ is None  # one message, no chained tracebacks
    monkeypatch.setattr(data, "MIRRORS", (bad, good))
    check_synthetic(load_mnist(), syn)
    assert all((cache / f"{n}.gz").read_bytes() == syn.gz[n] for n in NAMES)


@pytest.mark.parametrize("suffix", [".gz", ""])
def test_bad_file_in_cache_is_deleted_and_downloaded_again(syn, cache, tmp_path, monkeypatch, suffix):
    syn.write(cache, "gz", names=NAMES[:3])
    bad = cache / f"{NAMES[3]}{suffix}"
    bad.write_bytes(_truncate_gz(syn, NAMES[3]) if suffix else syn.raw[NAMES[3]][:-5])
    # Without download: the bad file is deleted, and the error says so.
    with pytest.raises(MNISTNotFoundError, match=r"(?s)truncated.*deleted.*download=False"):
        load_mnist(download=False)
    assert not bad.exists()
    # With a mirror: downloaded again and used.
    bad.write_bytes(_truncate_gz(syn, NAMES[3]) if suffix else syn.raw[NAMES[3]][:-5])
    monkeypatch.setattr(data, "MIRRORS", (mirror(syn, tmp_path / "m"),))
    check_synthetic(load_mnist(), syn)
    assert (cache / f"{NAMES[3]}.gz").read_bytes() == syn.gz[NAMES[3]]
    assert not (cache / NAMES[3]).exists()


def test_offline_with_no_data_gives_one_clear_message(syn, cache, tmp_path, monkeypatch):
    mirrors = ("http://127.0.0.1:9/mnist/", (tmp_path / "nowhere").as_uri() + "/")  # port 9: connection refused
    monkeypatch.setattr(data, "MIRRORS", mirrors)
    with pytest.raises(MNISTNotFoundError) as e:
        load_mnist()
    msg = str(e.value)
    assert isinstance(e.value, FileNotFoundError)
    assert e.value.__context__ is None and e.value.__cause__ is None
    assert msg.count("MNIST not found") == 1
    for needle in ("SHB_DATA_DIR", str(cache), "internet", *NAMES, *mirrors):
        assert needle in msg, needle


def test_download_false_never_touches_the_network(syn, cache, monkeypatch):
    monkeypatch.setattr(data, "_fetch", lambda url: pytest.fail(f"fetched {url}"))
    monkeypatch.setattr(data, "MIRRORS", ("http://127.0.0.1:9/",))
    with pytest.raises(MNISTNotFoundError, match="download=False") as e:
        load_mnist(download=False)
    assert str(cache) in str(e.value) and "SHB_DATA_DIR" in str(e.value)
    assert not cache.exists()


def test_unreachable_mirror_is_tried_once_not_once_per_file(syn, cache, tmp_path, monkeypatch):
    refused = "http://127.0.0.1:9/"  # port 9 (discard): nothing listens, the connection is refused
    good = mirror(syn, tmp_path / "good")
    monkeypatch.setattr(data, "MIRRORS", (refused, good))
    urls = []
    real_fetch = data._fetch
    monkeypatch.setattr(data, "_fetch", lambda url: urls.append(url) or real_fetch(url))
    check_synthetic(load_mnist(), syn)
    assert [u for u in urls if u.startswith(refused)] == [f"{refused}{NAMES[0]}.gz"]
    assert len(urls) == 1 + 4


def test_unwritable_cache_is_reported_in_the_one_message(syn, tmp_path, monkeypatch):
    (tmp_path / "file").write_text("not a folder")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "file"))  # the cache folder cannot be created
    monkeypatch.setattr(data, "MIRRORS", (mirror(syn, tmp_path / "good"),))
    with pytest.raises(MNISTNotFoundError, match="could not write") as e:
        load_mnist()
    assert e.value.__context__ is None


def test_failed_write_leaves_no_partial_file_in_cache(syn, cache, tmp_path, monkeypatch):
    monkeypatch.setattr(data, "MIRRORS", (mirror(syn, tmp_path / "good"),))

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(data.os, "fsync", disk_full)
    with pytest.raises(MNISTNotFoundError, match="No space left"):
        load_mnist()
    assert list(cache.iterdir()) == []


@pytest.fixture
def http_mirror(syn):
    """An HTTP server on 127.0.0.1: /good/ serves the files, /slow/ stalls 1.5 s, anything else is a 404.

    Teardown wakes stalled handlers and joins every handler thread, so none outlives the test (a thread that
    prints a traceback while the main thread compiles code can trip a CPython 3.11 bug in ``ast``).
    """
    stop = threading.Event()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            prefix, _, fname = self.path.rpartition("/")
            name = fname.removesuffix(".gz")
            if prefix == "/slow":
                stop.wait(1.5)
            if prefix in ("/good", "/slow") and name in syn.gz:
                body = syn.gz[name]
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timed out)
                    pass
            else:
                self.send_error(404)

        def log_message(self, *args):
            pass

    class Server(http.server.ThreadingHTTPServer):
        daemon_threads = False
        block_on_close = True  # server_close() joins the handler threads

        def handle_error(self, request, client_address):
            pass

    server = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    stop.set()
    server.shutdown()
    server.server_close()
    thread.join()


def test_http_mirrors_404_and_timeout_fall_through_to_a_good_one(syn, cache, http_mirror, monkeypatch):
    monkeypatch.setattr(data, "DOWNLOAD_TIMEOUT", 0.3)
    monkeypatch.setattr(data, "MIRRORS", (f"{http_mirror}/missing/", f"{http_mirror}/slow/", f"{http_mirror}/good/"))
    t0 = time.monotonic()
    check_synthetic(load_mnist(), syn)
    assert time.monotonic() - t0 < 4 * 1.5  # the slow mirror was abandoned after the timeout, not awaited
    assert load_mnist().source == str(cache.resolve())

    data._clear_memory_cache()
    for p in cache.iterdir():
        p.unlink()
    monkeypatch.setattr(data, "MIRRORS", (f"{http_mirror}/missing/", f"{http_mirror}/slow/"))
    with pytest.raises(MNISTNotFoundError) as e:
        load_mnist()
    assert "HTTP 404" in str(e.value) and "timed out" in str(e.value)


# --------------------------------------------------------------------------------------------- properties


@settings(max_examples=60, deadline=None)
@given(which=st.integers(0, 3), cut=st.floats(0, 1, exclude_max=True), gz=st.booleans())
def test_any_truncation_is_detected(which, cut, gz):
    s = Synthetic()
    name = NAMES[which]
    payload = s.gz[name] if gz else s.raw[name]
    k = int(cut * len(payload))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(data, "SHA256SUMS", s.sums)
        mp.setattr(data, "_SHAPES", s.shapes)
        with pytest.raises(MNISTCorruptError):
            data._check(name, payload[:k], "f", compressed=gz)


@settings(max_examples=60, deadline=None)
@given(which=st.integers(0, 3), pos=st.floats(0, 1, exclude_max=True), bit=st.integers(0, 7), gz=st.booleans())
def test_any_bit_flip_is_detected_or_harmless(which, pos, bit, gz):
    """A flipped bit in a raw file is always caught; in a .gz file it is caught or leaves the data intact
    (a bit of the gzip header's time stamp, say, changes nothing that is used)."""
    s = Synthetic()
    name = NAMES[which]
    payload = bytearray(s.gz[name] if gz else s.raw[name])
    payload[int(pos * len(payload))] ^= 1 << bit
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(data, "SHA256SUMS", s.sums)
        mp.setattr(data, "_SHAPES", s.shapes)
        try:
            out = data._check(name, bytes(payload), "f", compressed=gz)
        except MNISTCorruptError:
            return
    assert gz, "a corrupted raw file was accepted"
    np.testing.assert_array_equal(out, s.arrays[name])


# --------------------------------------------------------------------------------------------- the real data


def test_embedded_sums_match_the_shared_sha256sums_file():
    sums_file = Path(os.environ.get("SHB_DATA_DIR", "/work/shared/data/mnist")) / "SHA256SUMS"
    if not sums_file.is_file():
        pytest.skip(f"no SHA256SUMS file at {sums_file} to compare the embedded sums with")
    listed = dict(reversed(line.split()) for line in sums_file.read_text().splitlines() if line.strip())
    assert listed == data.SHA256SUMS


@pytest.mark.skipif(
    not os.environ.get("SHB_DATA_DIR"),
    reason="SHB_DATA_DIR is not set: the check of the real MNIST files needs a folder holding them",
)
def test_real_mnist():
    data._clear_memory_cache()
    ds = load_mnist()
    assert ds.source == str(Path(os.environ["SHB_DATA_DIR"]).expanduser().resolve())
    assert ds.train_images.shape == (60000, 784) and ds.train_images.dtype == np.float32
    assert ds.test_images.shape == (10000, 784) and ds.test_images.dtype == np.float32
    assert ds.train_labels.shape == (60000,) and ds.train_labels.dtype == np.int32
    assert ds.test_labels.shape == (10000,) and ds.test_labels.dtype == np.int32
    np.testing.assert_array_equal(
        np.bincount(ds.train_labels, minlength=10), [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    )
    np.testing.assert_array_equal(
        np.bincount(ds.test_labels, minlength=10), [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    )
    np.testing.assert_array_equal(ds.train_labels[:10], [5, 0, 4, 1, 9, 2, 1, 3, 1, 4])
    x = ds.train_images.astype(np.float64)
    assert x.min() == 0.0 and x.max() == 1.0
    assert abs(x.mean() - 0.1307) < 5e-5 and abs(x.std() - 0.3081) < 5e-5
    assert load_mnist() is ds  # the second call is served from memory
    print(
        f"\nreal MNIST from {ds.source}: train counts {np.bincount(ds.train_labels).tolist()}, "
        f"test counts {np.bincount(ds.test_labels).tolist()}, first labels {ds.train_labels[:10].tolist()}, "
        f"train mean {x.mean():.4f} std {x.std():.4f}"
    )
