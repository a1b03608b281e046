"""Vectorized contract validation: one DuckDB query classifies a whole batch of lines.

The query is generated from the pydantic contract models (field names, JSON kinds, required-ness,
value rules), so the models stay the single source of truth. Input: a relation with columns
`idx` (row number in the batch), `raw` (BLOB: the line with its terminator, NUL bytes removed),
`term` (terminator length: 1 for LF, 2 for CRLF) and `nul_only` (the line was only NUL bytes).
Output: one row per input line with `status` ('event', 'blank' or the rejection reason) and the
envelope fields of the valid ones.
"""

from __future__ import annotations

import json
from functools import cache

from piper_dagster.contract.models import (
    DEFAULT_SHOW,
    ENVELOPE_FIELDS,
    EVENT_TYPES,
    MAX_EVENT_ID_CHARS,
    MAX_LINE_BYTES,
    Envelope,
    Kind,
    Payload,
    Reason,
    payload_field_specs,
)

# RFC 3339 §5.6 with the numeric ranges the reference checks (the calendar is checked by the cast).
TS_STRICT_PATTERN = (
    r"[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[Tt]([01][0-9]|2[0-3]):[0-5][0-9]:"
    r"[0-5][0-9](\.[0-9]+)?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])"
)
# yyjson (DuckDB) accepts NaN/Infinity literals and trailing commas; strict JSON does not.
# Cheap prefilter first, then a string-aware pattern on the few candidate lines.
COMMA_PREFILTER = r",[ \t\r\n]*[\]}]"
LENIENT_PATTERN = (
    r'^(?:[^"]|"(?:[^"\\]|\\.)*")*?(?:,[ \t\r\n]*[\]}]|[:\[,][ \t\r\n]*[-+]?(?i:nan|inf))'
)
# Blank lines (§2): only ASCII whitespace; the line's own terminator is still attached here.
WHITESPACE_CHARS = " \t\r\n\x0b\x0c"


def _q(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _is_str(v: str) -> str:
    return f"starts_with({v}, '\"')"


def _unquote(v: str) -> str:
    # Fast path for strings without escapes; the JSON reader unescapes the rest.
    return f"CASE WHEN contains({v}, '\\') THEN json_extract_string({v}, '$') ELSE {v}[2:-2] END"


def _num(v: str) -> str:
    # json_transform hands back canonical JSON text: strings keep their quotes, so only JSON
    # numbers and booleans cast to DOUBLE (as VARCHAR: a JSON cast would unquote strings).
    return f"CASE WHEN {v} NOT IN ('true', 'false') THEN TRY_CAST({v}::VARCHAR AS DOUBLE) END"


def _type_ok(kind: Kind, name: str) -> str:
    """SQL: payload field `name` (present) has the JSON type of `kind`."""
    if kind.json == "string":
        return _is_str(f"p.{name}")
    n = f"n_{name}"  # its value as DOUBLE, computed once per line (NULL if not a number)
    if kind.json == "integer":
        return f"coalesce(isfinite({n}) AND {n} = trunc({n}), false)"
    return f"coalesce(isfinite({n}), false)"


def _value_bad(kind: Kind, name: str) -> str | None:
    if kind.choices:
        return f"{_unquote('p.' + name)} NOT IN ({', '.join(_q(c) for c in kind.choices)})"
    if kind.nonneg:
        return f"n_{name} < 0"
    return None


def _any(terms: list[str]) -> str:
    return "(" + " OR ".join(terms) + ")" if terms else "false"


_MODELS: tuple[type[Payload], ...] = tuple(dict.fromkeys(EVENT_TYPES.values()))


def _model_id() -> str:
    """CASE mapping the event type to the index of its payload model (computed once per line)."""
    whens = " ".join(f"WHEN {_q(t)} THEN {_MODELS.index(m)}" for t, m in EVENT_TYPES.items())
    return f"CASE s_event_type {whens} END"


def _per_model(builder) -> str:  # type: ignore[no-untyped-def]
    """CASE over the payload model, one branch per model."""
    branches = [f"WHEN {i} THEN {builder(model)}" for i, model in enumerate(_MODELS)]
    return "CASE model " + " ".join(branches) + " ELSE false END"


def _payload_missing(model: type[Payload]) -> str:
    return _any([f"p.{f.name} IS NULL" for f in payload_field_specs(model) if f.required])


def _payload_wrong(model: type[Payload]) -> str:
    terms = []
    for f in payload_field_specs(model):
        ok = _type_ok(f.kind, f.name)
        terms.append(f"NOT {ok}" if f.required else f"(p.{f.name} IS NOT NULL AND NOT {ok})")
    return _any(terms)


def _payload_invalid(model: type[Payload]) -> str:
    terms = []
    for f in payload_field_specs(model):
        bad = _value_bad(f.kind, f.name)
        if bad:
            terms.append(f"coalesce({bad}, false)")
    for small, big in model.at_most:
        terms.append(f"coalesce(n_{small} > n_{big}, false)")
    return _any(terms)


def _all_payload_fields() -> list[str]:
    names: dict[str, None] = {}
    for model in EVENT_TYPES.values():
        names.update(dict.fromkeys(f.name for f in payload_field_specs(model)))
    return list(names)


def _struct(names: list[str]) -> str:
    return _q(json.dumps(dict.fromkeys(names, "JSON")))


def _numeric_fields() -> list[str]:
    names: dict[str, None] = {}
    for model in EVENT_TYPES.values():
        for f in payload_field_specs(model):
            if f.kind.json in ("integer", "number"):
                names[f.name] = None
    return list(names)


@cache
def classify_sql(source: str) -> str:
    """The SELECT that classifies every line of `source` (columns idx, raw, term, nul_only).

    Stages that compute something expensive are MATERIALIZED: DuckDB would otherwise inline
    them and evaluate a JSON parse once per reference. Each derived scalar is computed once.
    """
    required = [n for n in ENVELOPE_FIELDS if Envelope.model_fields[n].is_required()]
    strings = ["event_id", "host", "user"]
    optional_strings = [n for n in ENVELOPE_FIELDS if not Envelope.model_fields[n].is_required()]
    known = ", ".join(_q(n) for n in ENVELOPE_FIELDS)
    event_types = ", ".join(_q(t) for t in EVENT_TYPES)
    text_fields = ["schema_version", *strings, *optional_strings, "event_type", "ts"]
    env_wrong = _any(
        [f"NOT {_is_str('e.' + n)}" for n in strings]
        + [f"(e.{n} IS NOT NULL AND NOT {_is_str('e.' + n)})" for n in optional_strings]
        + ["NOT starts_with(e.payload, '{')"]
    )
    env_invalid = _any(
        [f"s_{n} = ''" for n in strings] + [f"length(s_event_id) > {MAX_EVENT_ID_CHARS}"]
    )
    ws = _q(WHITESPACE_CHARS)
    # A JSON pointer reaches any key, whatever characters it holds (RFC 6901 escapes).
    pointer = "'/' || replace(replace(k, '~', '~0'), '/', '~1')"
    unquoted = ",\n        ".join(
        f"CASE WHEN starts_with(e.{n}, '\"') THEN {_unquote('e.' + n)} END AS s_{n}"
        for n in text_fields
    )
    numbers = ",\n        ".join(f"{_num('p.' + n)} AS n_{n}" for n in _numeric_fields())
    return f"""
WITH decoded AS MATERIALIZED (
    SELECT idx, nul_only, octet_length(raw) - term AS nbytes,
           CASE WHEN octet_length(raw) - term <= {MAX_LINE_BYTES} THEN try(decode(raw)) END AS txt
    FROM {source}
),
shaped AS (
    SELECT idx, txt,
        CASE
            WHEN nul_only THEN 'nul_padding'
            WHEN nbytes > {MAX_LINE_BYTES} THEN '{Reason.LINE_TOO_LONG}'
            WHEN txt IS NULL THEN '{Reason.INVALID_UTF8}'
            WHEN NOT json_valid(txt) THEN
                CASE WHEN trim(txt, {ws}) = '' THEN 'blank' ELSE '{Reason.INVALID_JSON}' END
            WHEN (regexp_matches(txt, {_q(COMMA_PREFILTER)})
                  OR contains(lower(txt), 'nan') OR contains(lower(txt), 'inf'))
                 AND regexp_matches(txt, {_q(LENIENT_PATTERN)}) THEN '{Reason.INVALID_JSON}'
            WHEN NOT starts_with(ltrim(txt, {ws}), '{{') THEN '{Reason.NOT_AN_OBJECT}'
        END AS early
    FROM decoded
),
parsed AS MATERIALIZED (
    SELECT idx, early,
        CASE WHEN early IS NULL
             THEN json_transform(txt, {_struct(list(ENVELOPE_FIELDS))}) END AS e,
        CASE WHEN early IS NULL
             THEN list_filter(json_keys(txt), k -> k NOT IN ({known})) END AS extra_keys,
        txt
    FROM shaped
),
env AS MATERIALIZED (
    SELECT idx, early, e, extra_keys,
        CASE WHEN len(extra_keys) > 0 THEN txt END AS txt,
        {unquoted},
        CASE WHEN starts_with(e.payload, '{{')
             THEN json_transform(e.payload, {_struct(_all_payload_fields())}) END AS p
    FROM parsed
),
fields AS MATERIALIZED (
    SELECT *,
        {_model_id()} AS model,
        CASE WHEN regexp_full_match(s_ts, {_q(TS_STRICT_PATTERN)})
             THEN TRY_CAST(upper(s_ts) AS TIMESTAMPTZ) END AS ts,
        {numbers}
    FROM env
),
classified AS (
    SELECT *,
        CASE
            WHEN early IS NOT NULL THEN early
            WHEN {_any([f"e.{n} IS NULL" for n in required])} THEN '{Reason.MISSING_FIELD}'
            WHEN NOT coalesce(regexp_full_match(s_schema_version, '1\\.[0-9]+'), false)
                THEN '{Reason.UNSUPPORTED_SCHEMA_VERSION}'
            WHEN s_event_type IS NULL OR s_event_type NOT IN ({event_types})
                THEN '{Reason.UNKNOWN_EVENT_TYPE}'
            WHEN ts IS NULL OR NOT year(ts) BETWEEN 1 AND 9999 THEN '{Reason.INVALID_TIMESTAMP}'
            WHEN p IS NOT NULL AND {_per_model(_payload_missing)} THEN '{Reason.MISSING_FIELD}'
            WHEN {env_wrong} OR {_per_model(_payload_wrong)} THEN '{Reason.WRONG_TYPE}'
            WHEN {env_invalid} OR {_per_model(_payload_invalid)} THEN '{Reason.INVALID_VALUE}'
            ELSE 'event'
        END AS status
    FROM fields
)
SELECT idx, status,
    CASE WHEN status = 'event' THEN s_event_id END AS event_id,
    CASE WHEN status = 'event' THEN s_event_type END AS event_type,
    CASE WHEN status = 'event' THEN s_schema_version END AS schema_version,
    CASE WHEN status = 'event' THEN ts END AS ts,
    CASE WHEN status = 'event' THEN s_host END AS host,
    CASE WHEN status = 'event' THEN s_user END AS "user",
    CASE WHEN status = 'event' THEN coalesce(s_show, {_q(DEFAULT_SHOW)}) END AS show,
    CASE WHEN status = 'event' THEN s_session_id END AS session_id,
    CASE WHEN status = 'event' THEN e.payload::JSON END AS payload,
    CASE WHEN status = 'event' AND len(extra_keys) > 0 THEN to_json(map_from_entries(
        list_transform(extra_keys, k -> {{'key': k, 'value': json_extract(txt, {pointer})}})
    )) END AS envelope_extra
FROM classified
"""
