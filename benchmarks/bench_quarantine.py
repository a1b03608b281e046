"""Quarantine benchmark (issue #13 item 2): memory bounded by batch_bytes whatever the lines.

    uv run python benchmarks/bench_quarantine.py [--lines 10000000] [--events 1000000]

(a) one file of `--lines` lines `1` (all not_an_object: every line quarantined), ingested by
piper in its own process; (b) for comparison, `--events` clean events in 200 files (what `piper spool
generate --bulk-events` writes) ingested the same way. Prints seconds and peak RSS of each.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

from harness import bench_options, use_fresh_workdir

REPO = Path(__file__).resolve().parent.parent

INGEST = """
import json, resource, time
from piper_dagster.ingest.run import ingest
from piper_dagster.settings import load_settings
t = time.perf_counter()
r = ingest(load_settings(), on_progress=lambda s: None)
seconds = time.perf_counter() - t
ru = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"seconds": round(seconds, 2), "lines": r.lines, "events": r.events,
                  "invalid": r.invalid, "batches": r.batches,
                  "peak_rss_mib": round(ru.ru_maxrss / 1024), "phases": r.metadata()["phase_seconds"]}))
"""


def ingest_in_a_process() -> dict:
    out = subprocess.run(
        [sys.executable, "-c", INGEST], cwd=REPO, env=os.environ, capture_output=True, text=True
    )
    if out.returncode:
        raise SystemExit(out.stderr)
    return json.loads(out.stdout.splitlines()[-1])


def main() -> None:
    opts = bench_options("piper-bench-quarantine", lines=10_000_000, events=1_000_000)
    use_fresh_workdir(opts.workdir, dagster_home=False)
    spool = opts.workdir / "spool"
    path = spool / "ws001" / "alice" / "2026-03-04_ones.jsonl"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"1\n" * opts.lines)
    os.utime(path, (1772600000, 1772600000))
    print("(a) lines `1`:", json.dumps(ingest_in_a_process()))
    use_fresh_workdir(opts.workdir, dagster_home=False)
    from piper_dagster.generate.bulk import generate_bulk  # as bench_ingest.py (--bulk-events)

    generate_bulk(spool, events=opts.events, files=200, start=date(2026, 3, 1))
    print("(b) clean events:", json.dumps(ingest_in_a_process()))


if __name__ == "__main__":
    main()
