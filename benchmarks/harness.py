"""What the benchmarks share: their options, a fresh work directory as piper's spool and data
root, and a Dagster run over a range of event dates."""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from datetime import date
from pathlib import Path
from typing import Any


def bench_options(name: str, **sizes: int | str) -> argparse.Namespace:
    """The command line of a benchmark: one option per `sizes` keyword, in order, of its
    default's type (`small_files` is `--small-files`), then `--workdir` (default /tmp/`name`)."""
    parser = argparse.ArgumentParser()
    for key, default in sizes.items():
        parser.add_argument("--" + key.replace("_", "-"), type=type(default), default=default)
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


def dagster_run(defs: Any, instance: Any, selection: list[str], first: date, last: date) -> None:
    """One Dagster run of `selection` (asset names of piper's definitions `defs`, built by the
    caller before it times anything) over the event dates first..last, as operators launch them."""
    import dagster as dg

    from piper_dagster.defs.partitions import range_tags

    assets = list(defs.assets or [])
    run = dg.materialize(
        assets, selection=selection, instance=instance, tags=range_tags(first, last)
    )
    assert run.success
