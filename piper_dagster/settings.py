"""Settings, defined once: defaults in piper_dagster/conf/settings.toml, overrides from PIPER_<SECTION>__<KEY>."""

from __future__ import annotations

import difflib
import os
import threading
import tomllib
from collections.abc import Iterable
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from dotenv import dotenv_values
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Field,
    SecretStr,
    ValidationError,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

# The repository (dashboards, docs, compose file); the package carries what the code needs.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
PACKAGE_ROOT = Path(__file__).resolve().parent
DEFAULT_TOML = PACKAGE_ROOT / "conf" / "settings.toml"


ENV_PREFIX = "PIPER_"
ENV_FILE = Path(".env")  # read from the working directory, like pydantic-settings does
# PIPER_* variables that are not settings, so that the typo check lets them through: the
# settings file itself, and docker compose's host paths (docker-compose.yml mounts them; the
# containers get PIPER_PATHS__*), which an operator exports in the shell piper runs in too.
OTHER_PIPER_VARIABLES = {
    "PIPER_CONFIG": "a settings file over piper_dagster/conf/settings.toml",
    "PIPER_RAW_ROOT": "docker compose: the spool on the host",
    "PIPER_DATA_ROOT": "docker compose: piper's data on the host",
}


class ConfigError(Exception):
    """A setting or a directory is wrong; the message says which and how to fix it."""


def _valid_cron(value: str) -> str:
    # croniter is the parser Dagster vendors for its schedules; like Dagster, only the five-field
    # form is accepted. Not Dagster itself: the settings are core, and dagster takes ~1.5 s to import.
    from croniter import CroniterBadDateError, croniter

    if not croniter.is_valid(value) or len(croniter.expand(value)[0]) != 5:
        raise ValueError(f"{value!r} is not a cron expression (e.g. '*/15 * * * *')")
    try:
        croniter(value).get_next(float)  # a date that never comes (31 February) never runs
    except CroniterBadDateError:
        raise ValueError(f"{value!r} is not a cron expression that ever runs") from None
    return value


class PathsSettings(BaseModel):
    raw_root: Path = Field(description="the telemetry spool (read-only for piper)")
    data_root: Path = Field(description="piper's data: warehouse, Parquet, quarantine")


class IngestSettings(BaseModel):
    settle_seconds: float = Field(ge=0, description="a file settles this long after its mtime")
    skew_tolerance_seconds: float = Field(ge=0, description="ts after file mtime beyond this")
    batch_bytes: int = Field(ge=1 << 20, description="bytes read per batch (memory bound)")
    memory_limit: str = Field(
        pattern=r"^[0-9]+(\.[0-9]+)?\s*(B|KB|MB|GB|KiB|MiB|GiB)$",
        description="DuckDB memory limit of every piper connection (it spills beyond)",
    )
    start_date: date = Field(description="first daily partition")
    parquet_compact_min_files: int = Field(
        ge=2,
        description="an event type of a date with this many Parquet files is compacted to one",
    )


class PrivacySettings(BaseModel):
    mask_users: bool = Field(description="replace user names in silver by a keyed hash")
    user_hash_key: SecretStr = Field(description="key of the user hash (env only, never in git)")

    @model_validator(mode="after")
    def _key_when_masking(self) -> PrivacySettings:
        if self.mask_users and not self.user_hash_key.get_secret_value():
            raise ValueError("privacy.mask_users needs a key: set PIPER_PRIVACY__USER_HASH_KEY")
        return self


class DagsterSettings(BaseModel):
    storage: Literal["sqlite", "postgres"] = Field(
        description="instance storage: embedded SQLite, or Postgres (DAGSTER_PG_* env)"
    )
    sensor_interval_seconds: int = Field(ge=1, description="how often the sensors tick")
    retry_after_seconds: int = Field(
        ge=1, description="a requested run neither finished nor alive after this is requested again"
    )
    wait_seconds: int = Field(
        ge=1,
        description="a piper command waiting for the duckdb pool or the warehouse lock gives up",
    )


class ServingSettings(BaseModel):
    keep_versions: int = Field(
        ge=2, description="published versions of the serving layer kept (in-flight readers)"
    )
    keep_seconds: int = Field(
        ge=0, description="a superseded version is deleted only after this long"
    )
    health_days: int = Field(ge=1, description="days of pipeline-health aggregates published")


class RetentionSettings(BaseModel):
    """What `piper prune` (and its daily schedule) may delete; 0 keeps forever (docs/runbook.md)."""

    silver_days: int = Field(
        ge=0, description="event dates older than this: silver_events, silver domains, Parquet"
    )
    quarantine_expire_days: int = Field(
        ge=0, description="quarantined lines older than this expire (deleted without replay)"
    )
    quarantine_replayed_days: int = Field(
        ge=0, description="records of replayed quarantine lines older than this"
    )
    bookkeeping_days: int = Field(
        ge=0,
        description="ingest_batches, spool_anomalies, alert_log, check results older than this",
    )
    spool_checkpoint_days: int = Field(
        ge=0, description="checkpoints of files gone from the spool, last read before this"
    )
    dagster_run_days: int = Field(
        ge=0, description="finished routine Dagster runs (sensors, schedules) older than this"
    )
    prune_cron: Annotated[str, AfterValidator(_valid_cron)] = Field(
        description="when the prune schedule runs (cron)"
    )


class ChecksSettings(BaseModel):
    """Thresholds of the pipeline checks (docs/runbook.md): WARN first, FAIL beyond."""

    # Freshness: age of the newest (non-skewed) event of each source family, in hours.
    freshness_artists_warn_hours: float = Field(gt=0, description="artists' machines: WARN age")
    freshness_artists_fail_hours: float = Field(gt=0, description="artists' machines: FAIL age")
    freshness_farm_warn_hours: float = Field(gt=0, description="farm poller: WARN age")
    freshness_farm_fail_hours: float = Field(gt=0, description="farm poller: FAIL age")
    freshness_storage_warn_hours: float = Field(gt=0, description="storage auditor: WARN age")
    freshness_storage_fail_hours: float = Field(gt=0, description="storage auditor: FAIL age")
    freshness_interval_minutes: int = Field(
        ge=1, le=1440, description="how often the freshness sensor evaluates freshness (no run)"
    )
    # Volume: a partition's events / the median of the same weekday of the previous weeks.
    volume_baseline_weeks: int = Field(ge=1, le=52, description="same-weekday days in the baseline")
    volume_min_baseline_events: int = Field(ge=1, description="smaller baselines are not judged")
    volume_warn_ratio: float = Field(gt=0, lt=1, description="WARN below this share of baseline")
    volume_fail_ratio: float = Field(gt=0, lt=1, description="FAIL below this share of baseline")
    # Invalid rate: quarantined lines / lines read, per spool partition.
    invalid_rate_warn: float = Field(ge=0, le=1, description="WARN above this share of lines")
    invalid_rate_fail: float = Field(ge=0, le=1, description="FAIL above this share of lines")
    invalid_rate_min_lines: int = Field(ge=1, description="fewer lines read are not judged")
    # Clock skew: skewed events / events, per spool partition (contract §6).
    clock_skew_warn: float = Field(ge=0, le=1, description="WARN above this share of events")
    clock_skew_fail: float = Field(ge=0, le=1, description="FAIL above this share of events")
    # Refresh backlog: hours the oldest event date has waited in the refresh ledger for its
    # silver and gold (held-back dates apart).
    refresh_backlog_warn_hours: float = Field(gt=0, description="refresh backlog: WARN age")
    refresh_backlog_fail_hours: float = Field(gt=0, description="refresh backlog: FAIL age")
    top_n: int = Field(ge=1, le=100, description="files / hosts listed in a check's detail")
    # Free space where piper writes (`piper doctor --installation`), in GiB: WARN / FAIL below.
    free_space_warn_gib: float = Field(ge=0, description="free space: WARN below (GiB)")
    free_space_fail_gib: float = Field(ge=0, description="free space: FAIL below (GiB)")
    runbook_url: str = Field(
        pattern=r"^(https?://\S+)?$",
        description="the runbook's web address for the Dagster UI; empty: its repository path",
    )

    @model_validator(mode="after")
    def _ordered(self) -> ChecksSettings:
        problems = []
        for family in ("artists", "farm", "storage"):
            warn = getattr(self, f"freshness_{family}_warn_hours")
            fail = getattr(self, f"freshness_{family}_fail_hours")
            if warn > fail:
                problems.append(f"freshness_{family}_warn_hours > freshness_{family}_fail_hours")
        if self.volume_warn_ratio < self.volume_fail_ratio:
            problems.append("volume_warn_ratio < volume_fail_ratio")
        for name in ("invalid_rate", "clock_skew"):
            if getattr(self, f"{name}_warn") > getattr(self, f"{name}_fail"):
                problems.append(f"{name}_warn > {name}_fail")
        if self.refresh_backlog_warn_hours > self.refresh_backlog_fail_hours:
            problems.append("refresh_backlog_warn_hours > refresh_backlog_fail_hours")
        if self.free_space_warn_gib < self.free_space_fail_gib:
            problems.append("free_space_warn_gib < free_space_fail_gib")
        if problems:
            raise ValueError("checks: WARN must come before FAIL: " + ", ".join(problems))
        return self


def _comma_list(value: Any) -> Any:
    # TOML may give a list; the environment gives one string: both become "a@x, b@y".
    return ", ".join(str(v) for v in value) if isinstance(value, list) else value


class AlertsSettings(BaseModel):
    """Where piper's notifications go (docs/runbook.md#alerts): secrets from the environment only."""

    webhook_url: SecretStr = Field(description="generic JSON webhook (env only: may hold a token)")
    slack_webhook_url: SecretStr = Field(description="Slack incoming webhook (env only)")
    teams_webhook_url: SecretStr = Field(description="Microsoft Teams incoming webhook (env only)")
    smtp_host: str = Field(description="SMTP server for e-mail; empty: no e-mail")
    smtp_port: int = Field(ge=1, le=65535, description="SMTP port (587: STARTTLS, 25: plain)")
    smtp_username: str = Field(description="SMTP login; empty: no login")
    smtp_password: SecretStr = Field(description="SMTP password (env only)")
    smtp_from: str = Field(description="the From address of alert e-mails")
    smtp_to: Annotated[str, BeforeValidator(_comma_list)] = Field(
        description="recipients: a TOML list or one comma-separated string"
    )
    smtp_starttls: bool = Field(description="upgrade the SMTP connection with STARTTLS")
    min_severity: Literal["WARN", "FAIL"] = Field(description="checks below this never notify")
    repeat_minutes: int = Field(
        ge=0, description="re-notify a still-failing check after this long; 0: never"
    )
    timeout_seconds: float = Field(gt=0, le=60, description="one delivery attempt's timeout")
    attempts: int = Field(ge=1, le=10, description="tries per channel and delivery round")
    give_up_hours: float = Field(gt=0, description="an undelivered message is dropped after this")
    dagster_ui_url: str = Field(
        pattern=r"^https?://\S+$", description="the Dagster UI's address, for links in messages"
    )

    @property
    def recipients(self) -> list[str]:
        return [a.strip() for a in self.smtp_to.split(",") if a.strip()]

    @model_validator(mode="after")
    def _email_complete(self) -> AlertsSettings:
        if self.smtp_host and not (self.smtp_from and self.recipients):
            raise ValueError("alerts.smtp_host is set: set alerts.smtp_from and alerts.smtp_to too")
        return self


# Settings that hold a secret (a token in a webhook's address, a password): the environment (or
# .env) only, never a settings file that could be committed.
SECRET_SETTINGS: dict[str, tuple[str, ...]] = {
    "alerts": ("webhook_url", "slack_webhook_url", "teams_webhook_url", "smtp_password"),
}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="PIPER_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
    )

    paths: PathsSettings
    ingest: IngestSettings
    privacy: PrivacySettings
    dagster: DagsterSettings
    serving: ServingSettings
    checks: ChecksSettings
    alerts: AlertsSettings

    retention: RetentionSettings

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Every source is checked for names piper does not know before any is read: a typo
        # must stop piper, not leave a default silently in force.
        dotenv = _read_dotenv()
        _refuse_unknown_env(os.environ, "the environment")
        _refuse_unknown_env(dotenv, str(ENV_FILE.absolute()))
        return (
            init_settings,
            env_settings,
            dotenv_settings,
            _TomlSource(settings_cls, _toml_settings(dotenv)),
        )

    # --- derived paths: the storage layout under data_root ------------------------------------

    @cached_property
    def raw_root(self) -> Path:
        return self.paths.raw_root.expanduser().absolute()

    @cached_property
    def data_root(self) -> Path:
        return self.paths.data_root.expanduser().absolute()

    @property
    def warehouse_path(self) -> Path:
        return self.data_root / "warehouse" / "telemetry.duckdb"

    @property
    def silver_events_dir(self) -> Path:
        return self.data_root / "silver" / "events"

    @property
    def quarantine_dir(self) -> Path:
        return self.data_root / "quarantine" / "invalid_jsonl"

    @property
    def serving_dir(self) -> Path:
        """What Grafana reads: versions/<id>/*.parquet and the `current` symlink."""
        return self.data_root / "serving"

    @property
    def dagster_home(self) -> Path:
        return self.data_root / "dagster"

    # --- checks that give one clear message ------------------------------------------------

    def require_raw_root(self) -> Path:
        if not self.raw_root.is_dir():
            raise ConfigError(
                f"spool directory {self.raw_root} does not exist "
                "(set paths.raw_root or PIPER_PATHS__RAW_ROOT)"
            )
        return self.raw_root

    def require_data_root(self) -> Path:
        root = self.data_root
        try:
            root.mkdir(parents=True, exist_ok=True)
            # One probe per process and thread: concurrent callers (two publishers) must not
            # delete each other's probe.
            probe = root / f".piper-write-probe-{os.getpid()}-{threading.get_ident()}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise ConfigError(
                f"data directory {root} is not writable ({exc.strerror}); "
                "set paths.data_root or PIPER_PATHS__DATA_ROOT"
            ) from None
        return root


# --- the settings files, and the names they may use ----------------------------------------


class _TomlSource(PydanticBaseSettingsSource):
    """The defaults of piper_dagster/conf/settings.toml with PIPER_CONFIG's overrides merged over them."""

    def __init__(self, settings_cls: type[BaseSettings], data: dict[str, Any]) -> None:
        super().__init__(settings_cls)
        self._data = data

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False  # unused: __call__ gives all

    def __call__(self) -> dict[str, Any]:
        return self._data


def setting_names() -> dict[str, list[str]]:
    """Section -> its keys, from the model (the one definition of what exists)."""
    return {
        section: list(field.annotation.model_fields)  # type: ignore[union-attr]
        for section, field in Settings.model_fields.items()
    }


def _env_names() -> list[str]:
    names = [
        f"{ENV_PREFIX}{section}__{key}".upper()
        for section, keys in setting_names().items()
        for key in keys
    ]
    return names + list(OTHER_PIPER_VARIABLES)


def _did_you_mean(name: str, candidates: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f": did you mean {close[0]}?" if close else ""


def _refuse_unknown_env(variables: Any, where: str) -> None:
    # pydantic-settings matches names case-insensitively: so does the check.
    known = _env_names()
    unknown = sorted(
        name.upper()
        for name in variables
        if name.upper().startswith(ENV_PREFIX) and name.upper() not in known
    )
    if unknown:
        raise ConfigError(
            "; ".join(
                f"unknown setting {name} in {where}{_did_you_mean(name, known)}" for name in unknown
            )
            + " (every setting: .env.example)"
        )


def _read_dotenv() -> dict[str, str | None]:
    return dict(dotenv_values(ENV_FILE)) if ENV_FILE.is_file() else {}


def _read_toml(path: Path, what: str) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"{what} {path} does not exist") from None
    except IsADirectoryError:
        raise ConfigError(f"{what} {path} is a directory, not a TOML file") from None
    except OSError as exc:
        raise ConfigError(f"{what} {path} cannot be read ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:  # its message carries the line and column
        raise ConfigError(f"{what} {path} is not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{what} {path} is not UTF-8 text") from None


def _refuse_unknown_toml(data: dict[str, Any], path: Path) -> None:
    names = setting_names()
    problems = []
    for section, value in data.items():
        if not isinstance(value, dict) and section not in names:
            # A key outside any section: most likely one of a section's keys, placed too high.
            owners = [f"[{s}] {section}" for s, keys in names.items() if section in keys]
            hint = f": did you mean {owners[0]}?" if owners else ""
            problems.append(f"unknown key {section!r} outside any section of {path}{hint}")
        elif section not in names:
            problems.append(
                f"unknown section [{section}] in {path}"
                + _did_you_mean(f"[{section}]", [f"[{s}]" for s in names])
            )
        elif isinstance(value, dict):
            for key in value:
                if key not in names[section]:
                    problems.append(
                        f"unknown key {key!r} in [{section}] of {path}"
                        + _did_you_mean(key, names[section])
                    )
    if problems:
        raise ConfigError("; ".join(problems) + f" (every setting: {DEFAULT_TOML})")


def _refuse_secrets(data: dict[str, Any], path: Path) -> None:
    for section, keys in SECRET_SETTINGS.items():
        values = data.get(section)
        for key in keys:
            if isinstance(values, dict) and values.get(key):
                raise ConfigError(
                    f"{section}.{key} is a secret: set it in the environment as"
                    f" {ENV_PREFIX}{section.upper()}__{key.upper()}, not in {path}"
                )


def _config_path(dotenv: dict[str, str | None]) -> Path | None:
    # PIPER_CONFIG may come from the environment or the .env file (.env.example documents it);
    # an empty value means unset, like an unset variable expanded by a shell or compose.
    value = os.environ.get("PIPER_CONFIG") or dotenv.get("PIPER_CONFIG") or ""
    return Path(value).expanduser() if value else None


def _toml_settings(dotenv: dict[str, str | None]) -> dict[str, Any]:
    """The defaults, then PIPER_CONFIG's keys over them: that file holds only what it changes."""
    data = _read_toml(DEFAULT_TOML, "the default settings file")
    _refuse_unknown_toml(data, DEFAULT_TOML)
    _refuse_secrets(data, DEFAULT_TOML)
    override_path = _config_path(dotenv)
    if override_path is not None:
        override = _read_toml(override_path.absolute(), "PIPER_CONFIG: the settings file")
        _refuse_unknown_toml(override, override_path.absolute())
        _refuse_secrets(override, override_path.absolute())
        for section, value in override.items():
            if isinstance(value, dict) and isinstance(data.get(section), dict):
                data[section] = {**data[section], **value}
            else:
                data[section] = value
    return data


def load_settings() -> Settings:
    """Load settings, turning validation errors into one ConfigError message."""
    try:
        return Settings()  # type: ignore[call-arg]
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg'].removeprefix('Value error, ')}"
            for err in exc.errors()
        )
        raise ConfigError(f"invalid piper settings: {problems}") from None
