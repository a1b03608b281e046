"""What a notification says, and how each channel carries it.

A message is a flat dict of plain values (it is stored as JSON in the outbox, and a generic
webhook receives it as is); `text` and `title` are its human form, `slack`, `teams` and `email`
the channels' shapes of it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from email.message import EmailMessage
from typing import Any

from piper_dagster.settings import AlertsSettings

# What a message is about. "problem": a subject went to WARN/FAIL (or between them); "repeat":
# still WARN/FAIL after alerts.repeat_minutes; "resolved": back below alerts.min_severity.
PROBLEM = "problem"
REPEAT = "repeat"
RESOLVED = "resolved"
RUN_FAILED = "run_failed"
TEST = "test"

RUN_FAILURE_STATUS = "FAILURE"  # a failed run's status in the outbox and the log


@dataclass(frozen=True)
class Observation:
    """One recorded check outcome, as the alerts see it (built by checks.record)."""

    check: str
    asset: str
    scope: str
    partition_date: date | None
    status: str  # 'SKIP' | 'PASS' | 'WARN' | 'FAIL'
    value: float | None
    warn: float
    fail: float
    unit: str  # 'seconds' | 'ratio' | 'share'
    lower_is_worse: bool
    hint: str
    runbook: str  # the check's runbook section (a web address when checks.runbook_url is set)
    run_id: str | None  # the run that evaluated it (None: `piper doctor --record`)

    @property
    def subject(self) -> str:
        """What one state is kept for: check, asset, scope and spool partition."""
        day = self.partition_date.isoformat() if self.partition_date else "-"
        return f"{self.check}|{self.asset}|{self.scope}|{day}"


def format_value(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "seconds":
        return f"{value / 3600:.1f} h"
    return f"{value:.2%}"


def dagster_link(ui: str, *, run_id: str | None, asset: str | None = None) -> str:
    """The run in the Dagster UI, else the asset's checks."""
    base = ui.rstrip("/")
    if run_id:
        return f"{base}/runs/{run_id}"
    return f"{base}/assets/{asset}?view=checks" if asset else f"{base}/runs"


def check_message(
    o: Observation,
    kind: str,
    previous: str | None,
    since: datetime | None,
    cfg: AlertsSettings,
    at: datetime,
) -> dict[str, Any]:
    """The message for a check subject's state change (or repeat); `previous`: its last judged
    status (None: never judged before)."""
    was = previous or "not evaluated before"
    where = f"{o.check} on {o.asset}, scope {o.scope}"
    if o.partition_date:
        where += f", partition {o.partition_date.isoformat()}"
    if kind == RESOLVED:
        head = f"RESOLVED {o.check} ({o.scope}): now {o.status}, was {was}"
    elif kind == REPEAT:
        head = f"still {o.status}: {o.check} ({o.scope})"
    else:
        head = f"{o.status} {o.check} ({o.scope}): was {was}"
    if o.partition_date:
        head += f", partition {o.partition_date.isoformat()}"
    bad = "<" if o.lower_is_worse else ">"
    thresholds = (
        f"WARN {bad} {format_value(o.warn, o.unit)}, FAIL {bad} {format_value(o.fail, o.unit)}"
    )
    link = dagster_link(cfg.dagster_ui_url, run_id=o.run_id, asset=o.asset)
    lines = [
        f"{o.status} (was {was}): {where}",
        f"value {format_value(o.value, o.unit)} ({thresholds})",
        f"hint: {o.hint}" if o.hint else "",
        f"{o.status} since {since:%Y-%m-%d %H:%M} UTC" if since and kind == REPEAT else "",
        f"runbook: {o.runbook}",
        f"Dagster: {link}",
    ]
    return {
        "message_id": uuid.uuid4().hex,
        "kind": kind,
        "title": f"[piper] {head}",
        "text": "\n".join(line for line in lines if line),
        "check": o.check,
        "asset": o.asset,
        "scope": o.scope,
        "partition": o.partition_date.isoformat() if o.partition_date else None,
        "status": o.status,
        "previous_status": previous,
        "value": o.value,
        "value_text": format_value(o.value, o.unit),
        "warn_threshold": o.warn,
        "fail_threshold": o.fail,
        "thresholds_text": thresholds,
        "unit": o.unit,
        "hint": o.hint,
        "runbook_url": o.runbook,
        "dagster_url": link,
        "run_id": o.run_id,
        "at": at.isoformat(),
    }


def run_failure_message(
    job: str, run_id: str, error: str, cfg: AlertsSettings, at: datetime
) -> dict[str, Any]:
    """The message for a failed piper run."""
    first = (error.strip().splitlines() or ["(no error message)"])[0][:500]
    link = dagster_link(cfg.dagster_ui_url, run_id=run_id)
    return {
        "message_id": uuid.uuid4().hex,
        "kind": RUN_FAILED,
        "title": f"[piper] run failed: {job} ({run_id[:8]})",
        "text": f"The piper run {run_id} of job {job} failed.\nerror: {first}\nDagster: {link}",
        "job": job,
        "run_id": run_id,
        "status": RUN_FAILURE_STATUS,
        "previous_status": None,
        "error": first,
        "dagster_url": link,
        "at": at.isoformat(),
    }


def probe_message(cfg: AlertsSettings, at: datetime) -> dict[str, Any]:
    """`piper alerts test`: proves a channel reaches on-call."""
    link = dagster_link(cfg.dagster_ui_url, run_id=None)
    return {
        "message_id": uuid.uuid4().hex,
        "kind": TEST,
        "title": "[piper] test message",
        "text": f"A test message from `piper alerts test` at {at:%Y-%m-%d %H:%M:%S} UTC: this"
        f" channel reaches you.\nDagster: {link}",
        "status": "TEST",
        "previous_status": None,
        "dagster_url": link,
        "at": at.isoformat(),
    }


# --- the channels' shapes -----------------------------------------------------------------------

_FIELDS = (
    ("Check", "check"),
    ("Scope", "scope"),
    ("Partition", "partition"),
    ("Status", "status"),
    ("Previous", "previous_status"),
    ("Value", "value_text"),
    ("Thresholds", "thresholds_text"),
    ("Job", "job"),
    ("Run", "run_id"),
    ("Error", "error"),
)


def _facts(m: dict[str, Any]) -> list[tuple[str, str]]:
    return [(label, str(m[key])) for label, key in _FIELDS if m.get(key) not in (None, "")]


def slack_payload(m: dict[str, Any]) -> dict[str, Any]:
    """Slack incoming webhook: `text` (notifications, fallback) and Block Kit blocks."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": m["title"][:150]}},
    ]
    facts = _facts(m)
    if facts:
        blocks.append(
            {
                "type": "section",
                "fields": [{"type": "mrkdwn", "text": f"*{k}*\n{v}"} for k, v in facts[:10]],
            }
        )
    if m.get("hint"):
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*Hint*: {m['hint']}"}}
        )
    links = [f"<{m['dagster_url']}|Dagster>"]
    if m.get("runbook_url"):
        links.append(f"<{m['runbook_url']}|Runbook>")
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(links)}]})
    return {"text": f"{m['title']}\n{m['text']}", "blocks": blocks}


def teams_payload(m: dict[str, Any]) -> dict[str, Any]:
    """Teams incoming webhook (Workflows, and the older connectors): an Adaptive Card."""
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": m["title"],
            "weight": "Bolder",
            "size": "Medium",
            "wrap": True,
        },
        {"type": "FactSet", "facts": [{"title": k, "value": v} for k, v in _facts(m)]},
    ]
    if m.get("hint"):
        body.append({"type": "TextBlock", "text": f"Hint: {m['hint']}", "wrap": True})
    actions = [{"type": "Action.OpenUrl", "title": "Dagster", "url": m["dagster_url"]}]
    if str(m.get("runbook_url", "")).startswith("http"):
        actions.append({"type": "Action.OpenUrl", "title": "Runbook", "url": m["runbook_url"]})
    elif m.get("runbook_url"):
        body.append({"type": "TextBlock", "text": f"Runbook: {m['runbook_url']}", "wrap": True})
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": body,
                    "actions": actions,
                },
            }
        ],
    }


def email_message(m: dict[str, Any], cfg: AlertsSettings) -> EmailMessage:
    em = EmailMessage()
    em["Subject"] = m["title"]
    em["From"] = cfg.smtp_from
    em["To"] = ", ".join(cfg.recipients)
    em["X-Piper-Message-Id"] = m["message_id"]
    em.set_content(m["text"] + "\n")
    return em
