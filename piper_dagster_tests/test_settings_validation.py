"""Settings refuse typos: an unknown name, a missing or malformed file stop piper with one line.

Each case is checked through load_settings and through the `piper` command as a subprocess (one
line on stderr naming the fix, exit 2, no traceback).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from piper_dagster.settings import ConfigError, load_settings


@pytest.fixture
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No PIPER_* variable from the caller; the working directory has no .env."""
    for name in list(os.environ):
        if name.upper().startswith("PIPER_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _refused(match: str) -> str:
    with pytest.raises(ConfigError, match=match) as info:
        load_settings()
    message = str(info.value)
    assert "\n" not in message
    return message


def _piper(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`piper doctor` (it loads the settings first) with only these PIPER_* variables."""
    base = {k: v for k, v in os.environ.items() if not k.upper().startswith("PIPER_")}
    return subprocess.run(
        [sys.executable, "-m", "piper_dagster.cli", *(args or ("doctor",))],
        cwd=cwd,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _one_line_exit_2(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_an_unknown_piper_variable_is_refused_with_the_nearest_name(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIPER_INGEST__SETTLE_SECOND", "5")
    message = _refused("PIPER_INGEST__SETTLE_SECOND")
    assert "did you mean PIPER_INGEST__SETTLE_SECONDS?" in message

    proc = _piper(clean_env, {"PIPER_INGEST__SETTLE_SECOND": "5"})
    _one_line_exit_2(proc, "PIPER_INGEST__SETTLE_SECOND ", "PIPER_INGEST__SETTLE_SECONDS?")


def test_an_unknown_section_in_a_variable_is_refused(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIPER_INGST__SETTLE_SECONDS", "5")
    assert "did you mean PIPER_INGEST__SETTLE_SECONDS?" in _refused("PIPER_INGST__SETTLE_SECONDS")


def test_piper_variables_that_are_not_settings_are_allowed(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # docker compose's host paths (README: exported in the shell piper also runs in).
    monkeypatch.setenv("PIPER_RAW_ROOT", "/mnt/spool")
    monkeypatch.setenv("PIPER_DATA_ROOT", "/srv/piper")
    monkeypatch.setenv("PIPER_INGEST__SETTLE_SECONDS", "7")
    assert load_settings().ingest.settle_seconds == 7


def test_an_unknown_name_in_the_dotenv_file_is_refused(clean_env: Path) -> None:
    (clean_env / ".env").write_text(
        "DAGSTER_PG_PASSWORD=not-piper-s\nPIPER_CHECKS__TOP=3\nPIPER_RAW_ROOT=/mnt/spool\n"
    )
    message = _refused("PIPER_CHECKS__TOP ")
    assert str(clean_env / ".env") in message and "PIPER_CHECKS__TOP_N?" in message

    _one_line_exit_2(_piper(clean_env, {}), "PIPER_CHECKS__TOP ", "PIPER_CHECKS__TOP_N?")


def test_a_partial_config_file_overrides_only_its_keys(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (clean_env / "site.toml").write_text("[ingest]\nsettle_seconds = 5\n")
    monkeypatch.setenv("PIPER_CONFIG", "site.toml")
    settings = load_settings()
    assert settings.ingest.settle_seconds == 5
    assert settings.ingest.batch_bytes == 33554432  # the default, not "Field required"
    assert settings.checks.top_n == 5
    # The environment still wins over the file.
    monkeypatch.setenv("PIPER_INGEST__SETTLE_SECONDS", "9")
    assert load_settings().ingest.settle_seconds == 9


def test_piper_config_may_come_from_the_dotenv_file(clean_env: Path) -> None:
    (clean_env / "site.toml").write_text("[serving]\nkeep_versions = 4\n")
    (clean_env / ".env").write_text(f"PIPER_CONFIG={clean_env / 'site.toml'}\n")
    assert load_settings().serving.keep_versions == 4


def test_a_missing_config_file_is_called_missing(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = clean_env / "nowhere" / "settings.toml"
    monkeypatch.setenv("PIPER_CONFIG", str(missing))
    assert f"{missing} does not exist" in _refused("PIPER_CONFIG")

    proc = _piper(clean_env, {"PIPER_CONFIG": str(missing)})
    _one_line_exit_2(proc, "PIPER_CONFIG", f"{missing} does not exist")


def test_a_malformed_config_file_names_file_line_and_column(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = clean_env / "bad.toml"
    bad.write_text("[ingest]\nsettle_seconds = 5\nbatch_bytes = \n")
    monkeypatch.setenv("PIPER_CONFIG", str(bad))
    message = _refused("not valid TOML")
    assert str(bad) in message and "line 3, column" in message

    _one_line_exit_2(_piper(clean_env, {"PIPER_CONFIG": str(bad)}), str(bad), "line 3, column")


def test_an_unknown_key_or_section_in_a_config_file_is_refused(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = clean_env / "site.toml"
    monkeypatch.setenv("PIPER_CONFIG", str(site))
    site.write_text("[ingest]\nsettle_second = 5\n")
    message = _refused("unknown key 'settle_second' in \\[ingest\\]")
    assert "did you mean settle_seconds?" in message and str(site) in message

    site.write_text("[ingst]\nsettle_seconds = 5\n")
    assert "did you mean [ingest]?" in _refused("unknown section \\[ingst\\]")

    site.write_text("settle_seconds = 5\n")
    assert "did you mean [ingest] settle_seconds?" in _refused("outside any section")

    site.write_text("[checks]\ntop_m = 3\n")
    _one_line_exit_2(_piper(clean_env, {"PIPER_CONFIG": str(site)}), "'top_m'", "top_n?")


def test_the_freshness_interval_is_whole_minutes_within_a_day(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for bad in ("0", "1441", "every 15 minutes", "7.5"):
        monkeypatch.setenv("PIPER_CHECKS__FRESHNESS_INTERVAL_MINUTES", bad)
        assert _refused("checks.freshness_interval_minutes")
    for good in ("1", "15", "1440"):
        monkeypatch.setenv("PIPER_CHECKS__FRESHNESS_INTERVAL_MINUTES", good)
        assert load_settings().checks.freshness_interval_minutes == int(good)

    proc = _piper(clean_env, {"PIPER_CHECKS__FRESHNESS_INTERVAL_MINUTES": "0"})
    _one_line_exit_2(proc, "checks.freshness_interval_minutes", "greater than or equal to 1")
    # The schedule's cron is gone with the schedule (issue #15): the old name is refused.
    proc = _piper(clean_env, {"PIPER_CHECKS__FRESHNESS_CRON": "*/15 * * * *"})
    _one_line_exit_2(proc, "unknown setting PIPER_CHECKS__FRESHNESS_CRON")


def test_the_env_example_copied_to_dotenv_is_accepted(clean_env: Path) -> None:
    # The documented file (uncommented as an operator would) passes the typo check.
    from piper_dagster_tests.factories import REPO_ROOT

    lines = (REPO_ROOT / ".env.example").read_text().splitlines()
    uncommented = [
        line.removeprefix("# ") for line in lines if line.removeprefix("# ").startswith("PIPER_")
    ]
    assert any(line.startswith("PIPER_RAW_ROOT=") for line in uncommented)
    (clean_env / "site.toml").write_text("")
    (clean_env / ".env").write_text(
        "\n".join(line for line in uncommented if not line.startswith("PIPER_CONFIG="))
        + f"\nPIPER_CONFIG={clean_env / 'site.toml'}\n"
    )
    settings = load_settings()
    assert settings.checks.freshness_interval_minutes == 15
    assert settings.checks.runbook_url.startswith("https://")
