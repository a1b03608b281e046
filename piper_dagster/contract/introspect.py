"""What the generators read off the contract models: the constraints, own reasons and JSON
kinds of the envelope's and payloads' fields (the vectorized validator's SQL, the reference
validator, docs/contract.md), and the JSON Schema of an event. The models themselves, and every
rule, stay in models.py."""

from __future__ import annotations

import re
import types
import typing
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, Field, TypeAdapter, create_model
from pydantic.fields import FieldInfo

from piper_dagster.contract.models import (
    EVENT_TYPES,
    Envelope,
    Kind,
    OwnReason,
    Payload,
    Reason,
)


def _constraint(info: FieldInfo, attr: str) -> Any:
    """A constraint (pattern, min_length, ...) declared on a field, None if it has none."""
    for meta in info.metadata:
        value = getattr(meta, attr, None)
        if value is not None:
            return value
    return None


def own_reasons(model: type[BaseModel] = Envelope) -> dict[str, Reason]:
    """Envelope fields with a reason of their own (schema_version, event_type, ts)."""
    return {
        name: meta.reason
        for name, info in model.model_fields.items()
        for meta in info.metadata
        if isinstance(meta, OwnReason)
    }


def schema_version_pattern(model: type[BaseModel] = Envelope) -> str:
    """The accepted schema_version pattern, as the Envelope model declares it."""
    pattern = _constraint(model.model_fields["schema_version"], "pattern")
    if pattern is None:
        raise TypeError("Envelope.schema_version declares no pattern")
    return str(pattern)


@dataclass(frozen=True)
class EnvelopeText:
    """A plain string field of the envelope (not one with a reason of its own)."""

    name: str
    required: bool
    min_length: int | None
    max_length: int | None


def envelope_text_fields(model: type[BaseModel] = Envelope) -> tuple[EnvelopeText, ...]:
    """The envelope's plain string fields with their length rules (wrong_type / invalid_value)."""
    own = own_reasons(model)
    out = []
    for name, info in model.model_fields.items():
        if name in own or _kind_of_field(info).json != "string":
            continue
        out.append(
            EnvelopeText(
                name,
                info.is_required(),
                _constraint(info, "min_length"),
                _constraint(info, "max_length"),
            )
        )
    return tuple(out)


def envelope_object_fields(model: type[BaseModel] = Envelope) -> tuple[str, ...]:
    """The envelope's fields that must be JSON objects (payload)."""
    own = own_reasons(model)
    return tuple(
        n
        for n, i in model.model_fields.items()
        if n not in own and _kind_of_field(i).json == "object"
    )


# --- introspection for the SQL generator ----------------------------------------------------------


@dataclass(frozen=True)
class FieldSpec:
    name: str
    required: bool
    kind: Kind


def _kind_of(annotation: Any) -> Kind:
    if typing.get_origin(annotation) in (Union, types.UnionType):
        (inner,) = (a for a in typing.get_args(annotation) if a is not type(None))
        return _kind_of(inner)
    for meta in getattr(annotation, "__metadata__", ()):
        if isinstance(meta, Kind):
            return meta
    raise TypeError(f"field annotation {annotation!r} carries no Kind")


def _kind_of_field(info: FieldInfo) -> Kind:
    annotation = info.annotation
    if info.metadata:
        annotation = Annotated[(annotation, *info.metadata)]  # type: ignore[valid-type]
    return _kind_of(annotation)


def payload_field_specs(model: type[Payload]) -> tuple[FieldSpec, ...]:
    """The declared fields of a payload model with their JSON kind and required-ness."""
    return tuple(
        FieldSpec(name, info.is_required(), _kind_of_field(info))
        for name, info in model.model_fields.items()
    )


def _event_models() -> list[type[BaseModel]]:
    models = []
    for event_type, payload_model in EVENT_TYPES.items():
        name = "".join(part.capitalize() for part in re.split(r"[._]", event_type)) + "Event"
        models.append(
            create_model(
                name,
                __base__=Envelope,
                event_type=(Literal[event_type], ...),
                payload=(payload_model, ...),
            )
        )
    return models


def event_json_schema() -> dict[str, Any]:
    """JSON Schema of one telemetry event (a union discriminated by event_type)."""
    union = Annotated[Union[tuple(_event_models())], Field(discriminator="event_type")]  # noqa: UP007
    schema = TypeAdapter(union).json_schema()
    schema["title"] = "piper telemetry event, schema_version 1.x"
    return schema
