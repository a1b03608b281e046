"""Child process of the crash test: run an ingest and SIGKILL itself at a chosen point.

Usage: python -m piper_dagster_tests.crash_child MODE N
  none            run to completion
  in-batch N      die inside the N-th batch's transaction (data written, offsets not committed)
  after-batch N   die right after the N-th batch committed (before the Parquet export)
  in-export N     die after the N-th file of the export was moved into place
"""

from __future__ import annotations

import os
import signal
import sys

from piper_dagster.ingest import batch, export, run
from piper_dagster.settings import load_settings


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def main() -> None:
    mode, n = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 0
    calls = {"count": 0}

    def on_call() -> None:
        calls["count"] += 1
        if calls["count"] == n:
            die()

    after_batch = None
    if mode == "in-batch":
        real_load_sql = batch.load_sql

        def load_sql(name: str) -> str:
            if name == "ingest/upsert_spool_files":
                on_call()
            return real_load_sql(name)

        batch.load_sql = load_sql  # type: ignore[assignment]
    elif mode == "after-batch":
        after_batch = lambda batch_no: on_call()  # noqa: E731
    elif mode == "in-export":
        real_replace = os.replace

        def replace(src: str, dst: str) -> None:
            real_replace(src, dst)
            on_call()

        export.os.replace = replace  # type: ignore[assignment]
    run.ingest(load_settings(), after_batch=after_batch)


if __name__ == "__main__":
    main()
