"""Notifications (issue #15): state changes of the checks and failed runs reach real servers on
loopback (an HTTP server for the webhook, Slack and Teams; aiosmtpd for e-mail), through the
outbox in a real warehouse; a failing channel is retried and never fails a check or a run."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest
from aiosmtpd.controller import Controller
from typer.testing import CliRunner

from piper_dagster.alerts import deliver
from piper_dagster.checks import CheckOutcome, Status, record
from piper_dagster.cli import app
from piper_dagster.defs.alerts import build_run_failure_sensor
from piper_dagster.defs.partitions import range_tags
from piper_dagster.defs.resources import PiperResource
from piper_dagster.settings import ConfigError, Settings, load_settings
from piper_dagster.warehouse import connect
from piper_dagster_tests.factories import blocked_spool, defs, free_port, freshness_sensor

DAY = date(2026, 3, 4)
T0 = datetime(2026, 3, 5, 8, 0, tzinfo=UTC)
runner = CliRunner()
HOOK = "/hook?token=secret"  # the generic webhook's path on the test server


# --- real servers on loopback ---------------------------------------------------------------


class Hook:
    """An HTTP server in a thread: records each POST (path, JSON body), answers `status`."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.status = 200
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.received.append((self.path, json.loads(body)))
                self.send_response(hook.status)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def bodies(self, path: str) -> list[dict[str, Any]]:
        return [body for p, body in self.received if p == path]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Mailbox:
    """aiosmtpd's handler: keeps every message it is given."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def hook() -> Iterator[Hook]:
    server = Hook()
    yield server
    server.close()


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    box, port = Mailbox(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


def _settings(monkeypatch: pytest.MonkeyPatch, **alerts: str) -> Settings:
    for key, value in alerts.items():
        monkeypatch.setenv(f"PIPER_ALERTS__{key.upper()}", value)
    return load_settings()


@pytest.fixture
def channels(
    piper_env: Settings, hook: Hook, smtp: tuple[Mailbox, int], monkeypatch: pytest.MonkeyPatch
) -> Settings:
    """Every channel configured, on the loopback servers."""
    return _settings(
        monkeypatch,
        webhook_url=hook.url(HOOK),
        slack_webhook_url=hook.url("/slack"),
        teams_webhook_url=hook.url("/teams"),
        smtp_host="127.0.0.1",
        smtp_port=str(smtp[1]),
        smtp_from="piper@studio.example",
        smtp_to="oncall@studio.example,pipeline@studio.example",
        smtp_starttls="false",
        timeout_seconds="2",
    )


def _invalid_rate(status: Status, value: float | None = 0.07) -> CheckOutcome:
    return CheckOutcome(
        "invalid_rate", DAY, "all", status, value, 0.01, 0.05, {}, "140/2000 lines rejected"
    )


def _evaluate(settings: Settings, outcomes: list[CheckOutcome], at: datetime) -> None:
    """Record outcomes as every evaluation path does, then the delivery round after it."""
    with connect(settings.warehouse_path) as con:
        record(
            con, outcomes, asset="spool_events", evaluated_at=at, run_id="run-1", settings=settings
        )
    deliver(settings, now=at)


def _log(settings: Settings) -> list[tuple]:
    with connect(settings.warehouse_path) as con:
        return con.execute(
            "SELECT channel, kind, status, previous_status, ok, attempts, error FROM alert_log"
            " ORDER BY sent_at, channel"
        ).fetchall()


def _outbox(settings: Settings) -> list[tuple]:
    with connect(settings.warehouse_path) as con:
        return con.execute(
            "SELECT channel, attempts, last_error FROM alert_outbox ORDER BY channel"
        ).fetchall()


# --- state changes ---------------------------------------------------------------------------


def test_one_message_per_state_change_then_resolved(
    channels: Settings, hook: Hook, smtp: tuple[Mailbox, int]
) -> None:
    steps = [
        (Status.FAIL, ("problem", "FAIL", None)),
        (Status.FAIL, None),  # the same state again: quiet
        (Status.WARN, ("problem", "WARN", "FAIL")),  # FAIL -> WARN notifies
        (Status.SKIP, None),  # could not judge: nothing known, nothing said
        (Status.FAIL, ("problem", "FAIL", "WARN")),
        (Status.PASS, ("resolved", "PASS", "FAIL")),
        (Status.PASS, None),
    ]
    expected = []
    for i, (status, message) in enumerate(steps):
        # Volume passes throughout (never said): one subject's change is one message.
        volume = CheckOutcome("volume", DAY, "farm", Status.PASS, 0.9, 0.5, 0.2, {}, "ok")
        _evaluate(channels, [_invalid_rate(status), volume], T0 + timedelta(minutes=i))
        if message:
            expected.append(message)
        got = [(b["kind"], b["status"], b["previous_status"]) for b in hook.bodies(HOOK)]
        assert got == expected, f"after step {i}"
    assert len(hook.bodies("/slack")) == len(hook.bodies("/teams")) == len(expected)
    assert len(smtp[0].messages) == len(expected)

    first = hook.bodies(HOOK)[0]
    assert first["check"] == "invalid_rate"
    assert first["scope"] == "all"
    assert first["partition"] == "2026-03-04"
    assert first["value_text"] == "7.00%"
    assert first["thresholds_text"] == "WARN > 1.00%, FAIL > 5.00%"
    assert first["hint"] == "140/2000 lines rejected"
    assert first["runbook_url"] == "docs/runbook.md#invalid-rate"
    assert first["dagster_url"] == "http://127.0.0.1:3000/runs/run-1"
    resolved = hook.bodies(HOOK)[-1]
    assert resolved["title"].startswith("[piper] RESOLVED invalid_rate (all): now PASS, was FAIL")

    # Slack: text (the notification) and blocks; Teams: an Adaptive Card.
    slack = hook.bodies("/slack")[0]
    assert slack["text"].startswith("[piper] FAIL invalid_rate (all)")
    assert slack["blocks"][0]["type"] == "header"
    fields = " ".join(f["text"] for f in slack["blocks"][1]["fields"])
    assert "*Partition*\n2026-03-04" in fields and "*Value*\n7.00%" in fields
    assert "http://127.0.0.1:3000/runs/run-1|Dagster" in json.dumps(slack["blocks"][-1])
    teams = hook.bodies("/teams")[0]
    (attachment,) = teams["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard"
    facts = {f["title"]: f["value"] for f in card["body"][1]["facts"]}
    assert facts["Status"] == "FAIL" and facts["Thresholds"] == "WARN > 1.00%, FAIL > 5.00%"
    assert card["actions"][0]["url"] == "http://127.0.0.1:3000/runs/run-1"

    mail = smtp[0].messages[0]
    assert mail["Subject"].startswith("[piper] FAIL invalid_rate (all)")
    assert mail["To"] == "oncall@studio.example, pipeline@studio.example"
    body = mail.get_payload()
    assert "value 7.00% (WARN > 1.00%, FAIL > 5.00%)" in body
    assert "runbook: docs/runbook.md#invalid-rate" in body

    log = _log(channels)
    assert len(log) == 4 * len(expected) and all(ok for *_, ok, _a, _e in log)
    assert _outbox(channels) == []


def test_min_severity_fail(channels: Settings, hook: Hook, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings(monkeypatch, min_severity="FAIL")
    seen = []
    for i, status in enumerate([Status.WARN, Status.FAIL, Status.WARN, Status.WARN]):
        _evaluate(settings, [_invalid_rate(status)], T0 + timedelta(minutes=i))
        seen.append([(b["kind"], b["status"]) for b in hook.bodies(HOOK)])
    assert seen == [
        [],  # a WARN is below the minimum
        [("problem", "FAIL")],
        [("problem", "FAIL"), ("resolved", "WARN")],  # below the minimum again: resolved
        [("problem", "FAIL"), ("resolved", "WARN")],
    ]


def test_repeat_interval(channels: Settings, hook: Hook, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings(monkeypatch, repeat_minutes="60")
    for minutes in (0, 30, 61, 90, 125):
        _evaluate(settings, [_invalid_rate(Status.FAIL)], T0 + timedelta(minutes=minutes))
    bodies = hook.bodies(HOOK)
    assert [b["kind"] for b in bodies] == ["problem", "repeat", "repeat"]
    assert bodies[1]["title"] == "[piper] still FAIL: invalid_rate (all), partition 2026-03-04"
    assert bodies[1]["at"] == (T0 + timedelta(minutes=61)).isoformat()
    assert "FAIL since 2026-03-05 08:00 UTC" in bodies[1]["text"]


def test_no_channel_tracks_state_and_queues_nothing(piper_env: Settings) -> None:
    _evaluate(piper_env, [_invalid_rate(Status.FAIL)], T0)
    with connect(piper_env.warehouse_path) as con:
        assert con.execute("SELECT status, notified_status FROM alert_state").fetchall() == [
            ("FAIL", "FAIL")
        ]
        assert con.execute("SELECT count(*) FROM alert_outbox").fetchone() == (0,)


# --- a failing channel ---------------------------------------------------------------------


def test_failing_channel_is_retried_recorded_and_delivered_later(
    piper_env: Settings, hook: Hook, monkeypatch: pytest.MonkeyPatch
) -> None:
    refused = f"http://127.0.0.1:{free_port()}/nobody"  # nothing listens: connection refused
    settings = _settings(
        monkeypatch, webhook_url=hook.url("/hook"), slack_webhook_url=refused, timeout_seconds="2"
    )
    hook.status = 500
    started = time.monotonic()
    _evaluate(settings, [_invalid_rate(Status.FAIL)], T0)
    took = time.monotonic() - started
    # Three tries each, with the backoff between them (0.5 s, 1 s), both channels at once.
    assert len(hook.bodies("/hook")) == 3
    assert 1.5 <= took < 10
    where = refused.rsplit("/", 1)[0]
    assert sorted(_outbox(settings)) == [
        ("slack", 3, f"cannot reach {where}: [Errno 111] Connection refused"),
        ("webhook", 3, "HTTP 500 Internal Server Error"),
    ]
    errors = {channel: (ok, error) for channel, _k, _s, _p, ok, _a, error in _log(settings)}
    assert errors["webhook"] == (False, "HTTP 500 Internal Server Error")
    assert errors["slack"][0] is False

    # The recorded outcome is there: the evaluation did not fail.
    with connect(settings.warehouse_path) as con:
        assert con.execute("SELECT status FROM pipeline_check_results").fetchall() == [("FAIL",)]

    # The server comes back: the next round delivers what waited, once; no new state change.
    hook.status = 200
    _evaluate(settings, [_invalid_rate(Status.FAIL)], T0 + timedelta(minutes=1))
    assert [b["status"] for b in hook.bodies("/hook")] == ["FAIL"] * 4  # 3 refused, 1 taken
    assert [(c, a) for c, a, _e in _outbox(settings)] == [("slack", 6)]
    webhook = [row for row in _log(settings) if row[0] == "webhook"]
    assert [(ok, attempts) for *_, ok, attempts, _e in webhook] == [(False, 3), (True, 4)]


def test_a_silent_server_costs_a_bounded_time(
    piper_env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A host that takes the connection and never answers (a hung proxy): each try ends at
    alerts.timeout_seconds, the round after its tries and backoff; the message waits."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # accepted by the kernel, never read, never answered
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/hook"
        settings = _settings(monkeypatch, webhook_url=url, timeout_seconds="1", attempts="2")
        started = time.monotonic()
        _evaluate(settings, [_invalid_rate(Status.FAIL)], T0)
        took = time.monotonic() - started
    assert 2.5 <= took < 6  # 2 tries of 1 s, 0.5 s backoff, the warehouse's own work
    ((channel, attempts, error),) = _outbox(settings)
    assert (channel, attempts) == ("webhook", 2)
    assert "timed out" in error


def test_undelivered_message_is_dropped_after_give_up_hours(
    piper_env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    refused = f"http://127.0.0.1:{free_port()}/nobody"
    settings = _settings(monkeypatch, webhook_url=refused, attempts="1", give_up_hours="1")
    _evaluate(settings, [_invalid_rate(Status.FAIL)], T0)
    assert len(_outbox(settings)) == 1
    deliver(settings, now=T0 + timedelta(hours=2))
    assert _outbox(settings) == []
    assert _log(settings)[-1][-1].startswith("dropped: undelivered for 1 h")


@pytest.mark.slow
def test_freshness_sensor_notifies_once_and_a_failing_channel_does_not_fail_it(
    piper_env: Settings, hook: Hook, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real path: the freshness sensor's evaluation (an empty warehouse: every family is
    stale, FAIL) records, notifies each family once, and reports its verdict while the channel
    fails."""
    settings = _settings(monkeypatch, webhook_url=hook.url("/hook"), attempts="2")
    hook.status = 503
    with connect(settings.warehouse_path):
        pass  # `piper init`'s empty warehouse
    with dg.DagsterInstance.get() as instance:
        tick = freshness_sensor(dg.build_sensor_context(instance=instance, definitions=defs()))
        assert isinstance(tick, dg.SensorResult) and tick.asset_events, tick
        assert len(_outbox(settings)) == 3  # artists, farm, storage: kept for later
        hook.status = 200
        again = freshness_sensor(dg.build_sensor_context(instance=instance, definitions=defs()))
        assert isinstance(again, dg.SensorResult)  # same state: no new message, the old sent
        assert not instance.get_runs()
    delivered = [b for b in hook.bodies("/hook") if b["check"] == "freshness"]
    families = sorted({b["scope"] for b in delivered})
    assert len(families) == 3
    with connect(settings.warehouse_path) as con:
        sent = con.execute(
            "SELECT scope, count(*) FROM alert_log WHERE ok AND check_name = 'freshness'"
            " GROUP BY scope"
        ).fetchall()
    assert sorted(sent) == [(f, 1) for f in families]
    assert _outbox(settings) == []


@pytest.mark.slow
def test_spool_ingest_notifies_a_failed_invalid_rate_once_per_spool_date(
    piper_env: Settings, hook: Hook, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ingest's own checks: a spool date past the invalid-rate FAIL threshold is one
    message, with its partition, however often the date is ingested and evaluated again."""
    settings = _settings(monkeypatch, webhook_url=hook.url("/hook"))
    blocked_spool(settings.raw_root, DAY)
    with dg.DagsterInstance.get() as instance:
        for _ in range(2):
            dg.materialize(
                list(defs().assets),  # type: ignore[arg-type]
                selection=["spool_events"],
                instance=instance,
                tags=range_tags(DAY, DAY),
                raise_on_error=False,
            )
    invalid = [b for b in hook.bodies("/hook") if b["check"] == "invalid_rate"]
    assert [(b["status"], b["partition"], b["scope"]) for b in invalid] == [
        ("FAIL", "2026-03-04", "all")
    ]
    assert "lines rejected; mostly wrong_type" in invalid[0]["hint"]
    assert invalid[0]["dagster_url"].startswith("http://127.0.0.1:3000/runs/")
    with connect(settings.warehouse_path) as con:
        assert con.execute(
            "SELECT count(*) FROM pipeline_check_results WHERE check_name = 'invalid_rate'"
        ).fetchone() == (2,)  # evaluated twice, said once


# --- failed runs --------------------------------------------------------------------------


@dg.op
def broken_step() -> None:
    raise RuntimeError("the spool mount is gone\nsecond line")


@dg.job
def broken_job() -> None:
    broken_step()


def test_run_failure_notifies(channels: Settings, hook: Hook, smtp: tuple[Mailbox, int]) -> None:
    with dg.DagsterInstance.ephemeral() as instance:
        result = broken_job.execute_in_process(instance=instance, raise_on_error=False)
        assert not result.success
        context = dg.build_run_status_sensor_context(
            sensor_name="run_failure_alerts",
            dagster_event=result.get_run_failure_event(),
            dagster_instance=instance,
            dagster_run=result.dagster_run,
        )
        build_run_failure_sensor(PiperResource())(context)
    run_id = result.dagster_run.run_id
    (body,) = hook.bodies(HOOK)
    assert body["kind"] == "run_failed"
    assert body["job"] == "broken_job" and body["run_id"] == run_id
    assert body["error"].startswith("step broken_step: RuntimeError: the spool mount is gone")
    assert "second line" not in body["error"]
    assert body["dagster_url"] == f"http://127.0.0.1:3000/runs/{run_id}"
    assert hook.bodies("/slack")[0]["text"].startswith("[piper] run failed: broken_job")
    assert smtp[0].messages[0]["Subject"] == f"[piper] run failed: broken_job ({run_id[:8]})"
    with connect(channels.warehouse_path) as con:
        assert con.execute(
            "SELECT count(*), bool_and(ok), any_value(run_id) FROM alert_log"
            " WHERE kind = 'run_failed'"
        ).fetchone() == (4, True, run_id)


# --- `piper alerts test` ------------------------------------------------------------------


def test_alerts_test_exit_codes(
    channels: Settings, hook: Hook, smtp: tuple[Mailbox, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = runner.invoke(app, ["alerts", "test"])
    assert out.exit_code == 0, out.output
    lines = out.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == ["webhook", "slack", "teams", "email"]
    assert all(": ok (" in line for line in lines)
    assert "secret" not in out.stdout  # the token in the webhook's address is never shown
    assert hook.bodies(HOOK)[0]["kind"] == "test"
    assert smtp[0].messages[0]["Subject"] == "[piper] test message"

    hook.status = 500
    out = runner.invoke(app, ["alerts", "test"])
    assert out.exit_code == 1
    assert "webhook: error (http://127.0.0.1:" in out.stdout
    assert "HTTP 500 Internal Server Error" in out.stdout
    assert "email: ok" in out.stdout

    for key in ("WEBHOOK_URL", "SLACK_WEBHOOK_URL", "TEAMS_WEBHOOK_URL", "SMTP_HOST"):
        monkeypatch.delenv(f"PIPER_ALERTS__{key}")
    out = runner.invoke(app, ["alerts", "test"])
    assert out.exit_code == 2
    assert out.stderr.startswith("piper: no alert channel is configured")
    assert len(out.stderr.strip().splitlines()) == 1


# --- settings -----------------------------------------------------------------------------


def test_secrets_refused_in_a_settings_file(
    piper_env: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "piper.toml"
    config.write_text('[alerts]\nslack_webhook_url = "https://hooks.slack.com/services/T/B/X"\n')
    monkeypatch.setenv("PIPER_CONFIG", str(config))
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert str(err.value) == (
        "alerts.slack_webhook_url is a secret: set it in the environment as"
        f" PIPER_ALERTS__SLACK_WEBHOOK_URL, not in {config}"
    )
    # Not secrets: fine in a file (a list of recipients too).
    config.write_text(
        '[alerts]\nsmtp_host = "smtp.example"\nsmtp_from = "p@x"\nsmtp_to = ["a@x", "b@x"]\n'
    )
    assert load_settings().alerts.recipients == ["a@x", "b@x"]
    # An SMTP host without recipients would send nothing, silently: refused.
    config.write_text('[alerts]\nsmtp_host = "smtp.example"\n')
    with pytest.raises(ConfigError, match=r"set alerts\.smtp_from and alerts\.smtp_to too"):
        load_settings()


def test_served_alerts_table(channels: Settings, hook: Hook) -> None:
    _evaluate(channels, [_invalid_rate(Status.FAIL)], T0)
    served = channels.serving_dir / "current" / "health_alerts.parquet"
    rows = duckdb.sql(
        f"SELECT state, channel, check_name, status FROM '{served}' ORDER BY channel"
    ).fetchall()
    assert rows == [
        ("sent", c, "invalid_rate", "FAIL") for c in ("email", "slack", "teams", "webhook")
    ]


def test_doctor_record_notifies_and_alerts_deliver_retries(
    piper_env: Settings, hook: Hook, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`piper doctor --record` is an evaluation path too; what it could not deliver,
    `piper alerts deliver` delivers once the channel is back."""
    from piper_dagster.checks.doctor import run_doctor

    settings = _settings(monkeypatch, webhook_url=hook.url("/hook"), attempts="1")
    with connect(settings.warehouse_path):
        pass  # `piper init`'s empty warehouse: every source family stale
    hook.status = 500
    report = run_doctor(settings, last=DAY, persist=True)
    assert report.exit_code == 2
    assert len(hook.bodies("/hook")) == 1  # one try (attempts=1), then the circuit opens
    assert len(_outbox(settings)) == 3
    hook.status = 200
    out = runner.invoke(app, ["alerts", "deliver"])
    assert out.exit_code == 0, out.output
    assert out.stdout.splitlines()[-1] == "3 of 3 delivered"
    families = sorted(b["scope"] for b in hook.bodies("/hook")[1:])
    assert families == ["artists", "farm", "storage"]
    # No run evaluated them: the link is the asset's checks.
    links = {b["dagster_url"] for b in hook.bodies("/hook")}
    assert links == {"http://127.0.0.1:3000/assets/spool_events?view=checks"}
    # Evaluated again: no state changed, nothing sent.
    run_doctor(settings, last=DAY, persist=True)
    assert len(hook.bodies("/hook")) == 4
