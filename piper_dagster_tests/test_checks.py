"""The four pipeline checks on generated spools that pass, warn and fail (real DuckDB files)."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, timedelta

import pytest

from piper_dagster.checks import (
    CLOCK_SKEW,
    FRESHNESS,
    INVALID_RATE,
    VOLUME,
    Status,
    evaluate,
    grade,
    record,
)
from piper_dagster.contract import EVENT_TYPES
from piper_dagster.contract.families import FAMILIES, FAMILY_OF
from piper_dagster.generate.options import GenerateOptions
from piper_dagster.generate.sample_spool import generate_spool
from piper_dagster.generate.studio import FARM_HOST, STORAGE_HOST
from piper_dagster.ingest.run import ingest
from piper_dagster.settings import Settings
from piper_dagster.warehouse import connect

START = date(2026, 3, 2)  # a Monday
LATER = datetime(2026, 6, 1, tzinfo=UTC)


def _spool(settings: Settings, **options) -> None:
    generate_spool(settings.raw_root, GenerateOptions(start=START, **options))
    ingest(settings)


def _run(settings: Settings, check: str, first: date, last: date, now: datetime = LATER):
    with connect(settings.warehouse_path, read_only=True) as con:
        return evaluate(con, settings.checks, first, last, checks=(check,), now=now)


def test_every_event_type_has_one_source_family() -> None:
    assert set(FAMILY_OF) == set(EVENT_TYPES)
    assert set(FAMILY_OF.values()) == set(FAMILIES)
    assert FAMILY_OF["tractor.farm.snapshot"] == "farm"
    assert FAMILY_OF["storage.scan.bucket"] == "storage"
    assert FAMILY_OF["publish.anim.usd"] == FAMILY_OF["dcc.launch"] == "artists"


def test_grade() -> None:
    assert grade(0.005, 0.01, 0.05) == Status.PASS
    assert grade(0.02, 0.01, 0.05) == Status.WARN
    assert grade(0.06, 0.01, 0.05) == Status.FAIL
    assert grade(0.3, 0.5, 0.2, lower_is_worse=True) == Status.WARN
    assert grade(0.1, 0.5, 0.2, lower_is_worse=True) == Status.FAIL
    assert grade(None, 0.01, 0.05) == Status.SKIP  # could not judge: not a PASS


@pytest.mark.parametrize(
    ("damage", "rate", "expected"),
    [
        (frozenset(), 0.02, Status.PASS),
        (frozenset({"invalid_json"}), 0.004, Status.PASS),  # some garbage, under 1 %
        (frozenset({"invalid_json"}), 0.03, Status.WARN),
        (frozenset({"invalid_json", "wrong_type", "missing_field"}), 0.05, Status.FAIL),
    ],
)
def test_invalid_rate(piper_env: Settings, damage, rate, expected) -> None:
    _spool(piper_env, days=2, artists=6, damage=damage, damage_rate=rate)
    outcomes = _run(piper_env, INVALID_RATE, START, START + timedelta(days=1))
    assert [o.partition_date for o in outcomes] == [START, START + timedelta(days=1)]
    assert {o.status for o in outcomes} == {expected}
    for o in outcomes:
        assert o.detail["invalid"] == sum(o.detail["by_reason"].values())
        assert o.value == pytest.approx(o.detail["invalid"] / o.detail["lines"])
        assert set(o.detail["by_reason"]) == set(damage)
        if damage:
            worst_file = o.detail["top_files"][0]
            assert worst_file["invalid"] == max(f["invalid"] for f in o.detail["top_files"])
            assert worst_file["source_file"] in o.hint


def test_invalid_rate_of_a_few_lines_is_not_judged(piper_env: Settings) -> None:
    _spool(piper_env, days=1, artists=1, events_per_artist_day=5, farm=False, storage=False,
           damage=frozenset({"invalid_json"}), damage_rate=0.5)  # fmt: skip
    (o,) = _run(piper_env, INVALID_RATE, START, START)
    assert o.detail["invalid"] > 0 and o.status == Status.SKIP and "too few" in o.hint


@pytest.mark.parametrize(
    ("artists", "skewed_hosts", "expected"),
    [(6, 0, Status.PASS), (150, 1, Status.PASS), (24, 1, Status.WARN), (6, 3, Status.FAIL)],
)
def test_clock_skew(piper_env: Settings, artists, skewed_hosts, expected) -> None:
    _spool(piper_env, days=2, artists=artists, events_per_artist_day=20, skewed_hosts=skewed_hosts)
    outcomes = _run(piper_env, CLOCK_SKEW, START, START + timedelta(days=1))
    assert {o.status for o in outcomes} == {expected}
    for o in outcomes:
        assert (o.detail["skewed"] > 0) == (skewed_hosts > 0)
        assert len(o.detail["hosts"]) == min(skewed_hosts, piper_env.checks.top_n)
        for host in o.detail["hosts"]:
            assert host["skewed"] > 0
            # The generator's skewed clocks are 72 h behind; the median offset says so (within
            # a session's length, measured against the file's last write).
            assert -84 < host["median_offset_hours"] < -71


def test_volume_compares_a_day_with_the_same_weekday_and_sees_a_drop(piper_env: Settings) -> None:
    options = GenerateOptions(start=START, days=29, artists=30, events_per_artist_day=20)
    generate_spool(piper_env.raw_root, options)
    last = START + timedelta(days=28)  # Monday 2026-03-30
    artist_files = sorted(
        p
        for p in piper_env.raw_root.glob(f"*/*/{last}_*.jsonl")
        if p.parts[-3] not in (FARM_HOST, STORAGE_HOST)
    )
    aside = piper_env.data_root.parent / "aside"
    aside.mkdir()
    for p in artist_files:
        shutil.move(p, aside / p.relative_to(piper_env.raw_root).as_posix().replace("/", "__"))
    ingest(piper_env)

    week = _run(piper_env, VOLUME, last - timedelta(days=7), last - timedelta(days=1))
    artists = {o.partition_date: o for o in week if o.scope == "artists"}
    sunday, friday = artists[date(2026, 3, 29)], artists[date(2026, 3, 27)]
    # A quiet Sunday: a fraction of a Friday, yet as usual for a Sunday.
    assert sunday.detail["events"] < 0.5 * friday.detail["events"]
    assert sunday.value is not None and sunday.status == Status.PASS
    assert {o.status for o in week if o.scope != "storage"} == {Status.PASS}
    # The auditor's ~20 scans a day are too few to judge: SKIP, not PASS.
    storage = [o for o in week if o.scope == "storage"]
    assert storage and {o.status for o in storage} == {Status.SKIP}
    assert all(o.value is None and "baseline too small" in o.hint for o in storage)

    # Monday without its artists: FAIL; the farm and the storage auditor are as usual.
    monday = {o.scope: o for o in _run(piper_env, VOLUME, last, last)}
    assert monday["artists"].status == Status.FAIL and monday["artists"].value == 0
    assert monday["farm"].status == Status.PASS
    assert len(monday["artists"].detail["baseline_days"]) == 4

    # Part of them arrive late: WARN; all of them: PASS.
    moved = sorted(aside.iterdir())
    for i, p in enumerate(moved):
        if i % 3 == 0:
            shutil.move(p, piper_env.raw_root / p.name.replace("__", "/"))
    ingest(piper_env)
    assert {o.scope: o for o in _run(piper_env, VOLUME, last, last)}["artists"].status == (
        Status.WARN
    )
    for p in sorted(aside.iterdir()):
        shutil.move(p, piper_env.raw_root / p.name.replace("__", "/"))
    ingest(piper_env)
    assert {o.scope: o.status for o in _run(piper_env, VOLUME, last, last)} == {
        "artists": Status.PASS,
        "farm": Status.PASS,
        "storage": Status.SKIP,
    }


def test_volume_of_the_current_day_compares_the_same_hours(piper_env: Settings) -> None:
    _spool(piper_env, days=15, artists=30, events_per_artist_day=20)
    day = START + timedelta(days=14)  # a Monday, read to its end
    noon = datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=12)
    by_scope = {o.scope: o for o in _run(piper_env, VOLUME, day, day, now=noon)}
    # The events after noon are in the warehouse but not compared: half a day is not a drop.
    assert by_scope["farm"].detail["partial_day"]
    assert by_scope["farm"].status == Status.PASS
    assert by_scope["farm"].detail["events"] < 200 < 288


def test_freshness_per_source_family(piper_env: Settings) -> None:
    _spool(piper_env, days=2, artists=6)
    end = datetime.combine(START + timedelta(days=2), datetime.min.time(), UTC)

    def status(now: datetime) -> dict[str, Status]:
        return {o.scope: o.status for o in _run(piper_env, FRESHNESS, START, START, now=now)}

    assert status(end + timedelta(minutes=10)) == dict.fromkeys(FAMILIES, Status.PASS)
    assert status(end + timedelta(hours=1))["farm"] == Status.WARN  # the poller is late
    assert status(end + timedelta(hours=3)) == {
        "farm": Status.FAIL,
        "artists": Status.PASS,  # a night without artists is normal
        "storage": Status.PASS,
    }
    assert status(end + timedelta(days=4)) == dict.fromkeys(FAMILIES, Status.FAIL)
    # As of the middle of the first day, the events after it do not count: the farm is fresh, the
    # storage auditor (its first scan later that day) has not been heard of yet.
    first_noon = datetime.combine(START, datetime.min.time(), UTC) + timedelta(hours=12)
    at_noon = {o.scope: o for o in _run(piper_env, FRESHNESS, START, START, now=first_noon)}
    assert 0 <= at_noon["farm"].value < 600 and at_noon["farm"].status == Status.PASS
    assert at_noon["farm"].detail["newest_ts"] <= first_noon


def test_freshness_of_a_family_silent_for_longer_than_its_fail_threshold_is_exact(
    piper_env: Settings,
) -> None:
    """The first look covers the last days only; a family silent for longer is looked up in
    the whole history, and its age is still exact."""
    _spool(piper_env, days=2, artists=6)
    with connect(piper_env.warehouse_path, read_only=True) as con:
        newest = dict(
            con.execute(
                "SELECT event_type LIKE 'storage.%' AS storage, max(ts) FROM silver_events"
                " GROUP BY 1"
            ).fetchall()
        )
    # Around the window's edge (3 days), and far beyond it; storage warns after 26 h, fails
    # after 50 h.
    for days, expected in ((2, Status.WARN), (3, Status.FAIL), (4, Status.FAIL), (40, Status.FAIL)):
        now = newest[True] + timedelta(days=days, seconds=7)
        by_family = {o.scope: o for o in _run(piper_env, FRESHNESS, START, START, now=now)}
        assert by_family["storage"].value == days * 86400 + 7
        assert by_family["storage"].detail["newest_ts"] == newest[True]
        assert by_family["storage"].status == expected


def test_freshness_fails_a_family_never_heard_of(piper_env: Settings) -> None:
    # No storage auditor at all, and a farm whose only events come from a wrong clock.
    _spool(piper_env, days=1, artists=6, storage=False)
    with connect(piper_env.warehouse_path) as con:
        con.execute(
            "UPDATE silver_events SET clock_skewed = true WHERE event_type LIKE 'tractor.%'"
            " OR event_type LIKE 'render.%'"
        )
    now = datetime.combine(START, datetime.min.time(), UTC) + timedelta(days=1, minutes=10)
    by_family = {o.scope: o for o in _run(piper_env, FRESHNESS, START, START, now=now)}
    assert by_family["artists"].status == Status.PASS
    for family in ("farm", "storage"):
        assert by_family[family].status == Status.FAIL and by_family[family].value is None
        assert f"no {family} event" in by_family[family].hint


def test_outcomes_are_recorded_for_grafana(piper_env: Settings, warehouse) -> None:
    _spool(piper_env, days=2, artists=6, skewed_hosts=1)
    with connect(piper_env.warehouse_path) as con:
        outcomes = evaluate(con, piper_env.checks, START, START + timedelta(days=1), now=LATER)
        assert record(con, outcomes, asset="spool_events", evaluated_at=LATER, run_id="r1") == (
            len(outcomes)
        )
    with warehouse() as con:
        rows = con.execute(
            "SELECT check_name, count(*), count(DISTINCT partition_date) FROM"
            " pipeline_check_results GROUP BY 1 ORDER BY 1"
        ).fetchall()
        assert rows == [
            ("clock_skew", 2, 2),
            ("freshness", 3, 0),
            ("invalid_rate", 2, 2),
            ("refresh_backlog", 1, 0),
            ("volume", 6, 2),
        ]
        detail = con.execute(
            "SELECT detail->'hosts'->0->>'host', status, run_id FROM pipeline_check_results"
            " WHERE check_name = 'clock_skew' ORDER BY partition_date LIMIT 1"
        ).fetchone()
        assert detail[0].startswith("ws") and detail[1] in ("WARN", "FAIL") and detail[2] == "r1"
