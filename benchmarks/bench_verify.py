"""What verifying the consumed bytes of spool files costs (issue #13 item 4).

    uv run python benchmarks/bench_verify.py [--hash-mb 100] [--grown-mb 4] [--ticks 5]
                                             [--workdir /tmp/bench_verify]

(1) The candidate hashes over a 100 MB file (read from the page cache in 8 MiB reads, as the
    prefix re-hash does): md5, sha1, blake2b (hashlib) and xxh3-128 (xxhash), MB/s.
(2) A steady-state tick: a spool file of `grown-mb` MB already ingested grows by one line; the
    next ingest re-hashes its prefix to verify it. Median seconds of the whole ingest, and of the
    verification alone (hash_prefix over the prefix), over `ticks` ticks.
(3) A fresh ingest's hashing: the reader's hash feeding over the bytes of (2), alone.
"""

from __future__ import annotations

import hashlib
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import xxhash
from harness import bench_options, use_fresh_workdir


def _hash_file(path: Path, new: Callable[[], Any]) -> float:
    buf = bytearray(8 << 20)
    view = memoryview(buf)
    started = time.perf_counter()
    h = new()
    with open(path, "rb") as f:
        while n := f.readinto(view):
            h.update(view[:n])
    h.hexdigest()
    return time.perf_counter() - started


def main() -> None:
    opts = bench_options("bench_verify", hash_mb=100, grown_mb=4, ticks=5)
    use_fresh_workdir(opts.workdir, dagster_home=False)
    from piper_dagster.ingest.run import ingest
    from piper_dagster.settings import load_settings
    from piper_dagster.spool.fingerprint import ConsumedHasher, hash_prefix

    opts.workdir.mkdir(parents=True)
    big = opts.workdir / "random.bin"
    with open(big, "wb") as f:
        for _ in range(opts.hash_mb):
            f.write(os.urandom(1 << 20))
    print(f"(1) hashes over {opts.hash_mb} MiB (page cache), best of 3:")
    candidates = {
        "md5": hashlib.md5,
        "sha1": hashlib.sha1,
        "blake2b": hashlib.blake2b,
        "xxh3_128": xxhash.xxh3_128,
    }
    for name, new in candidates.items():
        best = min(_hash_file(big, new) for _ in range(3))
        print(f"    {name:9} {best:6.3f} s  {opts.hash_mb * 1.048576 / best:8.0f} MB/s")
    big.unlink()

    path = opts.workdir / "spool" / "ws001" / "alice" / "2026-03-04_grown.jsonl"
    path.parent.mkdir(parents=True)
    settings = load_settings()
    line = (
        b'{"schema_version": "1.0", "event_id": "evt-%09d", "event_type": "dcc.launch", "ts": '
        b'"2026-03-04T10:00:00Z", "host": "ws001", "user": "alice", "payload": {"status": '
        b'"success", "duration_ms": 1, "dcc": "maya"}}\n'
    )
    n = opts.grown_mb * 1_000_000 // len(line % 0)
    with open(path, "wb") as f:
        f.write(b"".join(line % i for i in range(n)))
    ingest(settings, on_progress=lambda s: None)
    ticks, verify = [], []
    for t in range(opts.ticks):
        with open(path, "ab") as f:
            f.write(line % (n + t))
        started = time.perf_counter()
        r = ingest(settings, on_progress=lambda s: None)
        ticks.append(time.perf_counter() - started)
        assert (r.events, r.anomalies) == (1, []), r.metadata()
        with open(path, "rb") as f:
            started = time.perf_counter()
            hash_prefix(f, path.stat().st_size)
            verify.append(time.perf_counter() - started)
    size = path.stat().st_size / 1e6
    print(
        f"(2) steady-state tick, a {size:.1f} MB file grown by one line, median of {opts.ticks}:"
        f" ingest {statistics.median(ticks):.3f} s, of which verifying the prefix"
        f" {statistics.median(verify) * 1e3:.1f} ms"
    )
    data = path.read_bytes()
    started = time.perf_counter()
    h = ConsumedHasher()
    for i in range(0, len(data), 1 << 20):  # the reader feeds whole pieces (batch_bytes)
        h.update(memoryview(data)[i : i + (1 << 20)])
        h.fingerprint()
    print(
        f"(3) a fresh ingest's hash feeding over {size:.1f} MB:"
        f" {(time.perf_counter() - started) * 1e3:.1f} ms"
    )


if __name__ == "__main__":
    sys.exit(main())
