"""The runbook's "the contract is behind": change the models, replay, and the quarantine drains.

The models (piper_dagster/contract/models.py) are the one place a contract rule is declared: the
test edits that file alone, in a copy of the package, and runs the real `piper quarantine replay`
on it. A rule restated anywhere else (the vectorized validator's SQL, the reference validator)
would keep rejecting the lines.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from piper_dagster.contract import models
from piper_dagster.contract.models import Reason
from piper_dagster.ingest.run import ingest
from piper_dagster.quarantine import replay
from piper_dagster.settings import Settings
from piper_dagster.warehouse import connect
from piper_dagster_tests.factories import REPO_ROOT, ev, write_spool_file

WIDER = r"^[12]\.[0-9]+$"  # schema_version 2.x joins 1.x


def _edited_checkout(tmp_path: Path) -> Path:
    """A copy of the code with only SCHEMA_VERSION_PATTERN changed in models.py."""
    root = tmp_path / "checkout"
    ignore = shutil.ignore_patterns("__pycache__")
    for part in ("piper_dagster",):  # the package carries its SQL and settings
        shutil.copytree(REPO_ROOT / part, root / part, ignore=ignore)
    path = root / "piper_dagster" / "contract" / "models.py"
    old = f'SCHEMA_VERSION_PATTERN = r"{models.SCHEMA_VERSION_PATTERN}"'
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"models.py no longer declares {old}"
    path.write_text(text.replace(old, f'SCHEMA_VERSION_PATTERN = r"{WIDER}"'), encoding="utf-8")
    return root


def _run(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # Run from the copy (python puts the working directory first on sys.path) with it on
    # PYTHONPATH too: the edited package shadows the installed (editable) one.
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [sys.executable, *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def _state(settings: Settings) -> tuple[int, int, int]:
    with connect(settings.warehouse_path, read_only=True) as con:
        return con.execute(
            "SELECT (SELECT count(*) FROM silver_events WHERE schema_version LIKE '2.%'),"
            " (SELECT count(*) FROM quarantine WHERE reason = 'unsupported_schema_version'),"
            " (SELECT count(*) FROM quarantine)"
        ).fetchone()


@pytest.mark.slow
def test_widening_schema_version_in_the_models_lets_replay_ingest_the_quarantined_lines_once(
    piper_env: Settings, tmp_path: Path
) -> None:
    v2 = [ev(n, schema_version="2.0") for n in range(1, 4)]
    lines = ev(100) + v2[0] + v2[1] + v2[2] + v2[0]  # the last: a re-sent copy of the first
    lines += ev(101, schema_version="3.0")  # still beyond the widened pattern
    write_spool_file(piper_env.raw_root, "ws001/alice/2026-03-04_maya.jsonl", lines)
    ingest(piper_env)
    assert _state(piper_env) == (0, 5, 5)

    # Unchanged models: a replay changes nothing.
    same = replay(piper_env)
    assert same.events == 0 and same.still_invalid == {Reason.UNSUPPORTED_SCHEMA_VERSION: 5}

    root = _edited_checkout(tmp_path)
    probe = _run(
        root,
        "-c",
        "import json, piper_dagster; from piper_dagster.contract.reference import classify_line;"
        f" print(json.dumps([piper_dagster.__file__, classify_line({v2[0].rstrip()!r}).kind]))",
    )
    assert probe.returncode == 0, probe.stderr
    where, kind = json.loads(probe.stdout)
    assert where.startswith(str(root)), "the subprocess must import the edited copy"
    assert kind == "event", "the reference validator must take the pattern from the models"

    first = _run(root, "-m", "piper_dagster.cli", "quarantine", "replay")
    assert first.returncode == 0, first.stdout + first.stderr
    # Three new events; the re-sent copy is a duplicate; 3.0 stays in quarantine.
    assert _state(piper_env) == (3, 1, 1)
    with connect(piper_env.warehouse_path, read_only=True) as con:
        ids = con.execute(
            "SELECT event_id, source_line FROM silver_events WHERE schema_version = '2.0'"
            " ORDER BY source_line"
        ).fetchall()
    assert ids == [("evt-1", 2), ("evt-2", 3), ("evt-3", 4)]

    again = _run(root, "-m", "piper_dagster.cli", "quarantine", "replay")
    assert again.returncode == 0, again.stdout + again.stderr
    assert _state(piper_env) == (3, 1, 1)
