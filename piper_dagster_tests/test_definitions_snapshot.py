"""The code location's shape, compared with a committed snapshot: a change to an asset key, a
dependency, the partitions, a check, a sensor, a schedule or a job is a reviewed diff.

Regenerate after an intended change: UPDATE_DEFINITIONS_SNAPSHOT=1 uv run pytest <this file>.
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import dagster as dg

import piper_dagster
from piper_dagster.definitions import build_definitions
from piper_dagster.settings import Settings

SNAPSHOT = Path(__file__).parent / "data" / "definitions_snapshot.json"


def _partitions(p: dg.PartitionsDefinition | None) -> dict[str, Any] | None:
    if not isinstance(p, dg.TimeWindowPartitionsDefinition):
        return None if p is None else {"type": type(p).__name__}
    return {
        "type": type(p).__name__,
        "start": p.start.isoformat(),
        "cron": p.cron_schedule,
        "timezone": p.timezone,
        "end_offset": p.end_offset,
    }


def shape(defs: dg.Definitions) -> dict[str, Any]:
    """What the snapshot holds: names, edges and policies, not descriptions or metadata."""
    graph = defs.resolve_asset_graph()
    assets = {}
    for key in sorted(graph.get_all_asset_keys()):
        node = graph.get(key)
        assets[key.to_user_string()] = {
            "group": node.group_name,
            "deps": sorted(k.to_user_string() for k in node.parent_keys),
            "partitions": _partitions(node.partitions_def),
            "backfill_policy": str(node.backfill_policy),
            "pool": node.pools and sorted(node.pools),
            "kinds": sorted(node.kinds),
        }
    checks = {}
    for check_key in sorted(graph.asset_check_keys, key=str):
        spec = graph.get_check_spec(check_key)
        checks[f"{check_key.asset_key.to_user_string()}:{check_key.name}"] = {
            "blocking": spec.blocking
        }
    jobs = {}
    for job in sorted(defs.resolve_all_job_defs(), key=lambda j: j.name):
        if job.name.startswith("__"):
            continue  # Dagster's implicit asset job
        layer = job.asset_layer
        jobs[job.name] = {
            "assets": sorted(k.to_user_string() for k in layer.executable_asset_keys),
            "checks": sorted(
                f"{k.asset_key.to_user_string()}:{k.name}"
                for k in layer.asset_graph.asset_check_keys
            ),
        }
    sensors = {
        s.name: {
            "jobs": sorted(t.job_name for t in s.targets),
            "default_status": s.default_status.value,
            "minimum_interval_seconds": s.minimum_interval_seconds,
        }
        for s in sorted(defs.get_repository_def().sensor_defs, key=lambda s: s.name)
    }
    schedules = {
        s.name: {
            "job": s.job_name,
            "cron": s.cron_schedule,
            "timezone": s.execution_timezone,
            "default_status": s.default_status.value,
        }
        for s in sorted(defs.get_repository_def().schedule_defs, key=lambda s: s.name)
    }
    return {
        "assets": assets,
        "checks": checks,
        "jobs": jobs,
        "sensors": sensors,
        "schedules": schedules,
    }


def test_the_definitions_match_the_committed_snapshot(piper_env: Settings) -> None:
    got = shape(build_definitions(piper_env))
    if os.environ.get("UPDATE_DEFINITIONS_SNAPSHOT"):
        SNAPSHOT.write_text(json.dumps(got, indent=2, sort_keys=True) + "\n")
    assert got == json.loads(SNAPSHOT.read_text())


def test_the_definitions_follow_the_settings(piper_env: Settings) -> None:
    changed = piper_env.model_copy(
        update={
            "ingest": piper_env.ingest.model_copy(
                update={"start_date": piper_env.ingest.start_date.replace(day=2)}
            ),
            "checks": piper_env.checks.model_copy(update={"freshness_interval_minutes": 7}),
        }
    )
    got = shape(build_definitions(changed))
    assert got["assets"]["spool_events"]["partitions"]["start"].startswith(
        changed.ingest.start_date.isoformat()
    )
    assert got["sensors"]["freshness_sensor"]["minimum_interval_seconds"] == 7 * 60


def test_importing_any_module_reads_no_settings(tmp_path: Path) -> None:
    # A broken settings file breaks load_settings(), so a module that reads settings at import
    # time fails to import here. Dagster loads the code location later, through defs().
    bad = tmp_path / "piper.toml"
    bad.write_text("not [valid toml")
    names = [m.name for m in pkgutil.walk_packages(piper_dagster.__path__, "piper_dagster.")]
    script = (
        "import importlib, sys\n"
        "from piper_dagster.settings import ConfigError, load_settings\n"
        f"for name in {names!r}:\n"
        "    importlib.import_module(name)\n"
        "try:\n"
        "    load_settings()\n"
        "except ConfigError:\n"
        "    sys.exit(0)\n"
        "sys.exit('the broken settings file was accepted')\n"
    )
    env = {**os.environ, "PIPER_CONFIG": str(bad)}
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert importlib.import_module("piper_dagster.definitions")  # and here, the same modules
