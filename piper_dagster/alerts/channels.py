"""The channels: a generic JSON webhook, Slack and Teams incoming webhooks (HTTP POST with the
standard library's urllib), e-mail (smtplib). Each send raises DeliveryError, or returns."""

from __future__ import annotations

import json
import smtplib
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from piper_dagster.alerts.message import email_message, slack_payload, teams_payload
from piper_dagster.settings import AlertsSettings

WEBHOOK, SLACK, TEAMS, EMAIL = "webhook", "slack", "teams", "email"
CHANNELS = (WEBHOOK, SLACK, TEAMS, EMAIL)
BACKOFF_SECONDS = 0.5  # before the 2nd try of a round; doubled before each next one


class DeliveryError(Exception):
    """A channel did not take a message; `retry`: worth trying again (a 5xx, a refused
    connection, a timeout), not a refusal that will not change (a 4xx, bad credentials)."""

    def __init__(self, reason: str, *, retry: bool) -> None:
        super().__init__(reason)
        self.retry = retry


@dataclass(frozen=True)
class Channel:
    name: str
    where: str  # shown to operators: the address without its path (which carries the token)
    send: Callable[[dict[str, Any]], None]


def _where(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def post_json(url: str, body: dict[str, Any], timeout: float) -> None:
    request = urllib.request.Request(
        url,
        data=json.dumps(body, default=str).encode(),
        headers={"Content-Type": "application/json", "User-Agent": "piper-alerts"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read(65536)
    except urllib.error.HTTPError as exc:
        raise DeliveryError(
            f"HTTP {exc.code} {exc.reason}", retry=exc.code >= 500 or exc.code in (408, 429)
        ) from None
    except urllib.error.URLError as exc:
        raise DeliveryError(f"cannot reach {_where(url)}: {exc.reason}", retry=True) from None
    except (TimeoutError, OSError) as exc:
        raise DeliveryError(f"{_where(url)}: {exc or type(exc).__name__}", retry=True) from None


def send_email(message: dict[str, Any], cfg: AlertsSettings) -> None:
    try:
        with smtplib.SMTP(cfg.smtp_host, cfg.smtp_port, timeout=cfg.timeout_seconds) as smtp:
            if cfg.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if cfg.smtp_username:
                smtp.login(cfg.smtp_username, cfg.smtp_password.get_secret_value())
            smtp.send_message(email_message(message, cfg))
    except (smtplib.SMTPAuthenticationError, smtplib.SMTPRecipientsRefused) as exc:
        raise DeliveryError(f"SMTP {cfg.smtp_host}: {exc}", retry=False) from None
    except (smtplib.SMTPException, OSError) as exc:
        reason = str(exc) or type(exc).__name__
        raise DeliveryError(f"SMTP {cfg.smtp_host}:{cfg.smtp_port}: {reason}", retry=True) from None


def configured(cfg: AlertsSettings) -> dict[str, Channel]:
    """The channels with an address in the settings, by name."""
    out: dict[str, Channel] = {}
    timeout = cfg.timeout_seconds
    for name, secret, shape in (
        (WEBHOOK, cfg.webhook_url, lambda m: m),
        (SLACK, cfg.slack_webhook_url, slack_payload),
        (TEAMS, cfg.teams_webhook_url, teams_payload),
    ):
        url = secret.get_secret_value()
        if url:
            out[name] = Channel(
                name,
                _where(url),
                lambda m, url=url, shape=shape: post_json(url, shape(m), timeout),
            )
    if cfg.smtp_host:
        out[EMAIL] = Channel(
            EMAIL,
            f"smtp://{cfg.smtp_host}:{cfg.smtp_port} to {', '.join(cfg.recipients)}",
            lambda m: send_email(m, cfg),
        )
    return out


def send_with_retry(
    channel: Channel,
    message: dict[str, Any],
    attempts: int,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[str | None, int]:
    """Send, retrying a retryable failure with backoff: (None, tries) or (the last error, tries).
    Bounded: `attempts` tries, each bounded by the channel's timeout, and the backoffs between."""
    error: DeliveryError | None = None
    for i in range(attempts):
        try:
            channel.send(message)
            return None, i + 1
        except DeliveryError as exc:
            error = exc
            if not exc.retry or i == attempts - 1:
                return str(exc), i + 1
            sleep(BACKOFF_SECONDS * 2**i)
    return str(error), attempts
