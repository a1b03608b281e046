"""Issue #13's fault-injection matrix (benchmarks/fault_matrix.py, docs/design.md "Fault-injection
matrix"): every attack on the spool, the warehouse and the disk, and random kill -9 / SIGTERM in
the ingest, export, silver and gold phases, each against an uninterrupted reference run. Real
`piper` processes, real DuckDB files, a real tmpfs (root)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from piper_dagster_tests.factories import REPO_ROOT

pytestmark = pytest.mark.slow


def test_every_attack_of_the_fault_matrix_ends_as_the_reference_run_does(tmp_path: Path) -> None:
    report = tmp_path / "matrix.json"
    # The script's defaults (two seeds of random kills), its rows two at a time.
    run = subprocess.run(
        [
            sys.executable,
            str(REPO_ROOT / "benchmarks" / "fault_matrix.py"),
            "--workdir",
            str(tmp_path / "matrix"),
            "--jobs",
            "2",
            "--json",
            str(report),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert report.exists(), run.stdout[-3000:] + run.stderr[-3000:]
    rows = json.loads(report.read_text())["rows"]
    failed = [f"{r['name']}: {r['observed']}" for r in rows if not r["ok"]]
    assert not failed, "\n".join(failed)
    assert run.returncode == 0 and len(rows) >= 25, run.stdout[-3000:]
