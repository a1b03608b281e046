"""`piper alerts`: prove the notification channels work, and deliver what waits in the outbox."""

from __future__ import annotations

import typer

from piper_dagster.cli.root import clear_errors
from piper_dagster.settings import load_settings

alerts_app = typer.Typer(
    help="Notifications: Slack, Teams, e-mail, a JSON webhook (docs/runbook.md#alerts).",
    no_args_is_help=True,
)


@alerts_app.command("test")
@clear_errors
def alerts_test() -> None:
    """Send a test message to every configured channel; exit 0 all ok, 1 one failed, 2 none set."""
    from piper_dagster.alerts import send_test

    failed = 0
    for channel, d in send_test(load_settings()):
        if d.ok:
            typer.echo(f"{channel.name}: ok ({channel.where}, {d.attempts} attempt(s))")
        else:
            failed += 1
            typer.secho(f"{channel.name}: error ({channel.where}): {d.error}", fg=typer.colors.RED)
    if failed:
        raise typer.Exit(1)


@alerts_app.command("deliver")
@clear_errors
def alerts_deliver() -> None:
    """Deliver the messages waiting in the outbox now (a check evaluation does it too)."""
    from piper_dagster.alerts import deliver

    settings = load_settings()
    settings.require_data_root()
    deliveries = deliver(settings)
    for d in deliveries:
        state = "ok" if d.ok else "not tried" if d.ok is None else f"error: {d.error}"
        typer.echo(f"{d.channel}: {d.title}: {state}")
    typer.echo(f"{sum(bool(d.ok) for d in deliveries)} of {len(deliveries)} delivered")
    if any(d.ok is False for d in deliveries):
        raise typer.Exit(1)
