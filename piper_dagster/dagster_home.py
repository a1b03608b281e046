"""The Dagster instance piper runs against: DAGSTER_HOME, set up once with the repo's dagster.yaml."""

from __future__ import annotations

import os
from pathlib import Path

from piper_dagster.settings import PROJECT_ROOT, Settings

INSTANCE_YAML = {
    "sqlite": PROJECT_ROOT / "dagster.yaml",
    "postgres": PROJECT_ROOT / "deploy" / "dagster.postgres.yaml",
}


def ensure_dagster_home(settings: Settings) -> Path:
    """DAGSTER_HOME from the environment, else <data_root>/dagster, with the dagster.yaml of
    the configured storage (the file is piper's: rewritten when it differs)."""
    home = Path(os.environ.get("DAGSTER_HOME") or settings.dagster_home).absolute()
    home.mkdir(parents=True, exist_ok=True)
    wanted = INSTANCE_YAML[settings.dagster.storage].read_text()
    target = home / "dagster.yaml"
    if not target.exists() or target.read_text() != wanted:
        target.write_text(wanted)
    os.environ["DAGSTER_HOME"] = str(home)
    return home
