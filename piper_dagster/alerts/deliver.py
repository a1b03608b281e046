"""The outbox: messages are queued in the warehouse in the transaction that decided them, and
delivered after it, outside any warehouse connection.

A delivery round claims what is undelivered (a claim lapses after CLAIM_SECONDS, so a crashed
deliverer loses nothing), sends each channel's messages in its own thread (tries and backoff of
channels.send_with_retry; a channel that fails is not tried again for the rest of the round), then
records what happened: delivered rows leave the outbox for alert_log, failed ones stay with their
attempts and last error for the next round, and those older than alerts.give_up_hours are dropped
(logged). Nothing here raises into the ingest: `deliver_quietly` logs instead.
"""

from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import pyarrow as pa

from piper_dagster.alerts.channels import Channel, configured, send_with_retry
from piper_dagster.alerts.message import (
    RUN_FAILED,
    TEST,
    Observation,
    probe_message,
    run_failure_message,
)
from piper_dagster.alerts.state import decide
from piper_dagster.serving import publish_from
from piper_dagster.settings import AlertsSettings, ConfigError, Settings
from piper_dagster.sql import load_sql
from piper_dagster.warehouse import WarehouseError, connect, transaction

log = logging.getLogger(__name__)

CLAIM_SECONDS = 900  # a deliverer that died holding messages lets go after this
RUN_FAILURE_WAIT_SECONDS = 10.0  # the run failure sensor's wait for the warehouse lock

_OUTBOX_SCHEMA = pa.schema(
    [
        ("message_id", pa.string()),
        ("channel", pa.string()),
        ("kind", pa.string()),
        ("subject", pa.string()),
        ("status", pa.string()),
        ("message", pa.string()),
        ("created_at", pa.timestamp("us", tz="UTC")),
    ]
)


@dataclass(frozen=True)
class Delivery:
    """What one round did with one message on one channel."""

    message_id: str
    channel: str
    kind: str
    title: str
    ok: bool | None  # None: not tried this round (its channel failed earlier in it)
    error: str | None
    attempts: int  # in all, this round included


def enqueue(
    con: duckdb.DuckDBPyConnection,
    messages: list[dict[str, Any]],
    cfg: AlertsSettings,
    at: datetime,
    subject: str | None = None,
) -> int:
    """Queue each message for every configured channel (none configured: nothing); rows."""
    channels = configured(cfg)
    rows = [
        {
            "message_id": m["message_id"],
            "channel": name,
            "kind": m["kind"],
            "subject": subject or _subject(m),
            "status": m["status"],
            "message": json.dumps(m, default=str),
            "created_at": at,
        }
        for m in messages
        for name in channels
    ]
    if not rows:
        return 0
    con.register("outbox_rows", pa.Table.from_pylist(rows, _OUTBOX_SCHEMA))
    try:
        con.execute(load_sql("alerts/insert_outbox"))
    finally:
        con.unregister("outbox_rows")
    return len(rows)


def _subject(m: dict[str, Any]) -> str:
    if m["kind"] == RUN_FAILED:
        return f"run:{m['run_id']}"
    return "|".join(str(m.get(k) or "-") for k in ("check", "asset", "scope", "partition"))


def notify_checks(
    con: duckdb.DuckDBPyConnection,
    observations: list[Observation],
    cfg: AlertsSettings,
    at: datetime,
) -> int:
    """Update the check subjects' state and queue the messages their changes call for, in the
    caller's transaction (checks.record); the messages queued."""
    messages = decide(con, observations, cfg, at)
    enqueue(con, messages, cfg, at)
    return len(messages)


def pending(con: duckdb.DuckDBPyConnection) -> int:
    """Messages (per channel) waiting in the outbox."""
    row = con.execute(load_sql("alerts/pending")).fetchone()
    return int(row[0]) if row else 0


@dataclass(frozen=True)
class _Claimed:
    message_id: str
    channel: str
    kind: str
    message: dict[str, Any]
    created_at: datetime
    attempts: int
    last_error: str | None


def _send_round(
    channel: Channel, rows: list[_Claimed], attempts: int
) -> list[tuple[_Claimed, str | None, int]]:
    """(row, error or None, tries) for each row; after a failure the rest are not tried (-1)."""
    out: list[tuple[_Claimed, str | None, int]] = []
    failed = False
    for row in rows:
        if failed:
            out.append((row, None, -1))
            continue
        error, tries = send_with_retry(channel, row.message, attempts)
        out.append((row, error, tries))
        failed = error is not None
    return out


def _log_row(
    row: _Claimed, at: datetime, ok: bool, attempts: int, error: str | None
) -> dict[str, Any]:
    m = row.message
    return {
        "sent_at": at,
        "message_id": row.message_id,
        "channel": row.channel,
        "kind": row.kind,
        "check_name": m.get("check"),
        "scope": m.get("scope"),
        "partition_date": m.get("partition"),
        "status": m.get("status") or "-",
        "previous_status": m.get("previous_status"),
        "run_id": m.get("run_id"),
        "ok": ok,
        "attempts": attempts,
        "error": error,
        "title": m.get("title") or "-",
    }


def deliver(
    settings: Settings, *, now: datetime | None = None, wait_seconds: float | None = None
) -> list[Delivery]:
    """One delivery round over the outbox (see the module's docstring); what it did."""
    cfg = settings.alerts
    now = now or datetime.now(UTC)
    channels = configured(cfg)
    with connect(settings.warehouse_path, create=False, wait_seconds=wait_seconds) as con:
        claimed = [
            _Claimed(mid, ch, kind, json.loads(msg), created, attempts, err)
            for mid, ch, kind, _subject, _status, msg, created, attempts, err in con.execute(
                load_sql("alerts/claim"),
                {"now": now, "until": now + timedelta(seconds=CLAIM_SECONDS)},
            ).fetchall()
        ]
    if not claimed:
        return []
    claimed.sort(key=lambda r: (r.created_at, r.message_id))
    give_up = now - timedelta(hours=cfg.give_up_hours)
    dropped: list[tuple[_Claimed, str]] = []
    by_channel: dict[str, list[_Claimed]] = {}
    for row in claimed:
        if row.channel not in channels:
            dropped.append((row, "dropped: the channel is no longer configured"))
        elif row.created_at < give_up:
            dropped.append(
                (row, f"dropped: undelivered for {cfg.give_up_hours:g} h ({row.last_error})")
            )
        else:
            by_channel.setdefault(row.channel, []).append(row)
    results: list[tuple[_Claimed, str | None, int]] = []
    if by_channel:
        with ThreadPoolExecutor(max_workers=len(by_channel)) as pool:
            futures = [
                pool.submit(_send_round, channels[name], rows, cfg.attempts)
                for name, rows in by_channel.items()
            ]
            for f in futures:
                results += f.result()
    done = datetime.now(UTC)
    out: list[Delivery] = []
    with connect(settings.warehouse_path, create=False, wait_seconds=wait_seconds) as con:
        with transaction(con):
            for row, reason in dropped:
                key = {"message_id": row.message_id, "channel": row.channel}
                con.execute(load_sql("alerts/delivered"), key)
                con.execute(
                    load_sql("alerts/insert_log"), _log_row(row, done, False, row.attempts, reason)
                )
                out.append(_delivery(row, False, reason, row.attempts))
            for row, error, tries in results:
                key = {"message_id": row.message_id, "channel": row.channel}
                if tries < 0:
                    con.execute(load_sql("alerts/release"), key)
                    out.append(_delivery(row, None, None, row.attempts))
                    continue
                total = row.attempts + tries
                if error is None:
                    con.execute(load_sql("alerts/delivered"), key)
                else:
                    con.execute(
                        load_sql("alerts/failed"),
                        {**key, "tries": tries, "at": done, "error": error},
                    )
                con.execute(
                    load_sql("alerts/insert_log"),
                    _log_row(row, done, error is None, total, error),
                )
                out.append(_delivery(row, error is None, error, total))
        publish_from(con, settings)  # the dashboard's alert panel
    return out


def _delivery(row: _Claimed, ok: bool | None, error: str | None, attempts: int) -> Delivery:
    return Delivery(
        row.message_id, row.channel, row.kind, row.message.get("title", ""), ok, error, attempts
    )


def deliver_quietly(settings: Settings, **kwargs: Any) -> list[Delivery] | None:
    """`deliver`, never raising: a notification must not fail the ingest or a check."""
    try:
        deliveries = deliver(settings, **kwargs)
    except Exception as exc:
        log.warning("alerts: delivery round failed, the outbox keeps the messages: %s", exc)
        return None
    for d in deliveries:
        if d.ok is False:
            log.warning("alerts: %s via %s failed: %s", d.title, d.channel, d.error)
    return deliveries


def notify_run_failure(
    settings: Settings, job: str, run_id: str, error: str, *, now: datetime | None = None
) -> list[Delivery]:
    """Queue and deliver the message for a failed run. A warehouse locked past
    RUN_FAILURE_WAIT_SECONDS (a long run writing it) must not lose it: sent directly then,
    unrecorded."""
    cfg = settings.alerts
    now = now or datetime.now(UTC)
    message = run_failure_message(job, run_id, error, cfg, now)
    if not configured(cfg):
        return []
    try:
        with (
            connect(settings.warehouse_path, wait_seconds=RUN_FAILURE_WAIT_SECONDS) as con,
            transaction(con),
        ):
            enqueue(con, [message], cfg, now)
    except WarehouseError as exc:
        log.warning("alerts: the warehouse is not available (%s): sending unrecorded", exc)
        return send_direct(cfg, message)
    return deliver_quietly(settings, wait_seconds=RUN_FAILURE_WAIT_SECONDS) or []


def send_direct(cfg: AlertsSettings, message: dict[str, Any]) -> list[Delivery]:
    """Send one message to every configured channel now, in parallel, without the outbox."""
    channels = configured(cfg)
    if not channels:
        return []

    def one(channel: Channel) -> Delivery:
        error, tries = send_with_retry(channel, message, cfg.attempts)
        return Delivery(
            message["message_id"], channel.name, message["kind"], message["title"],
            error is None, error, tries,
        )  # fmt: skip

    with ThreadPoolExecutor(max_workers=len(channels)) as pool:
        return list(pool.map(one, channels.values()))


def send_test(settings: Settings) -> list[tuple[Channel, Delivery]]:
    """`piper alerts test`: a test message to every configured channel; recorded in alert_log
    when the warehouse is there and free."""
    cfg = settings.alerts
    channels = configured(cfg)
    if not channels:
        raise ConfigError(
            "no alert channel is configured: set PIPER_ALERTS__WEBHOOK_URL,"
            " PIPER_ALERTS__SLACK_WEBHOOK_URL, PIPER_ALERTS__TEAMS_WEBHOOK_URL or"
            " PIPER_ALERTS__SMTP_HOST (docs/runbook.md#alerts)"
        )
    now = datetime.now(UTC)
    message = probe_message(cfg, now)
    deliveries = send_direct(cfg, message)
    if settings.warehouse_path.exists():
        try:
            with connect(settings.warehouse_path, wait_seconds=5) as con:
                for d in deliveries:
                    row = _Claimed(d.message_id, d.channel, TEST, message, now, 0, None)
                    con.execute(
                        load_sql("alerts/insert_log"),
                        _log_row(row, datetime.now(UTC), bool(d.ok), d.attempts, d.error),
                    )
        except WarehouseError as exc:
            log.warning("alerts: test not recorded in alert_log: %s", exc)
    return [(channels[d.channel], d) for d in deliveries]
