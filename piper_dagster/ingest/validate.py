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
    r"^(?:[ \t\r\n]*[-+]?(?i:nan|inf)"  # the whole document is such a literal
    r'|(?:[^"]|"(?:[^"\\]|\\.)*")*?(?:,[ \t\r\n]*[\]}]|[:\[,][ \t\r\n]*[-+]?(?i:nan|inf)))'
)
# Blank lines (§2): only ASCII whitespace; the line's own terminator is still attached here.
# UTC years 1..9999 (RFC 3339 §5.6 four-digit years, as the reference parses them).
TS_MIN = "TIMESTAMPTZ '0001-01-01 00:00:00+00'"
TS_MAX = "TIMESTAMPTZ '9999-12-31 23:59:59.999999+00'"
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
    terms = []
    if kind.nonneg:
        terms.append(f"n_{name} < 0")
    if kind.json == "integer":
        # The very cast silver applies (BIGINT from the JSON text): what passes here never fails
        # a silver refresh.
        terms.append(f"(p.{name} IS NOT NULL AND TRY_CAST(p.{name} ->> '$' AS BIGINT) IS NULL)")
    return " OR ".join(terms) or None


def _any(terms: list[str]) -> str:
    return "(" + " OR ".join(terms) + ")" if terms else "false"


_MODELS: tuple[type[Payload], ...] = tuple(dict.fromkeys(EVENT_TYPES.values()))


def _model_id() -> str:
    """CASE mapping the event type to the index of its payload model (computed once per line)."""
    whens = " ".join(f"WHEN {_q(t)} THEN {_MODELS.index(m)}" for t, m in EVENT_TYPES.items())
    return f"CASE s_event_type {whens} END"


def _payload_status(env_wrong: str, env_invalid: str) -> str:
    """Steps 9-11 of §5 for a line whose envelope passed steps 1-8: one CASE over the model.

    Each line evaluates one branch only; the envelope's own wrong_type/invalid_value terms are
    repeated in every branch so that the precedence stays the contract's.
    """
    branches = []
    for i, model in enumerate(_MODELS):
        branches.append(
            f"WHEN {i} THEN CASE"
            f" WHEN {_payload_missing(model)} THEN '{Reason.MISSING_FIELD}'"
            f" WHEN {env_wrong} OR {_payload_wrong(model)} THEN '{Reason.WRONG_TYPE}'"
            f" WHEN {env_invalid} OR {_payload_invalid(model)} THEN '{Reason.INVALID_VALUE}'"
            " ELSE 'event' END"
        )
    return "CASE model " + " ".join(branches) + " END"


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
        # Exact for integers beyond 2^53 (as HUGEINT), doubles otherwise.
        exact = f"TRY_CAST(p.{small}::VARCHAR AS HUGEINT) > TRY_CAST(p.{big}::VARCHAR AS HUGEINT)"
        terms.append(f"coalesce({exact}, n_{small} > n_{big}, false)")
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

    Output: idx, status ('event', 'blank', 'nul_padding' or a reason) and, meaningful where
    status = 'event', the envelope fields. The stages holding a JSON parse or the status are
    MATERIALIZED: DuckDB would otherwise inline them and evaluate them once per reference.
    """
    required = [n for n in ENVELOPE_FIELDS if Envelope.model_fields[n].is_required()]
    strings = ["event_id", "host", "user"]
    optional_strings = [n for n in ENVELOPE_FIELDS if not Envelope.model_fields[n].is_required()]
    known = ", ".join(_q(n) for n in ENVELOPE_FIELDS)
    text_fields = ["schema_version", *strings, *optional_strings, "event_type", "ts"]
    env_wrong = _any(
        ["NOT starts_with(e.payload, '{')"]
        + [f"NOT {_is_str('e.' + n)}" for n in strings]
        + [f"(e.{n} IS NOT NULL AND NOT {_is_str('e.' + n)})" for n in optional_strings]
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
             -- distinct: a repeated key keeps its first value, like every other field
             THEN list_distinct(list_filter(json_keys(txt), k -> k NOT IN ({known}))) END
             AS extra_keys,
        txt
    FROM shaped
),
env AS MATERIALIZED (
    SELECT idx, early, e.payload AS payload, extra_keys,
        CASE WHEN len(extra_keys) > 0 THEN txt END AS txt,
        {_any([f"e.{n} IS NULL" for n in required])} AS env_missing,
        {env_wrong} AS env_wrong,
        {unquoted},
        CASE WHEN starts_with(e.payload, '{{')
             THEN json_transform(e.payload, {_struct(_all_payload_fields())}) END AS p
    FROM parsed
),
fields AS MATERIALIZED (
    SELECT idx, early, payload, extra_keys, txt, env_missing, env_wrong, p,
        s_schema_version, s_event_id, s_host, s_user, s_show, s_session_id, s_event_type,
        {_model_id()} AS model,
        CASE WHEN regexp_full_match(s_ts, {_q(TS_STRICT_PATTERN)}) AND s_ts[1:4] != '0000'
             THEN TRY_CAST(upper(s_ts) AS TIMESTAMPTZ) END AS ts,
        {numbers}
    FROM env
),
classified AS MATERIALIZED (
    SELECT idx, payload, extra_keys, txt, ts,
        s_schema_version, s_event_id, s_host, s_user, s_show, s_session_id, s_event_type,
        CASE
            WHEN early IS NOT NULL THEN early
            WHEN env_missing THEN '{Reason.MISSING_FIELD}'
            WHEN NOT coalesce(regexp_full_match(s_schema_version, '1\\.[0-9]+'), false)
                THEN '{Reason.UNSUPPORTED_SCHEMA_VERSION}'
            WHEN model IS NULL THEN '{Reason.UNKNOWN_EVENT_TYPE}'
            WHEN ts IS NULL OR ts NOT BETWEEN {TS_MIN} AND {TS_MAX}
                THEN '{Reason.INVALID_TIMESTAMP}'
            -- §5 step 10: a payload that is not an object has no fields to look up (step 9).
            WHEN p IS NULL THEN '{Reason.WRONG_TYPE}'
            ELSE {_payload_status("env_wrong", env_invalid)}
        END AS status
    FROM fields
)
SELECT idx, status,
    s_event_id AS event_id,
    s_event_type AS event_type,
    s_schema_version AS schema_version,
    ts,
    s_host AS host,
    s_user AS "user",
    coalesce(s_show, {_q(DEFAULT_SHOW)}) AS show,
    s_session_id AS session_id,
    payload,
    CASE WHEN status = 'event' AND len(extra_keys) > 0 THEN to_json(map_from_entries(
        list_transform(extra_keys, k -> {{'key': k, 'value': json_extract(txt, {pointer})}})
    )) END AS envelope_extra
FROM classified
"""
