"""A fresh clone on a fresh machine passes the README's test command: nothing outside the
repository, nothing silently skipped, the prerequisites installed by the command itself."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from piper_dagster_tests.factories import REPO_ROOT

CI_RUN = REPO_ROOT / ".ci" / "run"
TESTS = REPO_ROOT / "piper_dagster_tests"


def _quick_start_commands() -> list[str]:
    readme = (REPO_ROOT / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block, "README: the quick start has no command block"
    return [line.split("#", 1)[0].strip() for line in block.group(1).splitlines()]


def test_the_readme_test_command_is_the_ci_script() -> None:
    # One command for a fresh clone and for CI: what passes in CI passes for a new user.
    assert ".ci/run" in _quick_start_commands()
    assert os.access(CI_RUN, os.X_OK)
    script = CI_RUN.read_text()
    assert re.search(r"^uv run pytest -q$", script, re.M), "the whole suite, no -m or -k"
    subprocess.run(["bash", "-n", str(CI_RUN)], check=True)


def test_the_ci_script_installs_what_the_end_to_end_tests_need() -> None:
    # The programs the slow tests drive, and the Debian package .ci/run installs for each.
    script = CI_RUN.read_text()
    needed = {"initdb": "postgresql", "chromium": "chromium"}
    for program, package in needed.items():
        users = [p.name for p in TESTS.glob("test_*.py") if f'"{program}"' in p.read_text()]
        assert users, f"no test drives {program} any more: update this table and .ci/run"
        assert f"command -v {program}" in script and f"need+=({package})" in script, program
    assert "apt-get install" in script


_SKIPS = {"skip", "skipif", "importorskip", "xfail"}


def test_no_test_is_silently_skipped() -> None:
    # A missing prerequisite must fail with the fix (pytest.fail), never skip: a skipped test
    # reads as green in CI.
    found = []
    for path in sorted(TESTS.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Attribute) and node.attr in _SKIPS:
                found.append(f"{path.name}:{node.lineno} {node.attr}")
    assert not found, found


@pytest.mark.slow
def test_a_fresh_clone_alone_passes_a_quick_subset(tmp_path: Path) -> None:
    # The committed tree, cloned into an empty directory: no shared/ folder (nothing) beside it.
    git, uv = shutil.which("git"), shutil.which("uv")
    if git is None or uv is None:
        pytest.fail("git and uv must be on PATH (.ci/run installs uv)")
    clone = tmp_path / "piper"
    subprocess.run([git, "clone", "--quiet", str(REPO_ROOT), str(clone)], check=True, timeout=120)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["piper"]
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(("PIPER_", "VIRTUAL_"))}
    env.pop("DAGSTER_HOME", None)
    env["UV_LINK_MODE"] = "copy"
    proc = subprocess.run(
        [uv, "run", "--frozen", "pytest", "-q", "-p", "no:cacheprovider",
         "piper_dagster_tests/test_settings_docs.py",
         "piper_dagster_tests/test_settings_validation.py",
         "piper_dagster_tests/test_cli_help.py",
         "piper_dagster_tests/test_contract_examples.py",
         "piper_dagster_tests/test_contract_docs.py"],
        cwd=clone, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert " passed" in proc.stdout and "skipped" not in proc.stdout
