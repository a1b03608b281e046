"""The metrics catalog (piper_dagster/conf/metrics_catalog.yml): what each gold column means, its unit, which
direction is good, its warn/fail thresholds, and how its values add up (a rate through its
denominator): the single source of those rules, which the dashboards read."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from piper_dagster.models import GOLD_MODELS
from piper_dagster.settings import PACKAGE_ROOT, ConfigError

CATALOG_PATH = PACKAGE_ROOT / "conf" / "metrics_catalog.yml"

Good = Literal["up", "down", "neutral"]
Level = Literal["ok", "warn", "fail"]
# How values of several rows add up: counts and sizes sum, a rate through its denominator,
# percentiles and peaks take the worst (a p95 of p95s would mean nothing).
Aggregate = Literal["sum", "rate", "max"]


class MetricEntry(BaseModel):
    """One metric: a non-grain column of a gold model."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, description="the metric, as in contract §7")
    model: str = Field(description="the gold table holding it")
    column: str = Field(min_length=1, description="its column in that table")
    unit: str = Field(min_length=1, description="what one unit of the value is")
    description: str = Field(min_length=1, description="one operator-facing sentence")
    good: Good = Field(description="which direction is better")
    headline: bool = Field(default=False, description="one of the headline metrics")
    warn: float | None = Field(default=None, description="bad beyond this, in the bad direction")
    fail: float | None = Field(default=None, description="worse beyond this")
    aggregate: Aggregate = Field(description="how values of several rows add up")
    denominator: str | None = Field(
        default=None, description="a rate's denominator column in its model; None: no gold column"
    )

    @model_validator(mode="after")
    def _aggregation(self) -> MetricEntry:
        # A rate states its denominator, even a missing one (null), so that no rate is ever
        # added up by a rule nobody wrote down.
        if self.aggregate == "rate" and "denominator" not in self.model_fields_set:
            raise ValueError(f"{self.name}: a rate declares its denominator (null if none)")
        if self.aggregate != "rate" and self.denominator is not None:
            raise ValueError(f"{self.name}: only a rate has a denominator")
        if (self.unit == "ratio") != (self.aggregate == "rate"):
            raise ValueError(f"{self.name}: a ratio adds up as a rate, and only a ratio does")
        return self

    def aggregate_sql(self) -> str:
        """The SQL expression adding this metric up over the rows of a GROUP BY (a DOUBLE)."""
        column, denominator = self.column, self.denominator
        if self.aggregate != "rate":
            return f"{self.aggregate}({column})::DOUBLE"
        if denominator is None:
            raise ValueError(f"{column} has no denominator column: it cannot be added up")
        # The sum of rate * denominator over the sum of denominators is the rate of the whole,
        # exactly; days whose rate is NULL (a denominator of 0) add nothing to either side.
        return (
            f"sum({column} * {denominator}) / nullif(sum({denominator})"
            f" FILTER (WHERE {column} IS NOT NULL), 0)"
        )

    @model_validator(mode="after")
    def _thresholds(self) -> MetricEntry:
        if self.warn is None and self.fail is None:
            return self
        if self.good == "neutral":
            raise ValueError(f"{self.name}: a neutral metric has no warn/fail threshold")
        # fail is the worse threshold: lower when up is good, higher when down is good.
        if (
            self.warn is not None
            and self.fail is not None
            and (self.fail > self.warn if self.good == "up" else self.fail < self.warn)
        ):
            raise ValueError(f"{self.name}: fail must be beyond warn in the bad direction")
        return self

    def level(self, value: float | None) -> Level | None:
        """ok / warn / fail for a value, None when there is no value or no threshold."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return None
        if self.warn is None and self.fail is None:
            return None

        def beyond(threshold: float | None) -> bool:
            if threshold is None:
                return False
            return value < threshold if self.good == "up" else value > threshold

        if beyond(self.fail):
            return "fail"
        if beyond(self.warn):
            return "warn"
        return "ok"


class _Grain(BaseModel):
    model_config = ConfigDict(extra="forbid")

    columns: dict[str, str]  # grain column -> description
    models: dict[str, list[str]]  # gold model -> its grain columns, in table order


class _CatalogFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grain: _Grain
    metrics: list[MetricEntry]

    @model_validator(mode="after")
    def _consistent(self) -> _CatalogFile:
        gold = {m.name for m in GOLD_MODELS}
        if set(self.grain.models) != gold:
            raise ValueError(f"grain.models must list exactly the gold models: {sorted(gold)}")
        for model, cols in self.grain.models.items():
            undescribed = [c for c in cols if c not in self.grain.columns]
            if undescribed:
                raise ValueError(f"grain of {model}: no description for {undescribed}")
        seen_names: set[str] = set()
        seen_columns: set[tuple[str, str]] = set()
        for m in self.metrics:
            if m.model not in gold:
                raise ValueError(f"{m.name}: unknown gold model {m.model!r}")
            if m.name in seen_names:
                raise ValueError(f"{m.name}: listed twice")
            if (m.model, m.column) in seen_columns:
                raise ValueError(f"{m.model}.{m.column}: two metrics for one column")
            if m.column in self.grain.models[m.model]:
                raise ValueError(f"{m.name}: {m.column} is a grain column of {m.model}")
            seen_names.add(m.name)
            seen_columns.add((m.model, m.column))
        counts = {(m.model, m.column) for m in self.metrics if m.aggregate == "sum"}
        for m in self.metrics:
            if m.denominator is not None and (m.model, m.denominator) not in counts:
                raise ValueError(
                    f"{m.name}: denominator {m.denominator!r} is not a summed column of {m.model}"
                )
        return self


def _load(path: Path | None) -> _CatalogFile:
    path = path or CATALOG_PATH
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"metrics catalog {path} cannot be read ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"metrics catalog {path} is not valid YAML: {exc}") from None
    try:
        return _CatalogFile.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(file)'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(f"invalid metrics catalog {path}: {problems}") from None


def load_catalog(path: Path | None = None) -> list[MetricEntry]:
    """Every metric of the catalog, in catalog order (piper_dagster/conf/metrics_catalog.yml by default)."""
    return list(_load(path).metrics)


def grain_columns(model_name: str, path: Path | None = None) -> list[str]:
    """The grain columns of a gold model, in table order."""
    catalog = _load(path)
    if model_name not in catalog.grain.models:
        raise KeyError(model_name)
    return list(catalog.grain.models[model_name])


def column_descriptions(model_name: str, path: Path | None = None) -> dict[str, str]:
    """Column -> description for a gold model: its grain columns, then its metrics."""
    catalog = _load(path)
    if model_name not in catalog.grain.models:
        raise KeyError(model_name)
    described = {c: catalog.grain.columns[c] for c in catalog.grain.models[model_name]}
    described.update({m.column: m.description for m in catalog.metrics if m.model == model_name})
    return described


def _threshold(entry: MetricEntry, value: float | None) -> str:
    if value is None:
        return "-"
    return f"{'<' if entry.good == 'up' else '>'} {value:g}"


def format_table(entries: list[MetricEntry]) -> str:
    """An aligned text table: name, model, column, unit, good, warn, fail (one line per entry)."""
    header = ("name", "model", "column", "unit", "good", "warn", "fail")
    rows = [
        (
            e.name,
            e.model,
            e.column,
            e.unit,
            e.good,
            _threshold(e, e.warn),
            _threshold(e, e.fail),
        )
        for e in entries
    ]
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    out = [line(header), line(tuple("-" * w for w in widths))]
    out += [line(r) for r in rows]
    return "\n".join(out)
