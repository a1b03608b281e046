"""Vectorized contract validation: one DuckDB query classifies a whole batch of lines.

The query is generated from the pydantic contract models (field names, JSON kinds, required-ness,
value rules, the schema_version pattern, length limits, the order of the reasons of §5), so the
models stay the single source of truth: no contract fact is restated here. Input: a relation with columns
`idx` (row number in the batch), `raw` (BLOB: the line with its terminator, NUL bytes removed),
`term` (terminator length: 1 for LF, 2 for CRLF) and `nul_only` (the line was only NUL bytes).
Output: one row per input line with `status` ('event', 'blank' or the rejection reason) and the
envelope fields of the valid ones.
"""

from __future__ import annotations

import json
from functools import cache

import duckdb

from piper_dagster.contract.introspect import (
    envelope_object_fields,
    envelope_text_fields,
    own_reasons,
    payload_field_specs,
    schema_version_pattern,
)
from piper_dagster.contract.models import (
    BLANK_WHITESPACE,
    DEFAULT_SHOW,
    ENVELOPE_FIELDS,
    EVENT_TYPES,
    MAX_LINE_BYTES,
    REASON_ORDER,
    TS_PATTERN,
    TS_UTC_RANGE,
    Envelope,
    Kind,
    LineStatus,
    Payload,
    Reason,
    step_of,
)
from piper_dagster.ingest.framing import Batch, lines_table
from piper_dagster.spool.reader import Piece

# yyjson (DuckDB) accepts NaN/Infinity literals and trailing commas; strict JSON does not.
# Cheap prefilter first, then a string-aware pattern on the few candidate lines.
COMMA_PREFILTER = r",[ \t\r\n]*[\]}]"
LENIENT_PATTERN = (
    r"^(?:[ \t\r\n]*[-+]?(?i:nan|inf)"  # the whole document is such a literal
    r'|(?:[^"]|"(?:[^"\\]|\\.)*")*?(?:,[ \t\r\n]*[\]}]|[:\[,][ \t\r\n]*[-+]?(?i:nan|inf)))'
)
TS_MIN, TS_MAX = (f"TIMESTAMPTZ '{t.isoformat(sep=' ')}'" for t in TS_UTC_RANGE)
# Blank lines (§2); the line's own terminator is still attached here.
WHITESPACE_CHARS = BLANK_WHITESPACE + "\n"

# The statuses of lines that are not quarantined (every other status is a Reason).
NOT_REJECTED: frozenset[str] = frozenset(LineStatus)


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


def _in_contract_order(arms: dict[int, list[str]], first: int, last: int) -> str:
    """The WHEN arms of the checks first..last of REASON_ORDER, in the contract's order.

    `arms` maps a step (step_of) to its WHEN clauses; every step of the range must have one, so a
    reason added to (or moved in) the models cannot be silently skipped here.
    """
    if sorted(arms) != list(range(first, last + 1)):
        raise AssertionError(f"validator steps {sorted(arms)} != contract steps {first}..{last}")
    return " ".join(" ".join(arms[step]) for step in sorted(arms))


def _then(reason: Reason) -> str:
    return f"THEN '{reason}'"


_MODELS: tuple[type[Payload], ...] = tuple(dict.fromkeys(EVENT_TYPES.values()))


def _model_id(event_type: str) -> str:
    """CASE mapping the event type to the index of its payload model (computed once per line)."""
    whens = " ".join(f"WHEN {_q(t)} THEN {_MODELS.index(m)}" for t, m in EVENT_TYPES.items())
    return f"CASE s_{event_type} {whens} END"


def _payload_status(env_wrong: str, env_invalid: str) -> str:
    """Steps 9-11 of §5 for a line whose envelope passed steps 1-8: one CASE over the model.

    Each line evaluates one branch only; the envelope's own wrong_type/invalid_value terms are
    repeated in every branch so that the precedence stays the contract's.
    """
    branches = []
    missing = step_of(Reason.MISSING_FIELD, payload=True)
    wrong, invalid = step_of(Reason.WRONG_TYPE), step_of(Reason.INVALID_VALUE)
    for i, model in enumerate(_MODELS):
        arms = {
            missing: [f"WHEN {_payload_missing(model)} {_then(Reason.MISSING_FIELD)}"],
            wrong: [f"WHEN {env_wrong} OR {_payload_wrong(model)} {_then(Reason.WRONG_TYPE)}"],
            invalid: [
                f"WHEN {env_invalid} OR {_payload_invalid(model)} {_then(Reason.INVALID_VALUE)}"
            ],
        }
        ordered = _in_contract_order(arms, missing, len(REASON_ORDER) - 1)
        branches.append(f"WHEN {i} THEN CASE {ordered} ELSE '{LineStatus.EVENT}' END")
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


def _envelope_extra(txt: str, known: str) -> str:
    """SQL: the unknown top-level fields of the JSON object `txt`, as a JSON object.

    Linear in the line whatever its shape: the keys and the values come from one parse each
    (json_keys, json_extract '$.*': both in document order, duplicates included) and are zipped;
    one lookup per key (a JSON pointer each) would re-parse the line once per key, which a line
    of thousands of unknown fields turns into an out-of-memory. A repeated key keeps its first
    value, like every other field (DuckDB's reader): sorted by (key, position), a pair is kept
    when its key differs from its predecessor's; the kept pairs go back to document order.
    """
    pairs = (
        f"list_transform(list_zip(keys, json_extract({txt}, '$.*'), range(1, len(keys) + 1)),"
        " x -> {'k': x[1], 'i': x[3], 'v': x[2]})"
    )
    by_key = f"list_sort(list_filter({pairs}, x -> x.k NOT IN ({known})))"
    first = (
        "list_filter(list_zip(s, list_prepend(NULL, s[:-2])),"
        " x -> x[2] IS NULL OR x[1].k <> x[2].k)"
    )
    in_order = f"list_sort(list_transform({first}, x -> {{'i': x[1].i, 'k': x[1].k, 'v': x[1].v}}))"
    entries = f"list_transform({in_order}, x -> {{'key': x.k, 'value': x.v}})"
    # Lambdas bind `keys` and `s` once (a sub-expression named twice would be computed twice).
    return (
        f"list_transform([json_keys({txt})], keys -> list_transform([{by_key}],"
        f" s -> to_json(map_from_entries({entries})))[1])[1]"
    )


@cache
def classify_sql(source: str) -> str:
    """The SELECT that classifies every line of `source` (columns idx, raw, term, nul_only).

    Output: idx, status ('event', 'blank', 'nul_padding' or a reason) and, meaningful where
    status = 'event', the envelope fields. The stages holding a JSON parse or the status are
    MATERIALIZED: DuckDB would otherwise inline them and evaluate them once per reference. Lines
    settled by the line checks (blank, padding, not JSON, not an object...) skip the JSON stages.
    """
    required = [n for n in ENVELOPE_FIELDS if Envelope.model_fields[n].is_required()]
    plain = envelope_text_fields()
    own = own_reasons()
    (payload_field,) = envelope_object_fields()  # the SQL below knows one payload object
    known = ", ".join(_q(n) for n in ENVELOPE_FIELDS)
    # Every string the output or a check needs, unquoted once per line (s_<name>).
    text_fields = [n for n in ENVELOPE_FIELDS if n in own or any(f.name == n for f in plain)]
    env_wrong = _any(
        [f"NOT starts_with(e.{payload_field}, '{{')"]
        + [
            f"NOT {_is_str('e.' + f.name)}"
            if f.required
            else f"(e.{f.name} IS NOT NULL AND NOT {_is_str('e.' + f.name)})"
            for f in plain
        ]
    )
    lengths = []
    for f in plain:
        if f.min_length == 1:
            lengths.append(f"s_{f.name} = ''")  # the common case, cheaper than length()
        elif f.min_length:
            lengths.append(f"length(s_{f.name}) < {f.min_length}")
        if f.max_length is not None:
            lengths.append(f"length(s_{f.name}) > {f.max_length}")
    env_invalid = _any(lengths)
    ws = _q(WHITESPACE_CHARS)
    line_arms = {
        step_of(Reason.LINE_TOO_LONG): [
            f"WHEN nbytes > {MAX_LINE_BYTES} {_then(Reason.LINE_TOO_LONG)}"
        ],
        step_of(Reason.INVALID_UTF8): [f"WHEN txt IS NULL {_then(Reason.INVALID_UTF8)}"],
        step_of(Reason.INVALID_JSON): [
            # A blank line (§2) is not JSON either; it is only looked at when JSON fails.
            f"WHEN NOT json_valid(txt) THEN CASE WHEN trim(txt, {ws}) = ''"
            f" THEN '{LineStatus.BLANK}'"
            f" ELSE '{Reason.INVALID_JSON}' END",
            f"WHEN (regexp_matches(txt, {_q(COMMA_PREFILTER)})"
            " OR contains(lower(txt), 'nan') OR contains(lower(txt), 'inf'))"
            f" AND regexp_matches(txt, {_q(LENIENT_PATTERN)}) {_then(Reason.INVALID_JSON)}",
        ],
        step_of(Reason.NOT_AN_OBJECT): [
            f"WHEN NOT starts_with(ltrim(txt, {ws}), '{{') {_then(Reason.NOT_AN_OBJECT)}"
        ],
    }
    line_checks = _in_contract_order(line_arms, 0, step_of(Reason.NOT_AN_OBJECT))
    by_reason = {reason: name for name, reason in own.items()}
    sv, et = by_reason[Reason.UNSUPPORTED_SCHEMA_VERSION], by_reason[Reason.UNKNOWN_EVENT_TYPE]
    ts = by_reason[Reason.INVALID_TIMESTAMP]
    envelope_arms = {
        step_of(Reason.MISSING_FIELD): [f"WHEN env_missing {_then(Reason.MISSING_FIELD)}"],
        step_of(Reason.UNSUPPORTED_SCHEMA_VERSION): [
            f"WHEN NOT coalesce(regexp_matches(s_{sv}, {_q(schema_version_pattern())}), false)"
            f" {_then(Reason.UNSUPPORTED_SCHEMA_VERSION)}"
        ],
        step_of(Reason.UNKNOWN_EVENT_TYPE): [
            f"WHEN model IS NULL {_then(Reason.UNKNOWN_EVENT_TYPE)}"
        ],
        step_of(Reason.INVALID_TIMESTAMP): [
            f"WHEN ts IS NULL OR ts NOT BETWEEN {TS_MIN} AND {TS_MAX}"
            f" {_then(Reason.INVALID_TIMESTAMP)}"
        ],
    }
    envelope_checks = _in_contract_order(
        envelope_arms, step_of(Reason.MISSING_FIELD), step_of(Reason.INVALID_TIMESTAMP)
    )
    unquoted = ",\n        ".join(
        f"CASE WHEN starts_with(e.{n}, '\"') THEN {_unquote('e.' + n)} END AS s_{n}"
        for n in text_fields
    )
    s_columns = ", ".join(f"s_{n}" for n in text_fields)
    # One output column per envelope field (named as the field), meaningful for events.
    out = {n: f"s_{n}" for n in text_fields} | {ts: "ts", payload_field: "payload"}
    out["show"] = f"coalesce(s_show, {_q(DEFAULT_SHOW)})"  # §3: show defaults to DEFAULT_SHOW
    outputs = ",\n    ".join(f'{out[n]} AS "{n}"' for n in ENVELOPE_FIELDS)
    numbers = ",\n        ".join(f"{_num('p.' + n)} AS n_{n}" for n in _numeric_fields())
    return f"""
WITH decoded AS MATERIALIZED (
    SELECT idx, nul_only, octet_length(raw) - term AS nbytes,
           CASE WHEN octet_length(raw) - term <= {MAX_LINE_BYTES} THEN try(decode(raw)) END AS txt
    FROM {source}
),
shaped AS MATERIALIZED (
    SELECT idx, txt,
        CASE
            WHEN nul_only THEN '{LineStatus.NUL_PADDING}'
            {line_checks}
        END AS early
    FROM decoded
),
parsed AS MATERIALIZED (
    SELECT idx, early,
        CASE WHEN early IS NULL
             THEN json_transform(txt, {_struct(list(ENVELOPE_FIELDS))}) END AS e,
        -- One pass over the keys: does the line carry unknown envelope fields (§3 keeps them)?
        CASE WHEN early IS NULL THEN NOT list_has_all([{known}], json_keys(txt)) END
             AS has_extra,
        txt
    FROM shaped
    -- Only lines that passed the line checks go through the JSON stages (the others, e.g. a
    -- batch of millions of lines `1`, would carry every stage's columns as NULLs).
    WHERE early IS NULL
),
env AS MATERIALIZED (
    SELECT idx, early, e.{payload_field} AS payload, has_extra,
        CASE WHEN has_extra THEN txt END AS txt,
        {_any([f"e.{n} IS NULL" for n in required])} AS env_missing,
        {env_wrong} AS env_wrong,
        {unquoted},
        CASE WHEN starts_with(e.{payload_field}, '{{')
             THEN json_transform(e.{payload_field}, {_struct(_all_payload_fields())}) END AS p
    FROM parsed
),
fields AS MATERIALIZED (
    SELECT idx, early, payload, has_extra, txt, env_missing, env_wrong, p,
        {s_columns},
        {_model_id(et)} AS model,
        CASE WHEN regexp_full_match(s_{ts}, {_q(TS_PATTERN)}) AND s_{ts}[1:4] != '0000'
             THEN TRY_CAST(upper(s_{ts}) AS TIMESTAMPTZ) END AS ts,
        {numbers}
    FROM env
),
classified AS MATERIALIZED (
    SELECT idx, payload, has_extra, txt, ts,
        {s_columns},
        CASE
            WHEN early IS NOT NULL THEN early
            {envelope_checks}
            -- §5 step 10: a payload that is not an object has no fields to look up (step 9).
            WHEN p IS NULL THEN '{Reason.WRONG_TYPE}'
            ELSE {_payload_status("env_wrong", env_invalid)}
        END AS status
    FROM fields
)
SELECT idx, status,
    {outputs},
    CASE WHEN status = '{LineStatus.EVENT}' AND has_extra THEN {_envelope_extra("txt", known)}
    END AS envelope_extra
FROM classified
UNION ALL BY NAME
SELECT idx, early AS status FROM shaped WHERE early IS NOT NULL
"""


def classify_buffer(con: duckdb.DuckDBPyConnection, data: bytes) -> list[str]:
    """Statuses ('event', 'blank', 'nul_padding' or a reason) of each line of `data`.

    The hot path's own code on an in-memory buffer of complete lines, for tests and tools.
    """
    if not data:
        return []
    if not data.endswith(b"\n"):
        raise ValueError("data must end with a newline")
    lines = lines_table(Batch(files=[], pieces=[Piece(0, 0, len(data), 1, data)]))
    con.register("probe_lines", lines)
    try:
        rows = con.execute(
            f"SELECT status FROM ({classify_sql('probe_lines')}) ORDER BY idx"
        ).fetchall()
    finally:
        con.unregister("probe_lines")
    return [r[0] for r in rows]
