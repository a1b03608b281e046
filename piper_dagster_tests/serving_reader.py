"""A reader of the serving layer as Grafana's DuckDB plugin is one: a long-lived in-memory DuckDB
whose views come from the provisioned initSql, polled in a loop. One JSON line per poll (the
version seen and every view's row count) or per error. Stops when the stop file exists.

    python serving_reader.py <data_root> <stop_file> <out_file>
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import duckdb
import yaml

PROVISIONED = (
    Path(__file__).resolve().parent.parent
    / "grafana"
    / "provisioning"
    / "datasources"
    / "piper.yaml"
)
CONTAINER_DATA_ROOT = "/var/lib/piper"


def main(data_root: str, stop_file: str, out_file: str) -> None:
    (source,) = yaml.safe_load(PROVISIONED.read_text())["datasources"]
    init = source["jsonData"]["initSql"].replace(CONTAINER_DATA_ROOT, data_root)
    views = [
        line.split()[4] for line in init.splitlines() if line.startswith("CREATE OR REPLACE VIEW")
    ]
    con = duckdb.connect()  # in memory, as the plugin with an empty path
    con.execute(init)
    stop = Path(stop_file)
    with open(out_file, "w") as out:
        out.write(json.dumps({"duckdb": duckdb.__version__}) + "\n")
        while not stop.exists():
            try:
                (before,) = con.execute("SELECT version FROM serving_publication").fetchone()
                counts = {v: con.execute(f"SELECT count(*) FROM {v}").fetchone()[0] for v in views}
                (after,) = con.execute("SELECT version FROM serving_publication").fetchone()
                # A flip between two queries: each query read a whole version, but the counts
                # cannot be attributed to one; recorded as such.
                poll = {
                    "t": time.time(),
                    "version": after,
                    "counts": counts,
                    "torn": before != after,
                }
                out.write(json.dumps(poll) + "\n")
            except Exception as exc:  # every error is a finding: record it and go on
                out.write(
                    json.dumps({"t": time.time(), "error": f"{type(exc).__name__}: {exc}"}) + "\n"
                )
            out.flush()
            time.sleep(0.01)


if __name__ == "__main__":
    main(*sys.argv[1:4])
