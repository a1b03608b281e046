"""The Dagster instance piper runs against: DAGSTER_HOME, set up once with the repo's dagster.yaml."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from piper_dagster.settings import PROJECT_ROOT, Settings

INSTANCE_YAML = PROJECT_ROOT / "dagster.yaml"


def ensure_dagster_home(settings: Settings) -> Path:
    """DAGSTER_HOME from the environment, else <data_root>/dagster; holds a dagster.yaml."""
    home = Path(os.environ.get("DAGSTER_HOME") or settings.dagster_home).absolute()
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        shutil.copyfile(INSTANCE_YAML, home / "dagster.yaml")
    os.environ["DAGSTER_HOME"] = str(home)
    return home
