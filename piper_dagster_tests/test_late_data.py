"""Late data on a real Dagster instance: an ingest that adds events to a past day gets that day's
silver and gold refreshed by the sensor, without anyone choosing the partition."""

from __future__ import annotations

from datetime import UTC, date, datetime

import dagster as dg

from piper_dagster.defs.partitions import range_tags
from piper_dagster.models import GOLD_MODELS, SILVER_MODELS
from piper_dagster.refresh_ledger import contiguous_ranges
from piper_dagster.settings import Settings
from piper_dagster_tests.factories import defs, ev, touched_event_dates_sensor, write_spool_file

MODELS = [m.name for m in (*SILVER_MODELS, *GOLD_MODELS)]
END_OF_MARCH_5 = datetime(2026, 3, 6, tzinfo=UTC).timestamp()


def _run_requested(instance: dg.DagsterInstance, cursor: str | None) -> tuple[list, str | None]:
    """One sensor tick, then the runs it requested, executed as the daemon would."""
    context = dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs())
    result = touched_event_dates_sensor(context)
    for request in result.run_requests:
        run = dg.materialize(
            list(defs().assets),  # type: ignore[arg-type]
            selection=MODELS,
            instance=instance,
            tags=request.tags,
        )
        assert run.success
    return result.run_requests, result.cursor


def test_contiguous_ranges() -> None:
    d = date.fromisoformat
    assert contiguous_ranges({d("2026-03-01"), d("2026-03-02"), d("2026-03-05")}) == [
        (d("2026-03-01"), d("2026-03-02")),
        (d("2026-03-05"), d("2026-03-05")),
    ]


def test_a_late_file_changes_a_built_days_gold(piper_env: Settings, warehouse) -> None:
    raw = piper_env.raw_root
    write_spool_file(raw, "ws001/alice/2026-03-04_a.jsonl", ev(1) + ev(2), mtime=END_OF_MARCH_5)
    with dg.DagsterInstance.get() as instance:
        first = dg.materialize(
            list(defs().assets),  # type: ignore[arg-type]
            selection=["spool_events", *MODELS],
            instance=instance,
            tags=range_tags(date(2026, 3, 4), date(2026, 3, 4)),
        )
        assert first.success
        requests, cursor = _run_requested(instance, None)
        with warehouse() as con:
            before = con.execute(
                "SELECT tool_invocations FROM gold_tool_reliability_daily"
                " WHERE event_date = '2026-03-04'"
            ).fetchall()
        assert before == [(2,)]

        # A laptop that worked offline syncs days later: a file opened on the 4th (spool date
        # 2026-03-04, already built), with a session that started before midnight.
        late = ev(3, "2026-03-03T23:30:00Z") + ev(4, "2026-03-04T20:00:00Z")
        write_spool_file(raw, "lt007/bob/2026-03-04_sync.jsonl", late, mtime=END_OF_MARCH_5)
        ingest_run = dg.materialize(
            [defs().get_assets_def("spool_events")],
            instance=instance,
            tags=range_tags(date(2026, 3, 4), date(2026, 3, 4)),
        )
        assert ingest_run.success
        requests, cursor = _run_requested(instance, cursor)
        assert [
            (
                r.tags["dagster/asset_partition_range_start"],
                r.tags["dagster/asset_partition_range_end"],
            )
            for r in requests
        ] == [("2026-03-03", "2026-03-04")]
        # The same state never triggers twice.
        again, _ = _run_requested(instance, cursor)
        assert again == []
    with warehouse() as con:
        after = con.execute(
            "SELECT event_date::VARCHAR, tool_invocations FROM gold_tool_reliability_daily"
            " ORDER BY 1"
        ).fetchall()
    assert after == [("2026-03-03", 1), ("2026-03-04", 3)]
