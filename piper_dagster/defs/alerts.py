"""The run failure sensor: a failed piper run notifies the alert channels (piper_dagster.alerts).

Check state changes notify from the core (checks.record); only a run's failure needs Dagster to
say it happened. Dagster advances a run status sensor's cursor even when its function raises, so
the function never raises for a delivery problem: the core queues the message in the outbox (or
sends it directly when the warehouse stays locked) and retries a failed channel later.
"""

from __future__ import annotations

import dagster as dg

from piper_dagster.alerts import notify_run_failure
from piper_dagster.defs.keys import RUN_FAILURE_SENSOR
from piper_dagster.defs.resources import PiperResource


def _error_line(context: dg.RunFailureSensorContext) -> str:
    """The first step failure's error (what broke), else the run failure's own message."""
    for event in context.get_step_failure_events():
        data = event.step_failure_data
        if data is not None and data.error is not None:
            error = data.error
            # Dagster wraps an op's exception ("Error occurred while executing op ..."): the
            # innermost cause is what broke.
            while error.cause is not None:
                error = error.cause
            return f"step {event.step_key}: {error.message.strip()}"
    return context.failure_event.message or "the run failed"


def build_run_failure_sensor(piper: PiperResource) -> dg.SensorDefinition:
    """The sensor notifying a failed run of this code location's jobs."""

    @dg.run_failure_sensor(
        name=RUN_FAILURE_SENSOR,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Notifies the alert channels ([alerts] settings) when a piper run fails.",
    )
    def run_failure_alerts(context: dg.RunFailureSensorContext) -> None:
        """Sends a "run failed" message (job, run, first error line, UI link) to every channel."""
        run = context.dagster_run
        deliveries = notify_run_failure(
            piper.settings(), run.job_name, run.run_id, _error_line(context)
        )
        for d in deliveries:
            if d.ok:
                context.log.info(f"run failure of {run.run_id} sent via {d.channel}")
            else:
                context.log.warning(f"run failure of {run.run_id} via {d.channel}: {d.error}")

    return run_failure_alerts
