"""Settings are defined once: every key of conf/settings.toml is documented in .env.example."""

from __future__ import annotations

import tomllib

from piper_dagster.settings import DEFAULT_TOML, Settings
from piper_dagster_tests.factories import REPO_ROOT


def test_every_setting_is_in_the_toml_and_the_env_example() -> None:
    toml = tomllib.loads(DEFAULT_TOML.read_text())
    example = (REPO_ROOT / ".env.example").read_text()
    for section, model in Settings.model_fields.items():
        sub = model.annotation.model_fields  # type: ignore[union-attr]
        assert set(toml[section]) == set(sub), section
        for key in sub:
            assert f"PIPER_{section.upper()}__{key.upper()}=" in example, (section, key)
