"""Every command's --help: dates shown as dates, the damage kinds listed, every option explained."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import typer
from typer.testing import CliRunner

from piper_dagster.cli import app
from piper_dagster.generate.options import DAMAGE_KINDS

# Options that take a date (or a time): their help must show the format, not "<str>".
DATE_OPTIONS = {"--start", "--end", "--since", "--date"}


def _commands() -> Iterator[tuple[list[str], Any]]:
    # Typer vendors its own click: its commands are walked by shape, not by click's classes.
    def walk(cmd: Any, path: list[str]) -> Iterator[tuple[list[str], Any]]:
        if hasattr(cmd, "commands"):
            for name, sub in cmd.commands.items():
                yield from walk(sub, [*path, name])
        else:
            yield path, cmd

    yield from walk(typer.main.get_command(app), [])


def _help(path: list[str]) -> str:
    # Wide enough that rich does not wrap the option table's cells.
    out = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "240"})
    assert out.exit_code == 0, out.output
    return out.output


def test_every_command_has_a_help_that_shows_dates_as_dates() -> None:
    seen = 0
    for path, cmd in _commands():
        text = _help(path)
        for param in cmd.params:
            if param.param_type_name != "option" or "--help" in param.opts:
                continue
            if set(param.opts) & DATE_OPTIONS:
                seen += 1
                assert param.metavar == "YYYY-MM-DD", (path, param.opts)
                line = next(line for line in text.splitlines() if param.opts[0] in line)
                assert "YYYY-MM-DD" in line and "<str>" not in line, (path, line)
            if param.opts == ["--as-of"]:
                assert param.metavar == "YYYY-MM-DDTHH:MM"
            # Every option says what it is for (a flag's name alone is not enough).
            assert param.help, (path, param.opts)
    assert seen >= 7  # materialize, backfill, doctor, quarantine replay, spool generate


def test_spool_generate_help_lists_the_damage_kinds() -> None:
    text = " ".join(_help(["spool", "generate"]).split())
    for kind in DAMAGE_KINDS:
        assert kind in text, kind


def test_quarantine_replay_help_lists_the_reasons() -> None:
    from piper_dagster.contract import Reason

    text = " ".join(_help(["quarantine", "replay"]).split())
    for reason in Reason:
        assert reason.value in text, reason
