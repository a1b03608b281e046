"""The Dagster instance piper runs against: DAGSTER_HOME, set up once with the package's dagster.yaml."""

from __future__ import annotations

import json
import os
from pathlib import Path

from piper_dagster.settings import PACKAGE_ROOT, Settings

# How deploy/dagster.yaml names the home of piper's event log storage (defs/storage.py).
HOME_BY_VARIABLE = "dagster_home:\n      env: DAGSTER_HOME"

# The Dagster UI as an operator's browser reaches it (docker-compose publishes it there; the
# dashboards take it as a variable, so that another host name is one edit away).
DAGSTER_URL = "http://localhost:3000"

INSTANCE_YAML = {
    "sqlite": PACKAGE_ROOT / "deploy" / "dagster.yaml",
    "postgres": PACKAGE_ROOT / "deploy" / "dagster.postgres.yaml",
}
# The code location for `dagster dev` (piper demo, and by hand: README), wherever piper is installed.
WORKSPACE_YAML = PACKAGE_ROOT / "deploy" / "workspace.yaml"


def dagster_home_path(settings: Settings) -> Path:
    """DAGSTER_HOME from the environment, else <data_root>/dagster (nothing created)."""
    return Path(os.environ.get("DAGSTER_HOME") or settings.dagster_home).absolute()


def ensure_dagster_home(settings: Settings) -> Path:
    """DAGSTER_HOME from the environment, else <data_root>/dagster, with the dagster.yaml of
    the configured storage (the file is piper's: rewritten when it differs)."""
    home = dagster_home_path(settings)
    home.mkdir(parents=True, exist_ok=True)
    # The shipped file names the event log's home by the DAGSTER_HOME variable; the copy names
    # this home itself, so that a process opening the instance by its path (a script, a test,
    # `InstanceRef.from_dir`) without DAGSTER_HOME set finds its storage as well.
    wanted = (
        INSTANCE_YAML[settings.dagster.storage]
        .read_text()
        .replace(HOME_BY_VARIABLE, f"dagster_home: {json.dumps(str(home))}")
    )
    target = home / "dagster.yaml"
    if not target.exists() or target.read_text() != wanted:
        target.write_text(wanted)
    os.environ["DAGSTER_HOME"] = str(home)
    return home
