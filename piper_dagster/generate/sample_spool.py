"""Deterministic, realistic sample spools (contract telemetry-v1 §1): demo, tests, benchmarks.

`generate_spool` writes `<root>/<host>/<user>/<YYYY-MM-DD>_<name>.jsonl` files as the studio's
emitters would: artists' DCC sessions on their workstations, the Tractor poller, the storage
auditor; optionally with the damage a real spool shows (`DAMAGE_KINDS`). It returns a
`GenerateSummary` whose counts are exactly what a correct ingest must find.

`piper_dagster.generate.bulk.generate_bulk` writes many clean events fast instead (benchmarks).

Counting conventions of `GenerateSummary`:

- `lines` counts complete lines (terminated by `\\n` or `\\r\\n`), so
  `lines == valid_events + duplicates + sum(invalid_by_reason) + blank_lines + nul_padding_lines`.
  An unterminated last line is not a line: it is counted in `unterminated_tails` only (an ingest
  must wait for its terminator, so it is neither valid nor invalid).
- A line holding NULs and other bytes is classified after NUL removal (a NUL run before an intact
  event is a valid event; a truncated line followed by NULs is `invalid_json`); only a line made of
  NULs alone is a NUL padding line.
- `skewed_events` counts distinct valid events that are clock-skewed (§6, 5 min tolerance) against
  the realistic mtime of their file, even when `mtime="now"` is asked.

Only the standard library and the contract models are used; everything random comes from
`random.Random` streams seeded from `GenerateOptions.seed`, so the same options give byte-identical
files (and identical mtimes when `mtime="realistic"`).
"""

from __future__ import annotations

import random
from pathlib import Path

from piper_dagster.generate.artists import make_artists
from piper_dagster.generate.damager import Damager
from piper_dagster.generate.farm import gen_farm
from piper_dagster.generate.late import gen_late
from piper_dagster.generate.options import DAMAGE_KINDS, REASON_KINDS, GenerateOptions
from piper_dagster.generate.records import SampleSpool
from piper_dagster.generate.sessions import gen_artist
from piper_dagster.generate.skew import clear_day_boundaries, settle_mtimes
from piper_dagster.generate.storage import gen_storage
from piper_dagster.generate.summary import GenerateSummary
from piper_dagster.generate.writer import write_and_count


def generate_spool(root: Path, options: GenerateOptions) -> GenerateSummary:
    """Write a sample spool under `root` and return what a correct ingest must find in it.

    Damage (`options.damage`) is counted per kind in `damage_counts`: reason kinds, `blank` and
    `duplicate` in lines (at least `damage_rate` of the valid events, at least one; at most two
    `line_too_long` lines), `nul_run` in NUL runs (at least three: a truncated line + NULs,
    a NUL-only line, NULs before an intact event), `crlf` and `unterminated` in files (a
    `damage_rate` share of the files, at least one), `late` in valid events dated before their
    file's spool date. `line_too_long` also writes one valid line of exactly MAX_LINE_BYTES bytes
    and `invalid_value` one valid event whose event_id has exactly MAX_EVENT_ID_CHARS characters.
    Files already under `root` with other names are left alone (and not counted).
    """
    root = Path(root)
    damage = frozenset(options.damage)
    spool = SampleSpool()
    artists = make_artists(options)
    if options.events_per_artist_day > 0:
        for artist in artists:
            gen_artist(spool, artist, options)
    if options.farm:
        gen_farm(spool, options, options.artists)
    if options.storage:
        gen_storage(spool, options)
    base_events = sum(len(f.recs) for f in spool.files.values())
    if "late" in damage:
        late_rng = random.Random(f"{options.seed}:late")
        target = max(4, round(options.damage_rate * base_events))
        gen_late(spool, artists, options, late_rng, target)
    if damage and not any(f.recs for f in spool.files.values()):
        raise ValueError("damage needs events: enable artists, farm or storage")
    clear_day_boundaries(spool.files.values())

    damager = Damager(spool, options)
    if "crlf" in damage:
        damager.crlf()
    for kind in REASON_KINDS:
        if kind in damage:
            damager.reasons(kind)
    if "nul_run" in damage:
        damager.nul_runs()
    if "blank" in damage:
        damager.blanks()
    if "unterminated" in damage:
        damager.unterminated()
    settle_mtimes(damager.files, random.Random(f"{options.seed}:mtime"))
    if "duplicate" in damage:
        damager.duplicates()

    summary, late = write_and_count(root, damager.files, options.mtime == "realistic")
    damager.counts["late"] = late
    summary.damage_counts = {k: damager.counts.get(k, 0) for k in DAMAGE_KINDS if k in damage}
    return summary
