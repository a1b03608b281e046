"""Notifications (issue #15): check state changes and failed runs, sent to a JSON webhook, Slack,
Teams and e-mail through an outbox in the warehouse. Dagster-free; docs/design.md#notifications."""

from piper_dagster.alerts.channels import CHANNELS, Channel, DeliveryError, configured
from piper_dagster.alerts.deliver import (
    Delivery,
    deliver,
    deliver_quietly,
    enqueue,
    notify_checks,
    notify_run_failure,
    pending,
    send_direct,
    send_test,
)
from piper_dagster.alerts.message import Observation

__all__ = [
    "CHANNELS",
    "Channel",
    "Delivery",
    "DeliveryError",
    "Observation",
    "configured",
    "deliver",
    "deliver_quietly",
    "enqueue",
    "notify_checks",
    "notify_run_failure",
    "pending",
    "send_direct",
    "send_test",
]
