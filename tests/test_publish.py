"""Publishing (issue 15 item 6): the GitHub Actions workflow ``.github/workflows/book.yml``.

* its syntax is valid against the GitHub workflow schema bundled with check-jsonschema (a pinned PyPI package; the
  schema ships in the wheel, so the check needs no network), and a broken workflow is rejected by the same check;
* it runs the README's test command and the README's book command, both taken from README.md between their markers
  at run time (as .ci/run does), so they cannot drift apart;
* it publishes ``_build/html`` to GitHub Pages only on a push to main, after the tests passed, with the permissions
  Pages needs;
* the repository URL of the launch buttons is set in one place, ``_config.yml`` ``repository.url``: the workflow
  reads it from there (and warns when it differs from the repository it runs in); no other file of the repository
  names a GitHub repository except the chapters' Colab cell, which ``shb_lib.book`` writes from it.
"""

from __future__ import annotations

import pathlib
import re
import shutil
import subprocess
import sys

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "book.yml"


def _check_jsonschema(path: pathlib.Path) -> subprocess.CompletedProcess:
    exe = pathlib.Path(sys.executable).parent / "check-jsonschema"
    if not exe.exists():
        found = shutil.which("check-jsonschema")
        if found is None:
            pytest.fail("check-jsonschema is not installed (it is pinned in requirements.txt)")
        exe = pathlib.Path(found)
    return subprocess.run([str(exe), "--builtin-schema", "vendor.github-workflows", str(path)],
                          capture_output=True, text=True, timeout=120)


def _workflow() -> dict:
    data = yaml.safe_load(WORKFLOW.read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as True
    return data


def test_workflow_is_valid():
    proc = _check_jsonschema(WORKFLOW)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("breakage", [
    ("runs-on: ubuntu-24.04\n    timeout-minutes: 90", "timeout-minutes: 90"),  # a job without runs-on
    ("  push:\n", "  pushed:\n"),  # an event that does not exist
    ("      - uses: actions/checkout@v4\n", "      - usess: actions/checkout@v4\n"),  # a misspelt step key
])
def test_broken_workflow_is_rejected(tmp_path, breakage):
    old, new = breakage
    text = WORKFLOW.read_text()
    assert old in text
    broken = tmp_path / "book.yml"
    broken.write_text(text.replace(old, new, 1))
    assert _check_jsonschema(broken).returncode != 0


def _readme_command(marker: str) -> str:
    readme = (ROOT / "README.md").read_text()
    m = re.search(rf"<!-- {marker}:start -->\s*```\s*\n(.*?)\n```\s*<!-- {marker}:end -->", readme, re.S)
    assert m, f"README.md has no {marker} block"
    return m.group(1).strip()


def test_workflow_runs_the_readmes_commands():
    wf = _workflow()
    steps = [s.get("run", "") for s in wf["jobs"]["test"]["steps"]]
    assert any("test-command:start" in r and 'bash -c "$cmd"' in r for r in steps)
    publish = [s.get("run", "") for s in wf["jobs"]["publish"]["steps"]]
    assert any("book-command:start" in r and 'bash -c "$cmd"' in r for r in publish)
    # the extraction the workflow uses gives the README's commands
    for marker in ("test-command", "book-command"):
        script = (f"awk '/<!-- {marker}:start -->/{{f=1;next}} /<!-- {marker}:end -->/{{f=0}} f && !/^```/' "
                  "README.md")
        got = subprocess.run(["bash", "-c", script], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        assert got == _readme_command(marker)
    assert wf["jobs"]["test"]["env"]["SHB_REQUIRE_BROWSER"] == "1"


def test_workflow_publishes_main_to_pages():
    wf = _workflow()
    assert "push" in wf["on"]
    job = wf["jobs"]["publish"]
    assert job["needs"] == "test"
    assert "github.ref == 'refs/heads/main'" in job["if"] and "push" in job["if"]
    assert job["permissions"] == {"contents": "read", "pages": "write", "id-token": "write"}
    uses = [s.get("uses", "") for s in job["steps"]]
    assert any(u.startswith("actions/upload-pages-artifact@") for u in uses)
    assert any(u.startswith("actions/deploy-pages@") for u in uses)
    upload = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/upload-pages-artifact@"))
    assert upload["with"]["path"] == "_build/html"


def test_repository_url_is_set_in_one_place():
    """``repository.url`` in _config.yml is the only place that names the repository: the workflow reads it from
    there, and no tracked text file names a GitHub repository except the chapters' Colab cell (which
    ``shb_lib.book.ensure_launch_cell`` writes from it, and tests/test_notebooks.py checks)."""
    from shb_lib.book import repository_url

    url = repository_url()
    assert re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", url), url
    step = next(s["run"] for s in _workflow()["jobs"]["publish"]["steps"] if s.get("name", "").startswith("Repository"))
    assert "_config.yml" in step and "github.repository" in step
    # the workflow's own reading of _config.yml finds the URL
    line = re.search(r"configured=\$\(python3 -c \"(.*)\"\)", step).group(1)
    got = subprocess.run([sys.executable, "-c", line.replace('\\"', '"')], cwd=ROOT, capture_output=True,
                         text=True).stdout.strip()
    assert got == url
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    others = []
    for rel in tracked:
        if rel == "_config.yml" or not rel.endswith((".py", ".md", ".yml", ".yaml", ".toml", ".cfg", ".txt", ".sh")):
            continue
        text = (ROOT / rel).read_text(encoding="utf-8", errors="replace")
        if url in text:
            others.append(rel)
    assert not others, f"files that name the repository URL themselves (read _config.yml instead): {others}"
