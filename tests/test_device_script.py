"""``benchmarks/device_paper_scale.sh``, the one script a GPU session runs, end to end on the CPU at toy sizes.

GPU sessions are rare and short, so a script broken since the last one would waste one. This runs every phase
(surfaces, long runs, benchmark part 3, SMD from both betas) with two samples, horizons 3 and 5 and two meta-steps,
and checks the phase log, the result units and the packed tar (about a minute on 2 cores).
"""

import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "device_paper_scale.sh"

pytestmark = pytest.mark.skipif(
    not os.environ.get("SHB_DATA_DIR"),
    reason="SHB_DATA_DIR is not set: the script trains on the real MNIST files",
)


def test_device_script_runs_every_phase_and_packs_its_results(tmp_path):
    out, pack = tmp_path / "out dir", tmp_path / "pack.tar"  # a space: the script must quote its paths
    env = dict(os.environ, PYTHON=sys.executable, OUT=str(out), PACK=str(pack), SAMPLES="2", HORIZONS="5 3",
               CHUNK="2", PARTS="3", SMD_HORIZONS="3", SMD_STEPS="2", DEADLINE="600")
    r = subprocess.run(["bash", str(SCRIPT)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    times = (out / "times.txt").read_text().splitlines()
    phases = [line for line in times if not line.startswith("total")]
    assert len(phases) == 5 and all(line.endswith("exit 0") for line in phases), times
    assert "jax" in (out / "device.txt").read_text()
    assert "speed-up" in (out / "bench_mnist.txt").read_text()
    with tarfile.open(pack) as tar:
        names = {Path(n).name for n in tar.getnames()}
    for stem in ("surface-T3-", "surface-T5-", "long-", "smd-T3-beta0.1-", "smd-T3-beta10-"):
        assert any(n.startswith(stem) and n.endswith(".json") for n in names), (stem, sorted(names))
        assert any(n.startswith(stem) and n.endswith(".npz") for n in names), (stem, sorted(names))
    assert {"times.txt", "bench_mnist.txt", "run.log"} <= names
