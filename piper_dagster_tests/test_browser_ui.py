"""The Dagster UI as an operator sees it: headless Chromium (Debian's, driven by Playwright)
finds the spool, silver and gold assets and a successful run; screenshots are kept in
test-artifacts/."""

from __future__ import annotations

import shutil

import pytest

from piper_dagster_tests.factories import (
    END_OF_MARCH_4,
    REPO_ROOT,
    ev,
    gold_tool_invocations,
    wait_for,
    write_spool_file,
)

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = REPO_ROOT / "test-artifacts"
# The flags a headless Chromium needs here: root, no GPU, no network beyond loopback.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def test_assets_and_a_successful_run_in_the_ui(dagster_dev) -> None:
    if CHROMIUM is None:
        pytest.fail("Debian's chromium is not installed (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    write_spool_file(dagster_dev["raw"], "ws001/a/2026-03-04_s.jsonl", ev(1), mtime=END_OF_MARCH_4)
    wait_for("gold", lambda: gold_tool_invocations(dagster_dev["data"], "2026-03-04") == 1)
    base = f"http://127.0.0.1:{dagster_dev['port']}"
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.goto(f"{base}/assets", wait_until="domcontentloaded")
        for name in ("spool_events", "silver_publish_usd", "gold_publish_health_daily"):
            page.get_by_text(name, exact=True).first.wait_for(timeout=90_000)
        page.screenshot(path=str(ARTIFACTS / "dagster-assets.png"), full_page=True)
        page.goto(f"{base}/runs", wait_until="domcontentloaded")
        page.get_by_text("Success", exact=True).first.wait_for(timeout=90_000)
        page.screenshot(path=str(ARTIFACTS / "dagster-runs.png"), full_page=True)
        browser.close()
