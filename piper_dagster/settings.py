"""Settings, defined once: defaults in conf/settings.toml, overrides from PIPER_<SECTION>__<KEY>."""

from __future__ import annotations

import os
import threading
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TOML = PROJECT_ROOT / "conf" / "settings.toml"


class ConfigError(Exception):
    """A setting or a directory is wrong; the message says which and how to fix it."""


class PathsSettings(BaseModel):
    raw_root: Path = Field(description="the telemetry spool (read-only for piper)")
    data_root: Path = Field(description="piper's data: warehouse, Parquet, quarantine")


class IngestSettings(BaseModel):
    settle_seconds: float = Field(ge=0, description="a file settles this long after its mtime")
    skew_tolerance_seconds: float = Field(ge=0, description="ts after file mtime beyond this")
    batch_bytes: int = Field(ge=1 << 20, description="bytes read per batch (memory bound)")
    memory_limit: str = Field(
        pattern=r"^[0-9]+(\.[0-9]+)?\s*(B|KB|MB|GB|KiB|MiB|GiB)$",
        description="DuckDB memory limit of the ingest (it spills beyond)",
    )
    start_date: date = Field(description="first daily partition")


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


class ChecksSettings(BaseModel):
    """Thresholds of the pipeline checks (docs/runbook.md): WARN first, FAIL beyond."""

    # Freshness: age of the newest (non-skewed) event of each source family, in hours.
    freshness_artists_warn_hours: float = Field(gt=0, description="artists' machines: WARN age")
    freshness_artists_fail_hours: float = Field(gt=0, description="artists' machines: FAIL age")
    freshness_farm_warn_hours: float = Field(gt=0, description="farm poller: WARN age")
    freshness_farm_fail_hours: float = Field(gt=0, description="farm poller: FAIL age")
    freshness_storage_warn_hours: float = Field(gt=0, description="storage auditor: WARN age")
    freshness_storage_fail_hours: float = Field(gt=0, description="storage auditor: FAIL age")
    freshness_cron: str = Field(
        pattern=r"^\S+(\s+\S+){4}$", description="when the freshness schedule runs (cron)"
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
    top_n: int = Field(ge=1, le=100, description="files / hosts listed in a check's detail")
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
        if problems:
            raise ValueError("checks: WARN must come before FAIL: " + ", ".join(problems))
        return self


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

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = Path(os.environ.get("PIPER_CONFIG", DEFAULT_TOML))
        return (
            init_settings,
            env_settings,
            dotenv_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=toml),
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


def load_settings() -> Settings:
    """Load settings, turning validation errors into one ConfigError message."""
    try:
        return Settings()  # type: ignore[call-arg]
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"invalid piper settings: {problems}") from None
