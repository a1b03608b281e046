"""The `piper` CLI with a test probe, for tests that kill or signal a real piper process.

Usage: python -m piper_dagster_tests.piper_child <piper arguments...>
  PIPERTEST_PAUSE=before     the spool step pauses before it opens the warehouse (it holds the
                              `duckdb` pool slot, not the DuckDB lock)
  PIPERTEST_PAUSE=after:N    the spool step pauses right after its N-th batch committed
  PIPERTEST_PAUSE=export:N   the export pauses right after its N-th file was moved into place
  PIPERTEST_PAUSE=query      the spool step runs a DuckDB query that lasts until interrupted
  PIPERTEST_PAUSED=<file>    written (with the pid) when the pause begins
The pause lasts until the process is killed or signalled.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import duckdb

from piper_dagster import cli
from piper_dagster.defs import spool
from piper_dagster.ingest import export


def _pause() -> None:
    Path(os.environ["PIPERTEST_PAUSED"]).write_text(str(os.getpid()))
    while True:
        time.sleep(0.1)


def main() -> None:
    probe = os.environ.get("PIPERTEST_PAUSE", "")
    real_ingest = spool.ingest

    def ingest(*args: Any, **kwargs: Any) -> Any:
        if probe == "before":
            _pause()
        if probe == "query":  # a signal then lands inside DuckDB, not between Python lines
            Path(os.environ["PIPERTEST_PAUSED"]).write_text(str(os.getpid()))
            duckdb.connect().execute("SELECT count(*) FROM range(1000000000000000)").fetchall()
        if probe.startswith("after:"):
            n = int(probe.split(":")[1])

            def after_batch(batch_no: int) -> None:
                if batch_no == n:
                    _pause()

            kwargs["after_batch"] = after_batch
        return real_ingest(*args, **kwargs)

    spool.ingest = ingest  # type: ignore[assignment]
    if probe.startswith("export:"):
        n, moved = int(probe.split(":")[1]), [0]

        class _Os:
            """The export's `os`, pausing after its n-th os.replace (Dagster's own untouched)."""

            def __getattr__(self, name: str) -> Any:
                return getattr(os, name)

            @staticmethod
            def replace(src: Any, dst: Any) -> None:
                os.replace(src, dst)
                moved[0] += 1
                if moved[0] == n:
                    _pause()

        export.os = _Os()  # type: ignore[assignment]
    cli.main()


if __name__ == "__main__":
    main()
