"""A reader of the serving layer as Grafana's DuckDB plugin is one: a pool of connections to one
in-memory DuckDB, each set up by the datasource's initSql when it opens (go-duckdb's connector
hook), queries handed out to them. It needs nothing but duckdb: the tests run it on exactly the
plugin's DuckDB (demo_warehouse.plugin_command).

    python serving_reader.py poll <init_file> <stop_file> <out_file>
        A long-lived connection polling every view: one JSON line per poll (the version seen and
        every view's row count) or per error, until the stop file exists.
    python serving_reader.py query <request.json> <out.pickle>
        request: {"init": sql, "queries": [sql], "connections": n}. n connections open at once
        (a barrier), each runs init, then query i runs on connection i % n. Out: the DuckDB
        version, each connection's init error (None if none), each query's columns, types and
        rows, or its error.
"""

from __future__ import annotations

import json
import pickle
import re
import sys
import threading
import time
from pathlib import Path
from typing import Any

import duckdb


def views(init: str) -> list[str]:
    return re.findall(r"CREATE OR REPLACE TEMP VIEW (\w+) AS", init)


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def poll(init_file: str, stop_file: str, out_file: str) -> None:
    init = Path(init_file).read_text()
    con = duckdb.connect()  # in memory, as the plugin with an empty path
    con.execute(init)
    names = views(init)
    stop = Path(stop_file)
    with open(out_file, "w") as out:
        out.write(json.dumps({"duckdb": duckdb.__version__}) + "\n")
        while not stop.exists():
            try:
                (before,) = con.execute("SELECT version FROM serving_publication").fetchone()
                counts = {v: con.execute(f"SELECT count(*) FROM {v}").fetchone()[0] for v in names}
                (after,) = con.execute("SELECT version FROM serving_publication").fetchone()
                # A flip between two queries: each query read a whole version, but the counts
                # cannot be attributed to one; recorded as such.
                record = {"t": time.time(), "version": after, "counts": counts}
                record["torn"] = before != after
            except Exception as exc:  # every error is a finding: record it and go on
                record = {"t": time.time(), "error": _error(exc)}
            out.write(json.dumps(record) + "\n")
            out.flush()
            time.sleep(0.01)


def query(request_file: str, out_file: str) -> None:
    request = json.loads(Path(request_file).read_text())
    queries: list[str] = request["queries"]
    n: int = request["connections"]
    db = duckdb.connect()
    init_errors: list[str | None] = [None] * n
    results: list[dict[str, Any]] = [{} for _ in queries]
    barrier = threading.Barrier(n)

    def connection(k: int) -> None:
        con = db.cursor()  # a connection of its own to the one database
        barrier.wait()
        try:
            con.execute(request["init"])
        except Exception as exc:
            init_errors[k] = _error(exc)
        for i in range(k, len(queries), n):
            if init_errors[k]:
                results[i] = {"error": f"connection {k} failed its initSql"}
                continue
            try:
                rel = con.sql(queries[i])
                results[i] = {
                    "columns": rel.columns,
                    "types": [str(t) for t in rel.types],
                    "rows": rel.fetchall(),
                }
            except Exception as exc:
                results[i] = {"error": _error(exc)}

    threads = [threading.Thread(target=connection, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    report = {"duckdb": duckdb.__version__, "init_errors": init_errors, "results": results}
    Path(out_file).write_bytes(pickle.dumps(report))


if __name__ == "__main__":
    {"poll": poll, "query": query}[sys.argv[1]](*sys.argv[2:])
