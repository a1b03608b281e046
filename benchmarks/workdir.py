"""What the benchmarks share: their options, a fresh work directory as piper's spool and data root."""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path


def bench_options(name: str, **sizes: int) -> argparse.Namespace:
    """The command line of a benchmark: one integer option per `sizes` keyword, in order, with
    its default (`small_files` is `--small-files`), then `--workdir` (default /tmp/`name`)."""
    parser = argparse.ArgumentParser()
    for key, default in sizes.items():
        parser.add_argument("--" + key.replace("_", "-"), type=int, default=default)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp") / name)
    return parser.parse_args()


def use_fresh_workdir(work: Path, *, dagster_home: bool = True) -> None:
    """Empty `work`; point piper's settings at `work/spool` and `work/data` (files settle at once)
    and, with `dagster_home`, Dagster at a new temporary DAGSTER_HOME. Call before importing
    piper's Dagster definitions: they read the settings at import."""
    shutil.rmtree(work, ignore_errors=True)
    os.environ["PIPER_PATHS__RAW_ROOT"] = str(work / "spool")
    os.environ["PIPER_PATHS__DATA_ROOT"] = str(work / "data")
    os.environ["PIPER_INGEST__SETTLE_SECONDS"] = "0"
    if dagster_home:
        os.environ["DAGSTER_HOME"] = tempfile.mkdtemp(prefix="dagster-home-")
