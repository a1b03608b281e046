"""The two validators must agree: the per-line reference and the vectorized hot path.

Hypothesis builds lines from the contract models (good events of all 18 types, single faults that
each hit one reason of contract §5, several faults at once to exercise precedence, NUL padding,
blank lines, CRLF terminators, random bytes), joins them into one buffer for
`classify_buffer` and compares, line by line, with `classify_line`. Where a line carries exactly
one fault the contract's answer is known too, and both must give it.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import cache
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from piper_dagster.contract.introspect import payload_field_specs
from piper_dagster.contract.models import (
    ENVELOPE_FIELDS,
    EVENT_TYPES,
    INT64_MAX,
    MAX_EVENT_ID_CHARS,
    MAX_LINE_BYTES,
    Envelope,
    Kind,
    Payload,
    Reason,
)
from piper_dagster.contract.reference import classify_line
from piper_dagster.ingest.validate import classify_buffer
from piper_dagster_tests.factories import EXAMPLES

CON = duckdb.connect()
CON.execute("SET TimeZone='UTC'")

SETTINGS = settings(
    deadline=None,
    database=None,
    phases=(Phase.explicit, Phase.generate, Phase.shrink),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# --- the envelope, from the model ----------------------------------------------------------------

ENV_REQUIRED = tuple(n for n in ENVELOPE_FIELDS if Envelope.model_fields[n].is_required())
ENV_OPTIONAL = tuple(n for n in ENVELOPE_FIELDS if n not in ENV_REQUIRED)
# Fields with a reason of their own in §5; the other required ones are plain non-empty strings.
ENV_SPECIAL = ("schema_version", "event_type", "ts", "payload")
ENV_PLAIN = tuple(n for n in ENV_REQUIRED if n not in ENV_SPECIAL)
assert set(ENV_SPECIAL) <= set(ENV_REQUIRED), "the envelope changed: update the strategies"
TYPES = tuple(EVENT_TYPES)
AT_MOST_TYPES = tuple(t for t, m in EVENT_TYPES.items() if m.at_most)
CHOICE_TYPES = tuple(
    t for t, m in EVENT_TYPES.items() if any(s.kind.choices for s in payload_field_specs(m))
)
WHITESPACE = " \t\r\x0b\x0c"  # blank lines (§2): ASCII whitespace only


# --- a JSON writer with control over every byte --------------------------------------------------


class Raw(str):
    """A JSON token (or any text) written verbatim."""


class Obj(list):
    """A JSON object as (key, value) pairs in order; duplicate keys allowed."""

    trailing_comma = False


def _get(obj: Obj, key: str) -> Any:
    return next(v for k, v in obj if k == key)


def _set(obj: Obj, key: str, value: Any) -> None:
    for i, (k, _) in enumerate(obj):
        if k == key:
            obj[i] = (key, value)
            return
    obj.append((key, value))


def _del(obj: Obj, key: str) -> None:
    obj[:] = [(k, v) for k, v in obj if k != key]


_SHORT_ESCAPES = dict(zip('"\\/\b\f\n\r\t', '"\\/bfnrt', strict=True))


def _u(code: int, rnd: random.Random) -> str:
    text = f"\\u{code:04x}"
    return text.upper().replace("\\U", "\\u") if rnd.random() < 0.3 else text


def _string(s: str, rnd: random.Random, esc: float) -> str:
    out = ['"']
    for ch in s:
        code = ord(ch)
        if ch in '"\\' or code < 0x20 or rnd.random() < esc:
            if ch in _SHORT_ESCAPES and rnd.random() < 0.5:
                out.append("\\" + _SHORT_ESCAPES[ch])
            elif code > 0xFFFF:
                code -= 0x10000
                out.append(_u(0xD800 + (code >> 10), rnd) + _u(0xDC00 + (code & 0x3FF), rnd))
            else:
                out.append(_u(code, rnd))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


_JSON_WS = ("", "", "", " ", "  ", "\t", " \r ")


def _encode(value: Any, rnd: random.Random, esc: float) -> str:
    ws = lambda: rnd.choice(_JSON_WS)  # noqa: E731
    if isinstance(value, Raw):
        return str(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        assert value == value and abs(value) != float("inf")
        return repr(value)
    if isinstance(value, str):
        return _string(value, rnd, esc)
    if isinstance(value, Obj):
        items = [
            ws()
            + (str(k) if isinstance(k, Raw) else _string(k, rnd, esc))
            + ws()
            + ":"
            + ws()
            + _encode(v, rnd, esc)
            + ws()
            for k, v in value
        ]
        tail = "," + ws() if value.trailing_comma else ""
        return "{" + ",".join(items) + tail + "}"
    if isinstance(value, list):
        return "[" + ",".join(ws() + _encode(v, rnd, esc) + ws() for v in value) + "]"
    raise TypeError(type(value))


@st.composite
def _render(draw: st.DrawFn, doc: Any) -> str:
    """The text of a JSON document, with random spacing and string escapes."""
    # A plain PRNG from a drawn seed: Hypothesis' own random would draw once per character.
    rnd = random.Random(draw(_SEEDS))
    esc = draw(_ESCAPE_RATES)
    return draw(_OUTER_WS) + _encode(doc, rnd, esc) + draw(_OUTER_WS)


_SEEDS = st.integers(0, 2**32)
_ESCAPE_RATES = st.sampled_from((0.0, 0.0, 0.1, 1.0))
_OUTER_WS = st.sampled_from(("", "", " ", "\t", " \t ", "\r"))


# --- good values ---------------------------------------------------------------------------------


@cache
def _text(min_size: int = 0, max_size: int = 16) -> st.SearchStrategy[str]:
    # Any Unicode text (no surrogates: they cannot be UTF-8); control characters get escaped.
    return st.text(st.characters(codec="utf-8"), min_size=min_size, max_size=max_size)


_json_leaf = (
    st.none()
    | st.booleans()
    | st.integers(-(10**30), 10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _text()
)
_json_values = st.recursive(
    _json_leaf,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.lists(st.tuples(_text(max_size=6), inner), max_size=3).map(Obj)
    ),
    max_leaves=6,
)


def _int_token(n: int, style: int) -> Raw:
    """A JSON number token for the integer n: plain, or a whole float in one of several forms."""
    if style == 0 or n >= 2**53:
        return Raw(str(n))
    if style == 1:
        return Raw(f"{n}.0")
    if style == 2:
        return Raw(f"{n}.000")
    if style == 3:
        if n == 0:
            return Raw("0e5")
        digits = str(n)
        mantissa = digits.rstrip("0")
        return Raw(f"{mantissa}E+{len(digits) - len(mantissa)}")
    if style == 4 and n < 2**40:
        return Raw(f"{n * 100}e-2")
    if n == 0:
        return Raw("-0.0")
    return Raw(f"{n}.0e0")


@cache
def _good_value(kind: Kind) -> st.SearchStrategy[Any]:
    if kind.choices:
        return st.sampled_from(kind.choices)
    if kind.json == "string":
        return _text()
    low = 0 if kind.nonneg else -(2**53)
    ints = st.integers(low, 2**53) | st.integers(low, INT64_MAX)
    if kind.json == "integer":
        return ints
    floats = st.floats(
        min_value=0.0 if kind.nonneg else None, allow_nan=False, allow_infinity=False
    )
    return floats | ints


@st.composite
def _timestamp_parts(draw: st.DrawFn) -> dict[str, Any]:
    utc = draw(_UTC_TIMES)
    offset = draw(_OFFSETS)
    local = utc + timedelta(minutes=offset)
    fraction = draw(_FRACTIONS)
    zone = draw(_ZONES)
    if zone == "offset":
        sign = "-" if offset < 0 or (offset == 0 and draw(st.booleans())) else "+"
        zone = f"{sign}{abs(offset) // 60:02d}:{abs(offset) % 60:02d}"
    elif offset:
        local = utc
    return {
        "date": f"{local.year:04d}-{local.month:02d}-{local.day:02d}",
        "sep": draw(_T),
        "time": f"{local.hour:02d}:{local.minute:02d}:{local.second:02d}",
        "fraction": "." + fraction if fraction else "",
        "zone": zone,
    }


_UTC_TIMES = st.datetimes(datetime(1, 1, 2), datetime(9999, 12, 30))
_OFFSETS = st.integers(-(23 * 60 + 59), 23 * 60 + 59)
_FRACTIONS = st.text("0123456789", max_size=12)
_ZONES = st.sampled_from(("Z", "z", "offset", "offset"))
_T = st.sampled_from("Tt")
_PRESENCE = st.sampled_from(("absent", "null", "present"))
_INT_STYLES = st.integers(0, 5)


def _ts(parts: dict[str, Any]) -> str:
    return parts["date"] + parts["sep"] + parts["time"] + parts["fraction"] + parts["zone"]


def _payload_model(event_type: str) -> type[Payload]:
    return EVENT_TYPES[event_type]


@cache
def _extra_pairs(known: frozenset[str], max_size: int) -> st.SearchStrategy[list[Any]]:
    keys = _text(max_size=10).filter(lambda k: k not in known)
    return st.lists(st.tuples(keys, _json_values), max_size=max_size)


@cache
@st.composite
def _payload(draw: st.DrawFn, event_type: str) -> Obj:
    model = _payload_model(event_type)
    values: dict[str, Any] = {}
    for spec in payload_field_specs(model):
        if not spec.required:
            presence = draw(_PRESENCE)
            if presence == "absent":
                continue
            if presence == "null":
                values[spec.name] = None
                continue
        values[spec.name] = draw(_good_value(spec.kind))
    for small, big in model.at_most:
        if values[small] > values[big]:
            values[small], values[big] = values[big], values[small]
    pairs = []
    for spec in payload_field_specs(model):
        if spec.name not in values:
            continue
        value = values[spec.name]
        if spec.kind.json == "integer" and value is not None:
            value = _int_token(value, draw(_INT_STYLES))
        pairs.append((spec.name, value))
    pairs += draw(_extra_pairs(frozenset(s.name for s in payload_field_specs(model)), 2))
    return Obj(draw(st.permutations(pairs)))


_EVENT_IDS = (
    _text(1, MAX_EVENT_ID_CHARS)
    | _text(MAX_EVENT_ID_CHARS, MAX_EVENT_ID_CHARS)
    | st.uuids().map(str)
)
_MINORS = st.text("0123456789", min_size=1, max_size=4)


@cache
@st.composite
def good_docs(draw: st.DrawFn, types: tuple[str, ...] = TYPES) -> tuple[Obj, str]:
    """A valid event as a JSON document, and its event_type."""
    event_type = draw(st.sampled_from(types))
    values = {
        "schema_version": "1." + draw(_MINORS),
        "event_id": draw(_EVENT_IDS),
        "event_type": event_type,
        "ts": _ts(draw(_timestamp_parts())),
        "payload": draw(_payload(event_type)),
    }
    for name in ENV_PLAIN:
        values[name] = draw(_text(1))
    assert set(values) == set(ENV_REQUIRED)
    pairs = list(values.items())
    for name in ENV_OPTIONAL:
        presence = draw(_PRESENCE)
        if presence != "absent":
            pairs.append((name, None if presence == "null" else draw(_text())))
    pairs += draw(_extra_pairs(frozenset(ENVELOPE_FIELDS), 3))
    return Obj(draw(st.permutations(pairs))), event_type


Line = tuple[bytes, "str | None"]  # a line (no terminator) and the contract's answer, if known


@st.composite
def good_lines(draw: st.DrawFn) -> Line:
    doc, _ = draw(good_docs())
    return draw(_render(doc)).encode(), "event"


# --- single faults, each with the reason the contract gives ---------------------------------------

_NON_STRINGS = st.one_of(
    st.integers(-5, 10**6),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.lists(_text(max_size=4), max_size=2),
    st.lists(st.tuples(_text(max_size=4), _text(max_size=4)), max_size=2).map(Obj),
)
_NON_OBJECTS = st.one_of(
    _text(),
    st.integers(-(10**30), 10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.lists(_json_values, max_size=3),
)


def _payload_obj(doc: Obj) -> Obj:
    payload = _get(doc, "payload")
    assert isinstance(payload, Obj)
    return payload


Fault = Callable[[st.DrawFn], "tuple[Any, str | None]"]
FAULTS: dict[str, Fault] = {}


def fault(fn: Fault) -> Fault:
    FAULTS[fn.__name__] = fn
    return fn


@fault
def drop_envelope_field(draw: st.DrawFn) -> tuple[Any, str | None]:
    doc, _ = draw(good_docs())
    _del(doc, draw(st.sampled_from(ENV_REQUIRED)))
    return doc, Reason.MISSING_FIELD


@fault
def null_envelope_field(draw: st.DrawFn) -> tuple[Any, str | None]:
    doc, _ = draw(good_docs())
    _set(doc, draw(st.sampled_from(ENV_REQUIRED)), None)
    return doc, Reason.MISSING_FIELD


@fault
def envelope_wrong_type(draw: st.DrawFn) -> tuple[Any, str | None]:
    doc, _ = draw(good_docs())
    name = draw(st.sampled_from((*ENV_PLAIN, *ENV_OPTIONAL, "payload")))
    _set(doc, name, draw(_NON_OBJECTS if name == "payload" else _NON_STRINGS))
    return doc, Reason.WRONG_TYPE


@fault
def envelope_invalid_value(draw: st.DrawFn) -> tuple[Any, str | None]:
    doc, _ = draw(good_docs())
    name = draw(st.sampled_from(ENV_PLAIN))
    if name == "event_id" and draw(st.booleans()):
        _set(doc, name, draw(_text(MAX_EVENT_ID_CHARS + 1, MAX_EVENT_ID_CHARS + 40)))
    else:
        _set(doc, name, "")
    return doc, Reason.INVALID_VALUE


_SCHEMA_OK = re.compile(r"1\.[0-9]+")


@fault
def bad_schema_version(draw: st.DrawFn) -> tuple[Any, str | None]:
    doc, _ = draw(good_docs())
    value = draw(
        st.sampled_from(
            [
                *("2.0", "1", "1.x", "1.", "01.0", " 1.0", "1.0 ", "1.0\n", "v1.0", "1.1.1"),
                *("1,0", "\uff11.0", "1.\u0661", "", "0.9", "10.0", "1.-1", "1.1a"),
            ]
        )
        | st.sampled_from([Raw("1.0"), Raw("1"), Raw("1.10"), Raw("2")])
        | _text().filter(lambda s: not _SCHEMA_OK.fullmatch(s))
        | _NON_STRINGS
    )
    _set(doc, "schema_version", value)
    return doc, Reason.UNSUPPORTED_SCHEMA_VERSION


@fault
def unknown_event_type(draw: st.DrawFn) -> tuple[Any, str | None]:
    doc, event_type = draw(good_docs())
    value = draw(
        st.sampled_from(
            [
                event_type.upper(),
                event_type.title(),
                event_type.capitalize(),
                " " + event_type,
                event_type + " ",
                event_type + "\u0000",
                event_type.replace(".", "_"),
                event_type + ".v2",
            ]
        )
        | _text().filter(lambda s: s not in EVENT_TYPES)
        | _NON_STRINGS
        | st.just([event_type])
    )
    _set(doc, "event_type", value)
    return doc, Reason.UNKNOWN_EVENT_TYPE


def _non_leap_year(year: int) -> bool:
    return year % 4 != 0 or (year % 100 == 0 and year % 400 != 0)


@st.composite
def bad_timestamps(draw: st.DrawFn) -> Any:
    parts = draw(_timestamp_parts())
    y, mo, d = parts["date"].split("-")
    hh, mi, ss = parts["time"].split(":")
    how = draw(
        st.sampled_from(
            [
                "space", "no_offset", "second_60", "hour_24", "minute_60", "feb_30", "day_31",
                "feb_29", "month", "day", "offset_hour", "offset_minute", "offset_form",
                "fraction", "no_seconds", "year_digits", "spaces", "digits", "year_0",
                "before_year_1", "after_year_9999", "not_a_string",
            ]
        )
    )  # fmt: skip
    if how == "space":
        parts["sep"] = " "
    elif how == "no_offset":
        parts["zone"] = ""
    elif how in ("second_60", "hour_24", "minute_60"):
        value = {
            "second_60": (hh, mi, "60"),
            "hour_24": ("24", mi, ss),
            "minute_60": (hh, "60", ss),
        }
        parts["time"] = ":".join(value[how])
    elif how == "feb_30":
        parts["date"] = f"{y}-02-{draw(st.sampled_from(['30', '31']))}"
    elif how == "day_31":
        parts["date"] = f"{y}-{draw(st.sampled_from(['04', '06', '09', '11']))}-31"
    elif how == "feb_29":
        year = draw(st.integers(1, 9999).filter(_non_leap_year))
        parts["date"] = f"{year:04d}-02-29"
    elif how == "month":
        parts["date"] = f"{y}-{draw(st.sampled_from(['00', '13', '19', '99']))}-{d}"
    elif how == "day":
        parts["date"] = f"{y}-{mo}-{draw(st.sampled_from(['00', '32', '40', '99']))}"
    elif how == "offset_hour":
        parts["zone"] = f"{draw(st.sampled_from('+-'))}{draw(st.integers(24, 99))}:00"
    elif how == "offset_minute":
        parts["zone"] = f"+{draw(st.integers(0, 23)):02d}:{draw(st.integers(60, 99))}"
    elif how == "offset_form":
        parts["zone"] = draw(
            st.sampled_from(["+0100", "+01", "+1:00", "UTC", " Z", "ZZ", "+01:00Z", "GMT", "-"])
        )
    elif how == "fraction":
        parts["fraction"] = draw(st.sampled_from([".", ",5", ".5.5", ". 5", ".x"]))
    elif how == "no_seconds":
        parts["time"], parts["fraction"] = f"{hh}:{mi}", ""
    elif how == "year_digits":
        parts["date"] = draw(st.sampled_from([y[2:], "1" + y])) + f"-{mo}-{d}"
    elif how == "spaces":
        return (
            draw(st.sampled_from([" ", "\t", "\n"])) + _ts(parts) + draw(st.sampled_from(["", " "]))
        )
    elif how == "digits":
        return _ts(parts).translate({ord("0") + i: 0x0660 + i for i in range(10)})
    elif how == "year_0":
        # UTC year 0 (1 BC), outside 1..9999.
        parts["date"], parts["zone"] = f"0000-{mo}-{d if d <= '28' else '28'}", "Z"
    elif how == "before_year_1":
        # Local year 1, but UTC year 0.
        minute = draw(st.integers(0, 58))
        parts["date"], parts["time"] = "0001-01-01", f"00:{minute:02d}:{ss}"
        parts["zone"] = f"+{draw(st.integers(0, 23)):02d}:{draw(st.integers(minute + 1, 59)):02d}"
    elif how == "after_year_9999":
        # Local year 9999, but UTC year 10000.
        minute = draw(st.integers(1, 59))
        parts["date"], parts["time"] = "9999-12-31", f"23:{minute:02d}:{ss}"
        parts["zone"] = f"-{draw(st.integers(0, 23)):02d}:{draw(st.integers(60 - minute, 59)):02d}"
    else:
        return draw(_NON_STRINGS | st.just(Raw("1772619300")))
    return _ts(parts)


@fault
def bad_timestamp(draw: st.DrawFn) -> tuple[Any, str | None]:
    doc, _ = draw(good_docs())
    _set(doc, "ts", draw(bad_timestamps()))
    return doc, Reason.INVALID_TIMESTAMP


def _specs(event_type: str, pred: Callable[[Any], bool] = lambda s: True) -> list[Any]:
    return [s for s in payload_field_specs(_payload_model(event_type)) if pred(s)]


@fault
def drop_payload_field(draw: st.DrawFn) -> tuple[Any, str | None]:
    doc, event_type = draw(good_docs())
    spec = draw(st.sampled_from(_specs(event_type, lambda s: s.required)))
    _del(_payload_obj(doc), spec.name)
    return doc, Reason.MISSING_FIELD


@fault
def null_payload_field(draw: st.DrawFn) -> tuple[Any, str | None]:
    doc, event_type = draw(good_docs())
    spec = draw(st.sampled_from(_specs(event_type, lambda s: s.required)))
    _set(_payload_obj(doc), spec.name, None)
    return doc, Reason.MISSING_FIELD


_NUMERIC_STRINGS = st.sampled_from(["5", "0", "12.0", "1e3", "-1", " 7", "5s", "", "NaN", "inf"])
_NON_WHOLE = st.floats(allow_nan=False, allow_infinity=False).filter(lambda x: not x.is_integer())


def _wrong_value(kind: Kind) -> st.SearchStrategy[Any]:
    containers = st.lists(st.integers(0, 9), max_size=2) | st.just(Obj([("n", 1)]))
    if kind.json == "string":
        return (
            st.integers()
            | st.floats(allow_nan=False, allow_infinity=False)
            | st.booleans()
            | containers
        )
    wrong = _NUMERIC_STRINGS | _text() | st.booleans() | containers
    if kind.json == "integer":
        return wrong | _NON_WHOLE | st.sampled_from([Raw("1.5"), Raw("1e-1"), Raw("1e999")])
    # numbers must be finite: a literal that overflows a double is not a number here
    return wrong | st.sampled_from([Raw("1e999"), Raw("-1e999"), Raw("1" + "0" * 400 + ".0")])


@fault
def payload_wrong_type(draw: st.DrawFn) -> tuple[Any, str | None]:
    doc, event_type = draw(good_docs())
    spec = draw(st.sampled_from(_specs(event_type)))
    _set(_payload_obj(doc), spec.name, draw(_wrong_value(spec.kind)))
    return doc, Reason.WRONG_TYPE


@fault
def negative_value(draw: st.DrawFn) -> tuple[Any, str | None]:
    doc, event_type = draw(good_docs())
    spec = draw(st.sampled_from(_specs(event_type, lambda s: s.kind.nonneg)))
    n = draw(st.integers(1, 2**53))
    if spec.kind.json == "integer":
        value: Any = _int_token(-n, draw(st.sampled_from([0, 1, 3])))
    else:
        value = draw(st.sampled_from([-n, -n / 7, -5e-324]))
    _set(_payload_obj(doc), spec.name, value)
    return doc, Reason.INVALID_VALUE


@fault
def beyond_64_bits(draw: st.DrawFn) -> tuple[Any, str | None]:
    doc, event_type = draw(good_docs())
    spec = draw(st.sampled_from(_specs(event_type, lambda s: s.kind.json == "integer")))
    n = draw(st.integers(INT64_MAX + 1, 10**300))
    value: Any = draw(st.sampled_from([Raw(str(n)), Raw(f"{n}.0"), float(n)]))
    _set(_payload_obj(doc), spec.name, value)
    return doc, Reason.INVALID_VALUE


@fault
def status_outside_set(draw: st.DrawFn) -> tuple[Any, str | None]:
    doc, event_type = draw(good_docs(CHOICE_TYPES))
    spec = draw(st.sampled_from(_specs(event_type, lambda s: bool(s.kind.choices))))
    others = [
        c for t in EVENT_TYPES.values() for s in payload_field_specs(t) for c in s.kind.choices
    ]
    value = draw(
        st.sampled_from(
            [c.upper() for c in spec.kind.choices] + [c + " " for c in spec.kind.choices]
        )
        | st.sampled_from([*others, "ok", "", "succeeded"])
        | _text()
    )
    if value in spec.kind.choices:
        value = value + "!"
    _set(_payload_obj(doc), spec.name, value)
    return doc, Reason.INVALID_VALUE


@fault
def above_its_bound(draw: st.DrawFn) -> tuple[Any, str | None]:
    doc, event_type = draw(good_docs(AT_MOST_TYPES))
    payload = _payload_obj(doc)
    small, big = draw(st.sampled_from(_payload_model(event_type).at_most))
    bound = draw(st.integers(0, 2**40))
    _set(payload, big, bound)
    _set(payload, small, _int_token(bound + draw(st.integers(1, 1000)), draw(st.integers(0, 5))))
    return doc, Reason.INVALID_VALUE


@fault
def duplicate_key(draw: st.DrawFn) -> tuple[Any, str | None]:
    # The first occurrence wins: a later copy with any value changes nothing.
    doc, _ = draw(good_docs())
    target = doc if draw(st.booleans()) else _payload_obj(doc)
    key, _ = draw(st.sampled_from(list(target)))
    first = next(i for i, (k, _) in enumerate(target) if k == key)
    target.insert(draw(st.integers(first + 1, len(target))), (key, draw(_json_values)))
    return doc, "event"


@fault
def duplicate_key_junk_first(draw: st.DrawFn) -> tuple[Any, str | None]:
    # The first occurrence wins: a junk copy before the real one is what counts.
    doc, _ = draw(good_docs())
    target = doc if draw(st.booleans()) else _payload_obj(doc)
    key, _ = draw(st.sampled_from(list(target)))
    index = next(i for i, (k, _) in enumerate(target) if k == key)
    target.insert(index, (key, draw(_json_values)))
    return doc, None


@fault
def trailing_comma(draw: st.DrawFn) -> tuple[Any, str | None]:
    doc, _ = draw(good_docs())
    where = draw(st.sampled_from(("envelope", "payload", "array")))
    if where == "envelope":
        doc.trailing_comma = True
    elif where == "payload":
        _payload_obj(doc).trailing_comma = True
    else:
        _set(doc, "x_list", Raw(draw(st.sampled_from(["[1,]", "[1, ]", "[,]", '["a",\t]']))))
    return doc, Reason.INVALID_JSON


_NAN_LITERALS = ["NaN", "Infinity", "-Infinity", "nan", "inf", "-inf", "+Infinity", "INF", "-NaN"]


@fault
def nan_literal(draw: st.DrawFn) -> tuple[Any, str | None]:
    literal = Raw(draw(st.sampled_from(_NAN_LITERALS)))
    where = draw(st.sampled_from(("extra", "field", "array", "line")))
    if where == "line":
        return literal, Reason.INVALID_JSON
    doc, event_type = draw(good_docs())
    if where == "extra":
        _set(doc, "x_value", literal)
    elif where == "array":
        _set(_payload_obj(doc), "x_values", Raw(f"[1, {literal}]"))
    else:
        spec = draw(st.sampled_from(_specs(event_type)))
        _set(_payload_obj(doc), spec.name, literal)
    return doc, Reason.INVALID_JSON


@fault
def bad_json_syntax(draw: st.DrawFn) -> tuple[Any, str | None]:
    doc, _ = draw(good_docs())
    how = draw(st.sampled_from(("value", "key", "bom", "comment")))
    if how == "value":
        value = draw(
            st.sampled_from(
                ["'a'", "01", "-01", ".5", "1.", "+1", "0x10", "1e", "1e+", "--1", "- 1", "",
                 "True", "NULL", "None", "undefined", '"\\x41"', '"\\u12"', '"\\a"',
                 '"\\ud800"', '"\\udc00"', '"\\udc00\\ud800"', '"\\ud800\\u0041"', '"\\ud83d"',
                 "1 /* c */", "[1 2]", '{"a" 1}', '{"a":1 "b":2}', "{1: 2}", "[1,,2]"]
            )
            | st.integers(1, 0x1F).filter(lambda c: c != 0x0A).map(lambda c: f'"a{chr(c)}b"')
        )  # fmt: skip
        _set(doc, "x_value", Raw(value))
        return doc, Reason.INVALID_JSON
    if how == "key":
        doc.append((Raw(draw(st.sampled_from(["x", "'x'", "1", "null", '"\\ud800"', "{}"]))), 1))
        return doc, Reason.INVALID_JSON
    text = draw(_render(doc))
    text = "\ufeff" + text if how == "bom" else text + draw(st.sampled_from([" // c", "/* c */"]))
    return Raw(text), Reason.INVALID_JSON


@fault
def truncated(draw: st.DrawFn) -> tuple[Any, str | None]:
    doc, _ = draw(good_docs())
    text = draw(_render(doc))
    cut = draw(st.integers(text.index("{") + 1, text.rindex("}")))
    return Raw(text[:cut]), Reason.INVALID_JSON


@fault
def trailing_garbage(draw: st.DrawFn) -> tuple[Any, str | None]:
    doc, _ = draw(good_docs())
    text = draw(_render(doc))
    garbage = draw(
        st.sampled_from(["x", "}", "]", "{}", "[]", ",", "1", '"a"', "null", "{", "#", "\\", ":"])
        | st.just(draw(_render(doc)))
    )
    return Raw(text + draw(st.sampled_from(["", " ", "\t"])) + garbage), Reason.INVALID_JSON


@fault
def not_an_object(draw: st.DrawFn) -> tuple[Any, str | None]:
    doc, _ = draw(good_docs())
    value = draw(
        _NON_OBJECTS | st.none() | st.just([doc]) | st.sampled_from([Raw("1e999"), Raw("-0")])
    )
    return value, Reason.NOT_AN_OBJECT


# Byte sequences that are not UTF-8 wherever they are put between two characters.
_BAD_UTF8 = [
    b"\x80", b"\xbf", b"\xc0\xaf", b"\xc1\xbf", b"\xe0\x80\xaf", b"\xed\xa0\x80", b"\xed\xbf\xbf",
    b"\xf0\x80\x80\xaf", b"\xf4\x90\x80\x80", b"\xf5\x80\x80\x80", b"\xf8\x88\x80\x80\x80",
    b"\xfe", b"\xff", b"\xc3", b"\xe2\x82", b"\xf0\x9f\x98", b"\xc3\x28",
]  # fmt: skip


@st.composite
def invalid_utf8(draw: st.DrawFn) -> Line:
    body, _ = draw(any_single_fault() | good_lines())
    text = body.decode("utf-8")
    at = draw(st.integers(0, len(text)))  # between two characters
    bad = draw(st.sampled_from(_BAD_UTF8))
    return text[:at].encode() + bad + text[at:].encode(), Reason.INVALID_UTF8


def _documents(fault_fn: Fault) -> st.SearchStrategy[Line]:
    @st.composite
    def lines(draw: st.DrawFn) -> Line:
        doc, expected = fault_fn(draw)
        text = doc if isinstance(doc, Raw) else draw(_render(doc))
        return text.encode("utf-8"), expected

    return lines()


def any_single_fault() -> st.SearchStrategy[Line]:
    return st.one_of([_documents(f) for f in FAULTS.values()])


# --- what is not an event at all, and lines with several faults ---------------------------------


@st.composite
def blank_lines(draw: st.DrawFn) -> Line:
    return draw(st.text(WHITESPACE, max_size=12)).encode(), "blank"


@st.composite
def almost_blank_lines(draw: st.DrawFn) -> Line:
    # Unicode and C0 "whitespace" that is not ASCII whitespace: not blank, not JSON.
    odd = draw(st.sampled_from(["\u00a0", "\u3000", "\u2028", "\x85", "\x1c", "\x1f", "\ufeff"]))
    pad = st.text(WHITESPACE, max_size=4)
    return (draw(pad) + odd + draw(pad)).encode(), Reason.INVALID_JSON


@st.composite
def nul_only_lines(draw: st.DrawFn) -> Line:
    return b"\x00" * draw(st.integers(1, 64)), "nul_padding"


@st.composite
def nul_padded(draw: st.DrawFn) -> Line:
    """Any line with NUL bytes put anywhere (even inside a UTF-8 sequence): NULs go first."""
    body, expected = draw(
        st.one_of(good_lines(), any_single_fault(), blank_lines(), invalid_utf8(), random_bytes())
    )
    out = bytearray(body)
    for _ in range(draw(st.integers(1, 4))):
        out[draw(st.integers(0, len(out))) : 0] = b"\x00" * draw(st.integers(1, 8))
    # A CR right before the LF is part of the terminator (even after NULs: they go first).
    line = out[:-1] if out.endswith(b"\r") else out
    if expected == "blank" and not line.replace(b"\x00", b""):
        expected = "nul_padding"
    return bytes(out), expected


@st.composite
def several_faults(draw: st.DrawFn) -> Line:
    """Two to four faults in one line: the reason is the first one in §5's order."""
    names = draw(st.lists(st.sampled_from(_DOC_FAULTS), min_size=2, max_size=4))
    doc, _ = draw(good_docs())
    for name in names:
        payload = next((v for k, v in doc if k == "payload"), None)
        if name in ("payload", "nan", "comma") and not isinstance(payload, Obj):
            continue
        if name == "envelope":
            field = draw(st.sampled_from(ENVELOPE_FIELDS))
            how = draw(st.sampled_from(("drop", "null", "junk", "empty")))
            if how == "drop":
                _del(doc, field)
            else:
                _set(doc, field, draw(_json_values) if how == "junk" else {"empty": ""}.get(how))
        elif name == "schema_version":
            _set(doc, name, draw(st.sampled_from(["2.0", "1", Raw("1.0")])))
        elif name == "event_type":
            _set(doc, name, draw(st.sampled_from(["DCC.LAUNCH", "nope", Raw("7")])))
        elif name == "ts":
            _set(doc, name, draw(bad_timestamps()))
        elif name == "payload":
            if not payload:
                continue
            key, _ = draw(st.sampled_from(list(payload)))
            how = draw(st.sampled_from(("drop", "null", "junk", "negative", "string")))
            if how == "drop":
                _del(payload, key)
            else:
                junk = {"null": None, "negative": Raw("-3"), "string": "5"}.get(how)
                _set(payload, key, draw(_json_values) if how == "junk" else junk)
        elif name == "payload_type":
            other = draw(good_docs())[0]
            _set(doc, "payload", _payload_obj(other))
        elif name == "extra":
            _set(doc, draw(_text(max_size=4)), draw(_json_values))
        elif name == "nan":
            _set(payload, "x", Raw("NaN"))
        elif name == "comma":
            payload.trailing_comma = True
    text = draw(_render(doc)).encode("utf-8")
    if draw(st.integers(0, 9)) == 0:
        text = text[: draw(st.integers(0, len(text)))]
    return text, None


_DOC_FAULTS = (
    "envelope", "schema_version", "event_type", "ts", "payload", "payload", "payload",
    "payload_type", "extra", "nan", "comma",
)  # fmt: skip


@st.composite
def random_bytes(draw: st.DrawFn) -> Line:
    return draw(st.binary(max_size=120)).replace(b"\n", b""), None


_TOKENS = [
    "{", "}", "[", "]", ":", ",", " ", "\t", "\r", '"', '"a"', '"payload"', '"ts"', "1", "-", "0",
    ".", "e", "1e999", "NaN", "nan", "Infinity", "inf", "true", "null", "\\", "\\u0041", "\\ud800",
    "\x00", "\x0b", "\xe9", "\U0001f600", "/*", "*/", "//", "'", ",]", ",}",
]  # fmt: skip


@st.composite
def token_soup(draw: st.DrawFn) -> Line:
    """Random sequences of JSON-ish tokens: near misses of the grammar."""
    tokens = draw(st.lists(st.sampled_from(_TOKENS), max_size=24))
    return "".join(tokens).encode("utf-8"), None


@st.composite
def byte_fuzzed(draw: st.DrawFn) -> Line:
    """A good or bad line with a few bytes deleted, inserted or replaced."""
    body, _ = draw(good_lines() | any_single_fault())
    out = bytearray(body)
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, max(len(out) - 1, 0)))
        byte = draw(st.integers(0, 255).filter(lambda b: b != 0x0A))
        how = draw(st.sampled_from(("delete", "insert", "replace")))
        if how == "delete" and out:
            del out[at]
        elif how == "replace" and out:
            out[at] = byte
        else:
            out.insert(at, byte)
    return bytes(out), None


# --- the comparison ------------------------------------------------------------------------------


def reference_status(line: bytes) -> str:
    try:
        outcome = classify_line(line)
    except Exception as exc:  # a crash is a disagreement too, reported with the line
        return f"raised {type(exc).__name__}: {exc}"
    return outcome.reason.value if outcome.kind == "invalid" else outcome.kind


def _culprits(items: list[tuple[Line, bool]]) -> str:
    """The lines that make classify_buffer raise on their own."""
    found = []
    for (body, _), crlf in items:
        try:
            classify_buffer(CON, body + (b"\r\n" if crlf else b"\n"))
        except duckdb.Error:
            found.append(f"\n    {body[:400]!r}")
    return "; on its own it raises for:" + "".join(found) if found else ""


def check(items: list[tuple[Line, bool]]) -> None:
    """Both validators on one buffer of these lines (LF or CRLF ends), and the contract's answers."""
    for (body, _), _crlf in items:
        assert b"\n" not in body
    data = b"".join(body + (b"\r\n" if crlf else b"\n") for (body, _), crlf in items)
    # The reference's input: the bytes between newlines, one CR dropped from a CRLF end.
    lines = [raw[:-1] if raw.endswith(b"\r") else raw for raw in data.split(b"\n")[:-1]]
    try:
        vectorized = classify_buffer(CON, data)
    except duckdb.Error as exc:
        pytest.fail(f"classify_buffer raised {exc!r}{_culprits(items)}")
    assert len(vectorized) == len(lines) == len(items)
    problems = []
    for i, (((_, expected), _), line, vec) in enumerate(zip(items, lines, vectorized, strict=True)):
        ref = reference_status(line)
        expected = None if expected is None else str(expected)
        if ref != vec or (expected is not None and (ref, vec) != (expected, expected)):
            problems.append(
                f"line {i + 1}: {line[:400]!r}{'...' if len(line) > 400 else ''}\n"
                f"    reference={ref} vectorized={vec} contract={expected or '?'}"
            )
    assert not problems, "validators disagree:\n" + "\n".join(problems)


def _buffers(lines: st.SearchStrategy[Line], max_size: int = 8) -> st.SearchStrategy[Any]:
    return st.lists(st.tuples(lines, st.booleans()), min_size=1, max_size=max_size)


@settings(SETTINGS, max_examples=60)
@given(_buffers(good_lines()))
def test_good_lines_are_events_in_both(items: list[tuple[Line, bool]]) -> None:
    check(items)


@pytest.mark.parametrize("name", list(FAULTS))
@settings(SETTINGS, max_examples=25)
@given(data=st.data())
def test_each_fault_gets_its_reason_in_both(name: str, data: st.DataObject) -> None:
    check(data.draw(_buffers(_documents(FAULTS[name]), max_size=6)))


@pytest.mark.parametrize(
    "lines",
    [
        pytest.param(invalid_utf8(), id="invalid_utf8"),
        pytest.param(blank_lines(), id="blank"),
        pytest.param(almost_blank_lines(), id="almost_blank"),
        pytest.param(nul_only_lines(), id="nul_only"),
        pytest.param(nul_padded(), id="nul_padded"),
    ],
)
@settings(SETTINGS, max_examples=20)
@given(data=st.data())
def test_line_level_rules_agree(lines: st.SearchStrategy[Line], data: st.DataObject) -> None:
    check(data.draw(_buffers(lines, max_size=6)))


@settings(SETTINGS, max_examples=60)
@given(_buffers(several_faults()))
def test_several_faults_get_the_same_first_reason(items: list[tuple[Line, bool]]) -> None:
    check(items)


@settings(SETTINGS, max_examples=40)
@given(
    _buffers(
        st.one_of(
            good_lines(),
            any_single_fault(),
            several_faults(),
            invalid_utf8(),
            blank_lines(),
            nul_only_lines(),
            nul_padded(),
            random_bytes(),
        ),
        max_size=16,
    )
)
def test_mixed_buffers_agree(items: list[tuple[Line, bool]]) -> None:
    check(items)


@pytest.mark.parametrize(
    "lines",
    [
        pytest.param(random_bytes(), id="random_bytes"),
        pytest.param(token_soup(), id="token_soup"),
        pytest.param(byte_fuzzed(), id="byte_fuzzed"),
    ],
)
@settings(SETTINGS, max_examples=40)
@given(data=st.data())
def test_fuzzed_lines_agree(lines: st.SearchStrategy[Line], data: st.DataObject) -> None:
    check(data.draw(_buffers(lines, max_size=12)))


# --- examples --------------------------------------------------------------------------------------


def _example_lines(name: str) -> list[bytes]:
    raw = (EXAMPLES / name).read_bytes().split(b"\n")
    assert raw[-1] == b"", f"{name} must end with a newline"
    return [r[:-1] if r.endswith(b"\r") else r for r in raw[:-1]]


def test_contract_invalid_examples_get_the_expected_reason_in_both() -> None:
    lines = _example_lines("2026-03-04_invalid.jsonl")
    expected = (EXAMPLES / "2026-03-04_invalid.expected").read_text().split()
    assert len(lines) == len(expected)
    assert [reference_status(line) for line in lines] == expected
    data = (EXAMPLES / "2026-03-04_invalid.jsonl").read_bytes()
    assert classify_buffer(CON, data) == expected
    check([((line, reason), False) for line, reason in zip(lines, expected, strict=True)])


def test_contract_valid_examples_are_20_events_in_both() -> None:
    lines = _example_lines("2026-03-04_valid.jsonl")
    assert [reference_status(line) for line in lines] == ["event"] * 20
    data = (EXAMPLES / "2026-03-04_valid.jsonl").read_bytes()
    assert classify_buffer(CON, data) == ["event"] * 20
    check([((line, "event"), crlf) for line in lines for crlf in (False, True)])


_BASE = {
    "schema_version": "1.0",
    "event_id": "e-1",
    "event_type": "render.stats.summary",
    "ts": "2026-03-04T15:06:00.000Z",
    "host": "farm01",
    "user": "svc_tractor",
    "payload": {
        "job_id": "j1",
        "status": "success",
        "frames_total": 10,
        "frames_failed": 1,
        "cpu_seconds": 5.5,
    },
}


def _event(payload: dict[str, Any] | None = None, **envelope: Any) -> bytes:
    doc = {**_BASE, **envelope, "payload": {**_BASE["payload"], **(payload or {})}}
    return json.dumps(doc, ensure_ascii=False).encode()


def _snapshot(total: int, active: int) -> bytes:
    payload = {"total_blades": total, "active_blades": active, "errored_jobs": 0}
    return json.dumps({**_BASE, "event_type": "tractor.farm.snapshot", "payload": payload}).encode()


# Edge cases, each with the contract's answer (§2-§5 and the decisions recorded with them).
EDGE_CASES = [
    ("string_for_integer", _event({"frames_total": "10"}), Reason.WRONG_TYPE),
    ("bool_for_integer", _event({"frames_failed": True}), Reason.WRONG_TYPE),
    ("string_for_number", _event({"cpu_seconds": "5"}), Reason.WRONG_TYPE),
    ("negative_string_for_integer", _event({"frames_failed": "-1"}), Reason.WRONG_TYPE),
    ("overflowing_number", _event().replace(b"5.5", b"1e999"), Reason.WRONG_TYPE),
    ("nan_line", b"NaN", Reason.INVALID_JSON),
    ("infinity_line", b"-Infinity", Reason.INVALID_JSON),
    ("ts_utc_year_0", _event(ts="0000-06-01T00:00:00Z"), Reason.INVALID_TIMESTAMP),
    ("ts_local_1_utc_0", _event(ts="0001-01-01T00:30:00+01:00"), Reason.INVALID_TIMESTAMP),
    ("ts_local_9999_utc_10000", _event(ts="9999-12-31T23:30:00-01:00"), Reason.INVALID_TIMESTAMP),
    ("active_above_total_beyond_2_53", _snapshot(2**53, 2**53 + 1), Reason.INVALID_VALUE),
    ("count_at_int64_max", _snapshot(INT64_MAX, 1), "event"),
    ("count_beyond_int64", _snapshot(INT64_MAX + 1, 1), Reason.INVALID_VALUE),
    (
        "whole_float_beyond_int64",
        _snapshot(1, 0).replace(b": 1,", b": 9.3e18,"),
        Reason.INVALID_VALUE,
    ),
    ("duplicate_extra_key", _event().replace(b'"host"', b'"x": 1, "x": 2, "host"'), "event"),
    (
        "overflowing_optional_number",
        _event({"wall_seconds": 0}).replace(b": 0}", b": 1e999}"),
        Reason.WRONG_TYPE,
    ),
    ("negative_overflowing_number", _event().replace(b"5.5", b"-1e999"), Reason.WRONG_TYPE),
    ("ts_nine_fraction_digits", _event(ts="9999-12-31T23:59:59.999999999Z"), "event"),
    ("ts_feb_29_1900", _event(ts="1900-02-29T00:00:00Z"), Reason.INVALID_TIMESTAMP),
    ("ts_minus_00_00", _event(ts="2026-03-04t10:00:00-00:00"), "event"),
    ("event_id_128_astral", _event(event_id="\U0001f600" * 128), "event"),
    ("event_id_129_combining", _event(event_id="e\u0301" * 64 + "x"), Reason.INVALID_VALUE),
    ("lone_surrogate", _event().replace(b'"j1"', b'"\\ud800"'), Reason.INVALID_JSON),
    ("escaped_key", _event().replace(b'"host"', b'"h\\u006fst"'), "event"),
    ("duplicate_key", _event().replace(b'"user"', b'"user": "u", "user"'), "event"),
    (
        "duplicate_key_null_first",
        _event().replace(b'"user"', b'"user": null, "user"'),
        "missing_field",
    ),
    ("uppercase_key_is_not_the_field", _event().replace(b'"host"', b'"HOST"'), "missing_field"),
    ("overflowing_extra_field", _event().replace(b'"job_id"', b'"x": 1e999, "job_id"'), "event"),
    ("bom", b"\xef\xbb\xbf" + _event(), Reason.INVALID_JSON),
    ("comment", _event() + b" /* c */", Reason.INVALID_JSON),
    ("utf8_surrogate", _event().replace(b"j1", b"\xed\xa0\x80"), Reason.INVALID_UTF8),
    ("utf8_overlong", _event().replace(b"j1", b"\xc0\xaf"), Reason.INVALID_UTF8),
    ("vertical_tab_line", b"\x0b\x0c \t", "blank"),
    ("nbsp_line", "\u00a0".encode(), Reason.INVALID_JSON),
    ("nul_then_cr", b"\x00\r", "nul_padding"),
    ("cr_then_nul", b"\r\x00", "blank"),
]


@pytest.mark.parametrize(
    ("line", "expected"), [pytest.param(line, exp, id=name) for name, line, exp in EDGE_CASES]
)
def test_edge_cases(line: bytes, expected: str) -> None:
    check([((line, expected), False)])


def test_line_length_limit() -> None:
    event = _event()
    pad = MAX_LINE_BYTES - len(event)
    lines: list[tuple[Line, bool]] = [
        ((event + b" " * pad, "event"), False),  # exactly 1 MiB
        ((event + b" " * pad, "event"), True),  # the CR of CRLF is not part of the line
        ((event + b" " * (pad - 1) + b"\r", "event"), False),  # ... also when it is ours
        ((event + b" " * (pad + 1), Reason.LINE_TOO_LONG), False),
        ((event + b" " * pad + b"\x00" * 1000, "event"), False),  # NULs do not count
        ((b" " * (MAX_LINE_BYTES + 1), Reason.LINE_TOO_LONG), False),  # not parsed: not blank
        ((b"\xff" * (MAX_LINE_BYTES + 1), Reason.LINE_TOO_LONG), False),
        ((b"\x00" * (MAX_LINE_BYTES + 5), "nul_padding"), True),
        ((b"[" + b" " * MAX_LINE_BYTES + b"]", Reason.LINE_TOO_LONG), False),
    ]
    check(lines)
