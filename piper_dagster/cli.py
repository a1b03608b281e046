"""`piper`: the operator's command line (typer). Every materialization goes through Dagster."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from functools import wraps
from pathlib import Path
from typing import Annotated, Any

import typer

from piper_dagster.contract import Reason
from piper_dagster.models import GOLD_MODELS, SILVER_MODELS
from piper_dagster.settings import PROJECT_ROOT, ConfigError, Settings, load_settings
from piper_dagster.spool.generate import DAMAGE_KINDS
from piper_dagster.warehouse import WarehouseError

app = typer.Typer(
    help="piper: telemetry of the sandwich USD pipeline, on Dagster.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
contract_app = typer.Typer(help="The telemetry contract.", no_args_is_help=True)
catalog_app = typer.Typer(
    help="The metrics catalog (piper_dagster/conf/metrics_catalog.yml).", no_args_is_help=True
)
spool_app = typer.Typer(help="The telemetry spool.", no_args_is_help=True)
quarantine_app = typer.Typer(help="Quarantined lines (contract §5).", no_args_is_help=True)
grafana_app = typer.Typer(
    help="Grafana: dashboards and provisioning generated from the catalog.", no_args_is_help=True
)
app.add_typer(contract_app, name="contract")
app.add_typer(quarantine_app, name="quarantine")
app.add_typer(grafana_app, name="grafana")
app.add_typer(catalog_app, name="catalog")
app.add_typer(spool_app, name="spool")


def _clear_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Bad settings, options, directories or warehouse: one clear line on stderr and exit 2."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (ConfigError, WarehouseError) as exc:
            typer.secho(f"piper: {exc}", err=True, fg=typer.colors.RED)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:  # Ctrl-C or SIGTERM (runner.install_signal_handlers)
            typer.secho("piper: interrupted", err=True, fg=typer.colors.RED)
            raise typer.Exit(130) from None
        except Exception as exc:
            from piper_dagster.runner import Interrupted

            if not isinstance(exc, Interrupted):
                raise
            typer.secho(f"piper: {exc}", err=True, fg=typer.colors.RED)
            raise typer.Exit(130) from None

    return wrapper


# How --help shows the date and time options (parsed by _day / _moment: a bad value is one line).
DATE = "YYYY-MM-DD"
MOMENT = "YYYY-MM-DDTHH:MM"


class _Options:
    """The global options (set by the app callback) for the command being run."""

    verbose = False
    command = "piper"


@app.callback()
def _global_options(
    ctx: typer.Context,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose", help="Also print Dagster's event log (always in the instance and the UI)."
        ),
    ] = False,
) -> None:
    from piper_dagster.runner import install_signal_handlers

    _Options.verbose = verbose
    _Options.command = ctx.invoked_subcommand or "piper"
    install_signal_handlers()  # SIGTERM ends a command like Ctrl-C, cleaning up on the way
    # piper's own warnings (e.g. "waiting for the warehouse lock") reach the operator.
    logger = logging.getLogger("piper_dagster")
    if not any(isinstance(h, _StderrLines) for h in logger.handlers):
        logger.addHandler(_StderrLines(logging.WARNING))


class _StderrLines(logging.Handler):
    """A log record as one line on the current stderr (the message alone)."""

    def emit(self, record: logging.LogRecord) -> None:
        typer.echo(record.getMessage(), err=True)


def _day(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"{option}: {value!r} is not a date (YYYY-MM-DD)") from None


def _moment(value: str, option: str) -> datetime:
    """An ISO 8601 time; without an offset it is UTC."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"{option}: {value!r} is not a time (e.g. 2026-03-05T08:00)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _partition_bounds() -> tuple[date, date]:
    # Imported here: the partitions load the settings, whose errors _clear_errors reports.
    from piper_dagster.defs.partitions import partition_bounds

    return partition_bounds(load_settings())


def _settings() -> Settings:
    return load_settings()


# --- init ----------------------------------------------------------------------------------------


@app.command()
@_clear_errors
def init() -> None:
    """Create the data directory, the warehouse schema and the Dagster instance."""
    from piper_dagster.dagster_home import ensure_dagster_home
    from piper_dagster.warehouse import connect

    settings = _settings()
    settings.require_raw_root()
    settings.require_data_root()
    with connect(settings.warehouse_path):
        pass
    home = ensure_dagster_home(settings)
    # Grafana's views need files to read from its first start on, even before any data.
    publication = _publish(settings)
    typer.echo(f"spool      {settings.raw_root}")
    typer.echo(f"warehouse  {settings.warehouse_path}")
    typer.echo(f"serving    {settings.serving_dir / 'current'} (version {publication.version})")
    typer.echo(f"dagster    {home}")


def _publish(settings: Settings) -> Any:
    from piper_dagster.serving import publish

    return publish(settings)


@app.command("publish")
@_clear_errors
def publish_cmd() -> None:
    """Publish the serving layer Grafana reads (done after every gold run; this forces one)."""
    settings = _settings()
    publication = _publish(settings)
    typer.echo(f"published {publication.version} in {publication.seconds:.2f} s:")
    for table, rows in publication.rows.items():
        typer.echo(f"  {table:<32}{rows:>9} rows")
    typer.echo(f"Grafana reads {settings.serving_dir / 'current'}")


# --- ingest --------------------------------------------------------------------------------------


def run_assets(
    settings: Settings,
    selection: list[str],
    first: date,
    last: date,
    spool_config: dict[str, Any] | None = None,
    *,
    command: str | None = None,
) -> Any:
    """One named Dagster run of the selected assets over first..last, in this process,
    recorded in the instance (UI); see piper_dagster/runner.py for its waits and signals."""
    import dagster as dg

    from piper_dagster import runner
    from piper_dagster.dagster_home import ensure_dagster_home
    from piper_dagster.definitions import build_definitions
    from piper_dagster.defs.keys import COMMAND_TAG, RANGE_TAG, SPOOL_EVENTS
    from piper_dagster.defs.partitions import range_tags

    ensure_dagster_home(settings)
    if SPOOL_EVENTS not in selection:
        job_name = "refresh_models"
    elif len(selection) == 1:
        job_name = "ingest_spool"
    else:
        job_name = "ingest_and_refresh"
    run_config = {"ops": {SPOOL_EVENTS: {"config": spool_config}}} if spool_config else None
    tags = {
        **range_tags(first, last),
        COMMAND_TAG: command or _Options.command,
        RANGE_TAG: f"{first}..{last}",
    }
    job = build_definitions(settings).resolve_job_def(job_name)
    keys = [dg.AssetKey(name) for name in selection]
    # Only a strict subset is passed: subsetting adds back every check of the selected assets
    # (the freshness check, which runs on its own schedule).
    whole = set(keys) == set(job.asset_layer.executable_asset_keys)
    with _Terminal() as term:
        return runner.execute(
            settings,
            job,
            asset_selection=None if whole else keys,
            tags=tags,
            run_config=run_config,
            verbose=_Options.verbose,
            say=term.say,
            on_progress=term.progress if SPOOL_EVENTS in selection else None,
        )


class _Terminal:
    """piper's own output while a run executes: one line per event worth saying, and a bar."""

    def __enter__(self) -> _Terminal:
        from rich.console import Console

        # The terminal as it is now: during a step Dagster redirects fd 2 into its compute log.
        self.tty: Any = None
        if sys.stderr.isatty():
            self.tty = os.fdopen(os.dup(sys.stderr.fileno()), "w", buffering=1)
        self.console = Console(file=self.tty, stderr=True, highlight=False)
        self.bar: Any = None
        self.task: Any = None
        self.said_at = 0.0
        return self

    def say(self, line: str) -> None:
        self.console.print(line, markup=False, soft_wrap=True)  # one line, whatever the width

    def progress(self, p: Any) -> None:
        """An IngestProgress: files, bytes, batches, rate and ETA."""
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        if not self.console.is_terminal:
            # A log file (cron): a plain line at the start, then at most every 30 s.
            now = time.monotonic()
            if p.batches == 0 or now - self.said_at >= 30 or p.files_done == p.files_total:
                self.said_at = now
                self.say(
                    f"ingest: {p.files_done}/{p.files_total} files,"
                    f" {p.bytes_done / 1e6:.1f}/{p.bytes_total / 1e6:.1f} MB, {p.batches} batches"
                )
            return
        if self.bar is None:
            self.bar = Progress(
                TextColumn("ingest"),
                BarColumn(),
                DownloadColumn(),
                TextColumn("{task.fields[files]} files, {task.fields[batches]} batches"),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=self.console,
            )
            self.bar.start()
            self.task = self.bar.add_task("ingest", total=p.bytes_total, files="", batches=0)
        self.bar.update(
            self.task,
            completed=p.bytes_done,
            total=p.bytes_total,
            files=f"{p.files_done}/{p.files_total}",
            batches=p.batches,
        )

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()
        if self.tty is not None:
            self.tty.close()


def materialize_spool(settings: Settings, first: date, last: date, **config: Any) -> Any:
    """One Dagster run of spool_events over first..last."""
    return run_assets(settings, ["spool_events"], first, last, config or None)


@app.command()
@_clear_errors
def ingest(
    dry_run: Annotated[bool, typer.Option(help="Show the plan, read nothing.")] = False,
    limit: Annotated[
        int | None, typer.Option(metavar="N", help="Read at most N files (N >= 1).")
    ] = None,
) -> None:
    """Materialize the spool partitions that have settled new bytes (one Dagster run)."""
    if limit is not None and limit < 1:  # 0 would plan, then read nothing: a mistake
        raise ConfigError(f"--limit {limit}: read at least 1 file (or leave --limit out)")
    from piper_dagster.ingest.pipeline import load_states, plan_ingest
    from piper_dagster.spool.discovery import scan_spool
    from piper_dagster.warehouse import connect

    settings = _settings()
    raw_root = settings.require_raw_root()
    settings.require_data_root()
    with connect(settings.warehouse_path) as con:
        states = load_states(con)
    plan = plan_ingest(
        scan_spool(raw_root),
        states,
        now_ns=time.time_ns(),
        settle_seconds=settings.ingest.settle_seconds,
    )
    typer.echo(f"plan: {plan.summary()}")
    lo, hi = _partition_bounds()
    dates = [d for d in plan.spool_dates_to_read if lo <= d <= hi]
    outside = sorted(set(plan.spool_dates_to_read) - set(dates))
    if outside:
        typer.secho(
            f"warning: spool dates outside the partitions {lo}..{hi} are not ingested: "
            + ", ".join(d.isoformat() for d in outside),
            err=True,
            fg=typer.colors.YELLOW,
        )
    for d in dates:
        files = [p for p in plan.to_read if p.file.spool_date == d]
        typer.echo(f"  {d}  {len(files)} files to read")
    if dry_run:
        if not dates:
            typer.echo("nothing to ingest")
        return
    if not dates:
        typer.echo("nothing to ingest")
        # What a dead run or a failed refresh left in the refresh ledger is still refreshed.
        _refresh_waiting(settings)
        return
    config = {"limit": limit} if limit is not None else {}
    result = materialize_spool(settings, dates[0], dates[-1], **config)
    try:
        _report_run(result, "spool_events")
    except typer.Exit:
        # A failed run too: the batches it committed are in the ledger (not on Ctrl-C).
        _refresh_waiting(settings)
        raise
    _refresh_waiting(settings)


def _report_checks(result: Any) -> None:
    """The asset checks of the run that did not pass, with their hint and runbook section."""
    for ev in result.get_asset_check_evaluations():
        if ev.passed:
            continue
        meta = ev.metadata
        status = meta["status"].value if "status" in meta else ev.severity.value
        hint = meta["hint"].value if "hint" in meta else ""
        where = meta["partition"].value if "partition" in meta else ""
        runbook = meta["runbook"].value if "runbook" in meta else ""
        typer.secho(
            f"check {ev.check_name} {status} {where}: {hint} (see {runbook})",
            err=True,
            fg="red" if status == "FAIL" else "yellow",
        )


def run_url(run_id: str) -> str:
    from piper_dagster.runner import run_url as url

    return url(run_id)


def _materializations(result: Any, asset: str) -> list[Any]:
    """The run's materializations of one asset (of a multi-asset too: not by node name)."""
    return [
        event.event_specific_data.materialization
        for event in result.get_asset_materialization_events()
        if event.asset_key is not None and event.asset_key.to_user_string() == asset
    ]


def _metadata_dates(mats: list[Any], key: str) -> list[str]:
    """The union of a date-list metadata entry over a run's materializations (one per
    partition of a range run, each with the run's metadata): said once, not per partition."""
    days: set[str] = set()
    for mat in mats:
        value = mat.metadata.get(key)
        if value is not None and value.value:
            days.update(value.value)
    return sorted(days)


def _report_run(result: Any, node: str, *, url: bool = True) -> None:
    """The spool run's outcome; `url`: end with the run's UI address (else _report_models does)."""
    _report_checks(result)
    # Held-back dates are named once, by _refresh_waiting (from the refresh ledger).
    mats = _materializations(result, node)
    blocked = _metadata_dates(mats, "blocked_partitions")
    if not result.success:
        if blocked:  # expected: a blocking check did its job; a result, not a crash
            typer.secho(
                f"run {result.run_id} stopped by a blocking check on spool partitions"
                f" {', '.join(blocked)}: {run_url(result.run_id)}",
                err=True,
                fg="red",
            )
        else:
            typer.secho(
                f"run {result.run_id} failed: see the Dagster UI {run_url(result.run_id)}",
                err=True,
                fg="red",
            )
        raise typer.Exit(1)
    if mats:
        meta = mats[0].metadata
        keys = ("files_read", "lines", "events", "duplicates", "invalid", "skewed", "seconds")
        typer.echo(
            f"run {result.run_id}: " + ", ".join(f"{k} {meta[k].value}" for k in keys if k in meta)
        )
        if "invalid_by_reason" in meta and meta["invalid_by_reason"].value:
            typer.echo(f"  invalid by reason: {json.dumps(meta['invalid_by_reason'].value)}")
    if url:
        typer.echo(f"  {run_url(result.run_id)}")


MODEL_NAMES = [m.name for m in (*SILVER_MODELS, *GOLD_MODELS)]
REASONS = [r.value for r in Reason]


def _date_range(start: str, end: str, settings: Settings) -> tuple[date, date]:
    from piper_dagster.warehouse import connect

    lo, hi = _partition_bounds()
    if start and end:
        first, last = _day(start, "--start"), _day(end, "--end")
    else:
        with connect(settings.warehouse_path, read_only=True) as con:
            row = con.execute(
                "SELECT min(event_date), max(event_date) FROM silver_events"
            ).fetchone()
        if row is None or row[0] is None:
            raise ConfigError("the warehouse has no events yet: run `piper ingest` first")
        first = _day(start, "--start") if start else row[0]
        last = _day(end, "--end") if end else row[1]
    first, last = max(first, lo), min(last, hi)
    if first > last:
        raise ConfigError(f"empty date range (partitions exist from {lo} to {hi})")
    return first, last


@app.command()
@_clear_errors
def materialize(
    model: Annotated[str, typer.Option(help=f"One model: {', '.join(MODEL_NAMES)}.")] = "",
    start: Annotated[
        str, typer.Option(metavar=DATE, help="First event date (default: the oldest).")
    ] = "",
    end: Annotated[
        str, typer.Option(metavar=DATE, help="Last event date (default: the newest).")
    ] = "",
) -> None:
    """Rebuild silver and gold (or one model) for a range of event dates, in one Dagster run."""
    settings = _settings()
    if model and model not in MODEL_NAMES:
        raise ConfigError(f"unknown model {model!r}; choose from {', '.join(MODEL_NAMES)}")
    first, last = _date_range(start, end, settings)
    selection = [model] if model else MODEL_NAMES
    problems = _upstream_problems(settings, selection, first, last)
    if problems:
        # Not a success with 0 rows: the inputs are not there (or not current), say which.
        for line in problems:
            typer.secho(f"piper: {line}", err=True, fg="red")
        raise typer.Exit(1)
    typer.echo(f"materializing {len(selection)} models for {first}..{last}")
    result = run_assets(settings, selection, first, last)
    _report_models(result, selection)


def _upstream_problems(
    settings: Settings, selection: list[str], first: date, last: date
) -> list[str]:
    """One line per input of the selected models that this run does not build and that is empty,
    or held back (its dates wait in the refresh ledger behind a failed blocking check), for
    first..last, with the fix."""
    import duckdb

    from piper_dagster.models import MODELS
    from piper_dagster.refresh_ledger import read_backlog
    from piper_dagster.warehouse import connect

    everything = f"`piper materialize --start {first} --end {last}` (every silver and gold model)"
    problems = []
    with connect(settings.warehouse_path, read_only=True) as con:
        held = [d for d in read_backlog(con).held_back if first <= d.event_date <= last]
        for name in selection:
            model = MODELS[name]
            start, end = model.window(first, last)
            for dep in model.deps:
                if dep in selection:
                    continue
                if held and dep != "silver_events":
                    dates = [d.event_date for d in held]
                    spool = sorted({s for d in held for s in d.blocked_spool_dates})
                    problems.append(
                        f"{name}: its input {dep} is held back for event dates {_dates_text(dates)}"
                        f" (spool partitions {_dates_text(spool)} failed invalid_rate): fix the"
                        " cause and `piper quarantine replay`, or rebuild silver and gold as they"
                        f" are with {everything} (docs/runbook.md#invalid-rate)"
                    )
                    continue
                try:
                    row = con.execute(
                        f"SELECT count(*) FROM {dep} WHERE event_date >= ? AND event_date < ?",
                        [start, end],
                    ).fetchone()
                except duckdb.CatalogException:
                    row = (0,)  # never built
                if row is not None and row[0] == 0:
                    fix = (
                        "no event was ingested for these dates: `piper ingest`, or other dates"
                        if dep == "silver_events"
                        else f"build it first with {everything}"
                    )
                    problems.append(
                        f"{name}: its input {dep} has no rows for {start}..{end - timedelta(days=1)}"
                        f": {fix}"
                    )
    return problems


@app.command()
@_clear_errors
def backfill(
    start: Annotated[str, typer.Option(metavar=DATE, help="First spool date.")],
    end: Annotated[str, typer.Option(metavar=DATE, help="Last spool date.")],
) -> None:
    """Re-ingest the spool dates start..end from byte 0, then silver and gold, in one run.

    Events and quarantined lines already in the warehouse are recognised and not counted twice.
    """
    settings = _settings()
    settings.require_raw_root()
    first, last = _day(start, "--start"), _day(end, "--end")
    lo, hi = _partition_bounds()
    first, last = max(first, lo), min(last, hi)
    if first > last:
        raise ConfigError(f"empty date range (partitions exist from {lo} to {hi})")
    result = run_assets(settings, ["spool_events", *MODEL_NAMES], first, last, {"reread": True})
    try:
        _report_run(result, "spool_events", url=False)
        _report_models(result, MODEL_NAMES)
    except typer.Exit:
        _refresh_waiting(settings)  # a blocked run's other dates
        raise
    # Event dates outside start..end (late sessions, clock skew) still wait in the ledger.
    _refresh_waiting(settings)


def _report_models(result: Any, names: list[str]) -> None:
    if not result.success:
        typer.secho(
            f"run {result.run_id} failed: see the Dagster UI {run_url(result.run_id)}",
            err=True,
            fg="red",
        )
        raise typer.Exit(1)
    for name in names:
        mats = _materializations(result, name)
        if mats:
            typer.echo(f"  {name:<32}{mats[0].metadata['rows'].value:>9} rows")
    typer.echo(f"  {run_url(result.run_id)}")


def _dates_text(dates: list[date]) -> str:
    """Dates for a line of text: each one when few, else contiguous ranges."""
    from piper_dagster.refresh_ledger import contiguous_ranges

    if len(dates) <= 7:
        return ", ".join(d.isoformat() for d in sorted(dates))
    return ", ".join(f"{a}..{b}" if a != b else str(a) for a, b in contiguous_ranges(set(dates)))


def _refresh_waiting(settings: Settings) -> None:
    """Drain the refresh ledger: one Dagster run of every silver and gold model per contiguous
    range of waiting event dates (shown in the UI like the sensor's); held-back dates are named
    once, with the fix, and left for an operator (docs/runbook.md#refresh-backlog)."""
    from piper_dagster.refresh_ledger import drain_ranges, read_backlog
    from piper_dagster.warehouse import connect

    if not settings.warehouse_path.exists():
        return
    with connect(settings.warehouse_path, read_only=True) as con:
        backlog = read_backlog(con)
    held = [d.event_date for d in backlog.held_back]
    if held:
        spool = sorted({s for d in backlog.held_back for s in d.blocked_spool_dates})
        typer.secho(
            f"silver and gold held back for event dates {_dates_text(held)} (events from spool"
            f" partitions {_dates_text(spool)}, whose invalid_rate check failed): fix the cause"
            " and `piper quarantine replay`, or rebuild them as they are with"
            f" `piper materialize --start {min(held)} --end {max(held)}`"
            " (docs/runbook.md#invalid-rate)",
            err=True,
            fg="red",
        )
    lo, hi = _partition_bounds()
    outside = [d.event_date for d in backlog.to_refresh if not lo <= d.event_date <= hi]
    if outside:
        typer.secho(
            f"warning: event dates {_dates_text(outside)} are outside the partitions {lo}..{hi}"
            " and cannot be refreshed (ingest.start_date)",
            err=True,
            fg=typer.colors.YELLOW,
        )
    for waiting in drain_ranges(backlog, lo, hi):
        typer.echo(f"refreshing silver and gold for {waiting.first}..{waiting.last}")
        _report_models(run_assets(settings, MODEL_NAMES, waiting.first, waiting.last), MODEL_NAMES)


# --- doctor --------------------------------------------------------------------------------------


@app.command()
@_clear_errors
def doctor(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
    day: Annotated[
        str,
        typer.Option(
            "--date", metavar=DATE, help="Last spool partition (default: the newest read)."
        ),
    ] = "",
    days: Annotated[int, typer.Option(min=1, help="Spool partitions up to --date.")] = 1,
    as_of: Annotated[
        str,
        typer.Option(metavar=MOMENT, help="Evaluate as of this UTC time (ISO 8601), default now."),
    ] = "",
    record: Annotated[
        bool, typer.Option(help="Record the outcomes in pipeline_check_results (read-write).")
    ] = False,
) -> None:
    """Run the pipeline checks on the warehouse, no daemon needed; exit 0 pass, 1 warn, 2 fail."""
    from piper_dagster.checks import Status
    from piper_dagster.checks.doctor import EXIT_CODES, format_table, run_doctor

    try:
        report = run_doctor(
            _settings(),
            last=_day(day, "--date") if day else None,
            days=days,
            as_of=_moment(as_of, "--as-of") if as_of else None,
            persist=record,
        )
    except (ConfigError, WarehouseError) as exc:
        if as_json:  # a script reads stdout: the failure is a report too
            error = {"status": "FAIL", "exit_code": EXIT_CODES[Status.FAIL], "error": str(exc)}
            typer.echo(json.dumps(error, indent=2))
        raise
    if as_json:
        typer.echo(json.dumps(report.as_dict(), indent=2, default=str))
    else:
        typer.echo(format_table(report))
    raise typer.Exit(report.exit_code)


# --- quarantine ----------------------------------------------------------------------------------


@quarantine_app.command("replay")
@_clear_errors
def quarantine_replay(
    reason: Annotated[
        str,
        typer.Option(
            metavar="REASON",
            help="Only lines quarantined for this reason: " + ", ".join(REASONS) + ".",
        ),
    ] = "",
    since: Annotated[str, typer.Option(metavar=DATE, help="Only spool dates from this one.")] = "",
    dry_run: Annotated[bool, typer.Option(help="Count what would pass, change nothing.")] = False,
    refresh: Annotated[
        bool,
        typer.Option(
            "--refresh/--no-refresh",
            help="Then rebuild silver and gold for the touched event dates (the refresh ledger).",
        ),
    ] = True,
) -> None:
    """Re-validate quarantined lines with the current contract; ingest those that pass, once."""
    from piper_dagster.contract import Reason
    from piper_dagster.quarantine import replay
    from piper_dagster.refresh_ledger import contiguous_ranges

    if reason and reason not in {r.value for r in Reason}:
        raise ConfigError(
            f"unknown reason {reason!r}; choose from {', '.join(r.value for r in Reason)}"
        )
    settings = _settings()
    result = replay(
        settings,
        reason=reason or None,
        since=_day(since, "--since") if since else None,
        dry_run=dry_run,
    )
    typer.echo(
        f"{'dry run: ' if dry_run else ''}{result.replayed} quarantined lines re-validated:"
        f" {result.events} events ingested, {result.duplicates} duplicates,"
        f" {sum(result.still_invalid.values())} still invalid"
        + (f" ({result.reclassified} under another reason)" if result.reclassified else "")
    )
    for r, n in sorted(result.still_invalid.items()):
        typer.echo(f"  {r:<28}{n:>7}")
    if result.exported:
        typer.echo(f"exported {result.exported}")
    if dry_run:
        return
    if result.spool_dates:
        # The replay changed these partitions' invalid rate: evaluate the checks again, so a
        # replay that fixes a blocked partition releases its held-back dates.
        from piper_dagster.checks import PARTITION_CHECKS
        from piper_dagster.defs.checks import run_checks

        for first, last in contiguous_ranges(set(result.spool_dates)):
            run_checks(settings, PARTITION_CHECKS, first, last, run_id=None)
    if refresh:
        _refresh_waiting(settings)
        return
    ranges = contiguous_ranges(set(result.event_dates))
    if ranges:
        typer.echo("silver and gold need a refresh for these event dates:")
        for first, last in ranges:
            typer.echo(f"  piper materialize --start {first} --end {last}")


# --- contract ------------------------------------------------------------------------------------


@contract_app.command("schema")
def contract_schema() -> None:
    """Print the JSON Schema of a telemetry event, generated from the contract models."""
    from piper_dagster.contract import event_json_schema

    typer.echo(json.dumps(event_json_schema(), indent=2))


@contract_app.command("docs")
@_clear_errors
def contract_docs(
    check: Annotated[
        bool, typer.Option("--check", help="Only tell whether the file is current (exit 1 if not).")
    ] = False,
    path: Annotated[
        Path | None, typer.Option(help="The page to rewrite (default: docs/contract.md).")
    ] = None,
) -> None:
    """Rewrite the generated tables of docs/contract.md from the contract models."""
    from piper_dagster.contract_docs import CONTRACT_DOC, render, stale_blocks

    target = path or CONTRACT_DOC
    if not target.is_file():
        raise ConfigError(f"{target} is missing: give the page with --path")
    stale = stale_blocks(target)
    if check:
        if stale:
            typer.echo(
                f"{target}: generated blocks out of date with the models: {', '.join(stale)};"
                " run `piper contract docs`"
            )
            raise typer.Exit(1)
        typer.echo(f"{target}: up to date with the models")
        return
    target.write_text(render(target.read_text(encoding="utf-8")), encoding="utf-8")
    typer.echo(f"{target}: rewrote {', '.join(stale) if stale else 'nothing (already current)'}")


# --- catalog -------------------------------------------------------------------------------------


@catalog_app.command("list")
@_clear_errors
def catalog_list(
    model: Annotated[str, typer.Option(help="Only the metrics of this gold model.")] = "",
) -> None:
    """The gold metrics: model, column, unit, which direction is good, thresholds."""
    from piper_dagster.catalog import format_table, load_catalog

    entries = [e for e in load_catalog() if not model or e.model == model]
    if not entries:
        raise ConfigError(f"no metric of model {model!r} in the catalog")
    typer.echo(format_table(entries))


# --- grafana -------------------------------------------------------------------------------------


@grafana_app.command("generate")
@_clear_errors
def grafana_generate(
    check: Annotated[
        bool, typer.Option(help="Only report files that differ; exit 1 if any.")
    ] = False,
) -> None:
    """Write grafana/dashboards/ and grafana/provisioning/ from the catalog and the serving layer."""
    from piper_dagster import grafana

    if check:
        differ = grafana.stale()
        for rel in differ:
            typer.echo(f"out of date: {rel}")
        if differ:
            raise typer.Exit(1)
        typer.echo("grafana files are up to date")
        return
    for rel in grafana.write():
        typer.echo(f"wrote {rel}")


# --- spool generate ------------------------------------------------------------------------------


@spool_app.command("generate")
@_clear_errors
def spool_generate(
    out: Annotated[Path, typer.Option(help="Spool directory to write (raw_root).")],
    start: Annotated[
        str,
        typer.Option(metavar=DATE, help="First spool date (default: --days days before today)."),
    ] = "",
    days: Annotated[int, typer.Option(min=1, help="Spool dates written.")] = 3,
    artists: Annotated[int, typer.Option(min=1, help="Artists' workstations.")] = 12,
    events_per_artist_day: Annotated[
        int, typer.Option(min=1, help="Events per artist and day.")
    ] = 60,
    seed: Annotated[int, typer.Option(help="Same seed, same spool.")] = 0,
    damage: Annotated[
        str,
        typer.Option(
            metavar="KIND,...",
            help="Comma-separated damage kinds, 'all', or '' for a clean spool. Kinds: "
            + ", ".join(DAMAGE_KINDS)
            + ".",
        ),
    ] = "",
    skewed_hosts: Annotated[
        int, typer.Option(min=0, help="Hosts whose clock is wrong (clock-skewed events).")
    ] = 0,
    damage_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of events damaged, per damage kind.")
    ] = 0.02,
    bulk_events: Annotated[
        int, typer.Option(help="Write this many clean events fast (benchmarks) instead.")
    ] = 0,
    bulk_files: Annotated[int, typer.Option(min=1, help="Files of --bulk-events.")] = 200,
) -> None:
    """Write a realistic, deterministic sample spool (optionally damaged)."""
    from piper_dagster.spool.generate import GenerateOptions, generate_bulk, generate_spool

    # Default: the `days` days up to yesterday, so every file is already settled.
    first = _day(start, "--start") if start else date.today() - timedelta(days=days)
    if bulk_events:
        summary = generate_bulk(out, events=bulk_events, files=bulk_files, start=first, seed=seed)
    else:
        kinds = set(DAMAGE_KINDS) if damage == "all" else {k for k in damage.split(",") if k}
        unknown = kinds - set(DAMAGE_KINDS)
        if unknown:
            raise ConfigError(
                f"unknown damage kind(s) {sorted(unknown)}; choose from {', '.join(DAMAGE_KINDS)}"
            )
        options = GenerateOptions(
            start=first,
            days=days,
            artists=artists,
            events_per_artist_day=events_per_artist_day,
            seed=seed,
            damage=frozenset(kinds),
            damage_rate=damage_rate,
            skewed_hosts=skewed_hosts,
        )
        summary = generate_spool(out, options)
    typer.echo(json.dumps(summary.as_dict(), indent=2, default=str))


# --- demo ----------------------------------------------------------------------------------------

DEMO_DAMAGE_RATE = 0.002


@app.command()
@_clear_errors
def demo(
    directory: Annotated[Path, typer.Option("--dir", help="Where the demo lives.")] = Path(
        "var/demo"
    ),
    days: Annotated[
        int, typer.Option(min=1, help="Days of sample telemetry, up to yesterday.")
    ] = 7,
    ui: Annotated[bool, typer.Option(help="Start the Dagster UI at the end.")] = True,
    port: Annotated[int, typer.Option(help="Port of the Dagster UI.")] = 3000,
) -> None:
    """Sample spool -> every asset -> summary -> the Dagster UI on it."""
    from piper_dagster.spool.generate import GenerateOptions, generate_spool

    directory = directory.absolute()
    spool, data = directory / "spool", directory / "data"
    os.environ["PIPER_PATHS__RAW_ROOT"] = str(spool)
    os.environ["PIPER_PATHS__DATA_ROOT"] = str(data)
    os.environ.setdefault("DAGSTER_HOME", str(data / "dagster"))
    settings = load_settings()
    # The days up to yesterday: realistic mtimes of today's files would lie in the future.
    first = date.today() - timedelta(days=days)
    if not spool.exists():
        typer.echo(f"generating a {days}-day sample spool in {spool} ...")
        summary = generate_spool(
            spool,
            # Every kind of damage at a realistic rate: the invalid-rate check warns without
            # blocking gold (docs/runbook.md); one host with a wrong clock.
            GenerateOptions(
                start=first,
                days=days,
                damage=frozenset(DAMAGE_KINDS),
                damage_rate=DEMO_DAMAGE_RATE,
                skewed_hosts=1,
            ),
        )
        typer.echo(f"  {summary.files} files, {summary.lines} lines, {summary.valid_events} events")
    else:
        _say_reused(directory, spool, data)
    settings.require_data_root()
    lo, hi = _partition_bounds()
    # One run: the spool dates of the sample (and the day before, for sessions across
    # midnight), then every silver and gold model for the same dates. Not today: the sample
    # has no data for it, and the volume check would rightly call an empty day a drop.
    yesterday = date.today() - timedelta(days=1)
    result = run_assets(
        settings,
        ["spool_events", *MODEL_NAMES],
        max(lo, first - timedelta(days=1)),
        min(hi, yesterday),
    )
    try:
        _report_run(result, "spool_events", url=False)
        _report_models(result, MODEL_NAMES)
    except typer.Exit:
        _refresh_waiting(settings)  # names the held-back dates, refreshes the others
        raise
    _print_summary(settings)
    _print_grafana(settings, spool, data)
    if ui:
        typer.echo(f"\nDagster UI on http://127.0.0.1:{port} (Ctrl-C to stop)")
        env = {**os.environ}
        from piper_dagster.dagster_home import WORKSPACE_YAML

        cmd = [sys.executable, "-m", "dagster", "dev", "-w", str(WORKSPACE_YAML), "-p", str(port)]
        subprocess.run(cmd, env=env, check=False)


def _say_reused(directory: Path, spool: Path, data: Path) -> None:
    """A second demo reads the spool it generated before: say so, and which data it is."""
    files = sorted(spool.rglob("*.jsonl"))
    dates = sorted({f.name[:10] for f in files})
    span = f", spool dates {dates[0]}..{dates[-1]}" if dates else ""
    typer.echo(f"reusing the sample spool in {spool} ({len(files)} files{span})")
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    if dates and dates[-1] < yesterday:  # made days ago: the days since stay empty
        typer.echo(f"  it ends on {dates[-1]}: the days up to {yesterday} have no sample data")
    if data.exists():
        # Ingest is exactly-once: files already read are not read again.
        typer.echo(f"reusing the demo data in {data} (what was read before is not read again)")
    typer.echo(f"  (remove {directory} for a fresh demo)")


def _print_grafana(settings: Settings, spool: Path, data: Path) -> None:
    """Where Grafana reads from (the gold run published it), and how to start it."""
    from piper_dagster.dagster_home import DAGSTER_URL
    from piper_dagster.grafana import GRAFANA_URL
    from piper_dagster.serving import SERVED, current_version

    serving = settings.serving_dir
    typer.echo(
        f"\nGrafana reads the serving layer {serving / 'current'} "
        f"(version {current_version(serving)}: {len(SERVED)} Parquet tables), never the warehouse."
    )
    typer.echo("Grafana and Dagster in Docker on this data (choose the two passwords):")
    typer.echo(
        f"  cd {PROJECT_ROOT} && \\\n"  # where docker-compose.yml is
        f"  PIPER_RAW_ROOT={spool} PIPER_DATA_ROOT={data} \\\n"
        "  GRAFANA_ADMIN_PASSWORD=... DAGSTER_PG_PASSWORD=... docker compose up -d --build"
    )
    typer.echo(
        f"  then Grafana on {GRAFANA_URL} (anonymous viewer), the Dagster UI on {DAGSTER_URL}"
    )


def _print_summary(settings: Settings) -> None:
    from piper_dagster.warehouse import connect

    with connect(settings.warehouse_path, read_only=True) as con:
        typer.echo("\nsilver_events by event_date:")
        for d, n, skewed in con.execute(
            "SELECT event_date, count(*), count(*) FILTER (clock_skewed) FROM silver_events"
            " GROUP BY 1 ORDER BY 1"
        ).fetchall():
            typer.echo(f"  {d}  {n:>7} events  {skewed:>4} skewed")
        typer.echo("quarantine by reason:")
        for reason, n in con.execute(
            "SELECT reason, count(*) FROM quarantine GROUP BY 1 ORDER BY 2 DESC"
        ).fetchall():
            typer.echo(f"  {reason:<28}{n:>6}")
        for model in GOLD_MODELS:
            typer.echo(f"\n{model.name} (latest rows):")
            rel = con.sql(f"SELECT * FROM {model.name} ORDER BY {model.key} DESC LIMIT 4")
            typer.echo(str(rel))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
