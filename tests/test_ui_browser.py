"""The UI as the people who run the month use it, end to end in a real browser: `./dev ui` (dagster
dev on loopback, the repo's instance configuration) on a tiny generated retailer; Debian's
Chromium, headless, driven by Playwright (never a downloaded browser) materialises the month from
the asset graph, opens the four checks and sees their month, opens the month at a glance and the
accrual chart, redoes an asset and all after it, recovers a month whose profile history was
missing, opens the Launchpad valid, and fails a month on CORE drift (the finding on the run's page,
in `errors` without a launch): each as the README's "Using the UI" says.

Without Chromium (or Playwright) the test skips with the reason; BUA_REQUIRE_BROWSER=1 (set by
.ci/run, which installs Chromium) makes that a failure."""

from __future__ import annotations

import os
import re
import shutil
import signal
import sqlite3
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import dagster as dg
import pytest
from support import free_port

from bua_assets.datasets import REGISTER_STATS
from bua_assets.definitions import defs
from bua_assets.lake import PARTITION_COLUMN, Lake
from bua_assets.months import AccrualMonth, first_of_month_before
from bua_assets.partitions import monthly_partitions
from bua_assets.resources import local_resources
from bua_assets.run_records import check_evaluations, materializations
from bua_assets.runner import backfill_interval_history, history_partitions
from bua_assets.settings import defaults
from bua_synth.generator import GeneratorConfig, generate

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = os.getenv("BUA_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CHECKS = (
    ("core_tables", "schema_drift"),
    ("segment_profiles", "profile_validation"),
    ("invoice_line_items", "ili_exceptions"),
    ("accrual_summary", "reconciliation"),
)
TIMEOUT_MS = 120_000  # a loaded 2-core box: generous, every wait is on something visible


def browser_or_skip():
    problem = None
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        problem = f"Chromium not found at {CHROMIUM} (Debian: apt-get install chromium)"
    else:
        try:
            from playwright.sync_api import sync_playwright  # noqa: F401
        except ImportError as exc:
            problem = f"Playwright for Python is not installed ({exc})"
    if problem:
        if os.getenv("BUA_REQUIRE_BROWSER"):
            pytest.fail(f"BUA_REQUIRE_BROWSER is set but {problem}")
        pytest.skip(f"{problem}; set BUA_REQUIRE_BROWSER=1 to make this fail")


@pytest.fixture(scope="module")
def ui(tmp_path_factory):
    """A tiny retailer whose last month is Dagster's latest partition, its interval history
    backfilled (as an operator would before the month), and `./dev ui` serving it."""
    browser_or_skip()
    partition = monthly_partitions.get_last_partition_key()
    home = tmp_path_factory.mktemp("ui_home")
    d = defaults(home)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BUA_", "DAGSTER_"))} | {
        "BUA_HOME": str(home),
        "BUA_DUCKDB_THREADS": "1",
    }  # the first partition comes from the data
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BUA_DUCKDB_THREADS", "1")  # one process per step: no worker pool to start for tiny months
        generate(
            GeneratorConfig(accounts=60, seed=5, as_at=AccrualMonth.from_key(partition).run_date, history_months=12),
            d.home / "retailer",
            d.core_url,
        )
        (d.dagster_home).mkdir(parents=True)
        shutil.copy(REPO / "dagster.yaml", d.dagster_home / "dagster.yaml")
        with dg.DagsterInstance.from_config(str(d.dagster_home)) as instance:
            backfill_interval_history(partition, instance, local_resources(d.core_url, d.meter_data, home))
    port = free_port()
    log = open(home / "dagster_dev.log", "w")
    server = subprocess.Popen(
        [str(REPO / "dev"), "ui", "-h", "127.0.0.1", "-p", str(port)],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:

        def answering() -> bool | None:
            try:
                with urllib.request.urlopen(f"{url}/server_info", timeout=5) as response:
                    if response.status == 200:
                        return True
            except OSError:
                pass
            assert server.poll() is None, (home / "dagster_dev.log").read_text()[-3000:]
            return None

        wait_until(answering, 180, "dagster dev did not answer", every=1)
        yield {"url": url, "partition": partition, "home": home, "log": home / "dagster_dev.log"}
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the process group this fixture started
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        log.close()


@pytest.fixture(scope="module")
def page(ui):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(TIMEOUT_MS)
        yield page
        browser.close()


def dismiss_welcome(page) -> None:
    """A fresh instance greets with a newsletter pop-up first."""
    skip = page.get_by_text("Skip", exact=True)
    try:
        skip.wait_for(state="visible", timeout=10_000)
    except Exception:  # noqa: BLE001 - shown once per instance; absent is fine
        return
    skip.click()


def test_the_month_from_the_ui(ui, page):
    partition, url = ui["partition"], ui["url"]
    # One command, the repo's instance configuration: no "not in DAGSTER_HOME" warning.
    assert "will not be used to configure Dagster" not in ui["log"].read_text()

    # 1. Materialise the month from the asset graph: Materialize all -> the latest partition.
    page.goto(f"{url}/asset-groups")
    dismiss_welcome(page)
    page.get_by_role("button", name="Materialize all").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_text(
        f"Launch runs to materialize {len(defs.resolve_asset_graph().materializable_asset_keys)} assets"
    ).wait_for()
    dialog.get_by_role("button", name="Latest", exact=True).click()
    dialog.get_by_text("1 partition", exact=True).wait_for()
    launch = dialog.get_by_role("button", name="Launch 1 run")
    launch.click()
    launch.wait_for(state="detached")
    with dg.DagsterInstance.from_config(str(defaults(ui["home"]).dagster_home)) as instance:
        run = wait_until(
            lambda: latest_finished(
                instance, dg.RunsFilter(tags={"dagster/partition": partition}, job_name="__ASSET_JOB")
            ),
            600,
            "the month's run did not finish",
        )
    assert run.status == dg.DagsterRunStatus.SUCCESS, ui["log"].read_text()[-3000:]
    page.goto(f"{url}/runs/{run.run_id}")
    page.get_by_text("Success", exact=True).first.wait_for()

    # 2. Each check shows its month (not "—"), and its history has no "Skipped" rows.
    for asset, check in CHECKS:
        page.goto(f"{url}/assets/{asset}?view=checks")
        page.get_by_text("Latest execution").wait_for()
        page.get_by_text(partition, exact=True).first.wait_for()
        page.get_by_text(check).first.wait_for()  # the checks' list renders after the latest result
        text = page.locator("body").inner_text()
        assert re.search(rf"Partition\s+{partition}", text) and check in text, (asset, check, text[-800:])
        page.get_by_text("Execution history", exact=True).click()
        page.get_by_text("Evaluation result", exact=True).wait_for()
        page.get_by_text(partition, exact=True).first.wait_for()
        assert "Skipped" not in page.locator("body").inner_text(), (asset, check)

    # 3. The month at a glance heads accrual_summary's metadata, inline: the accrual by state x fuel
    # against last month in dollars; then the chart, which opens as an image.
    page.goto(f"{url}/assets/accrual_summary?partition={partition}")
    # (the page may show the columns' schema in a table of its own before the metadata)
    first_key = page.locator("table tbody tr").filter(has=page.get_by_text("month_at_a_glance", exact=True)).first
    first_key.wait_for()
    assert first_key.evaluate("row => row.parentElement.firstElementChild === row")  # heads the metadata
    glance = first_key.locator("table")
    glance.get_by_text("Total", exact=True).wait_for()
    headers = glance.locator("th").all_inner_texts()
    month = AccrualMonth.from_key(partition)
    assert [h.strip().lower() for h in headers][:4] == [
        "state",
        "fuel",
        f"accrual {month.label}",
        f"last month {month.previous.label}",
    ], headers
    total = glance.locator("tr", has_text="Total").inner_text()
    assert re.search(r"\d{1,3}(,\d{3})*\.\d\d", total), total  # money: separators and cents
    chart_row = (
        page.locator("table tbody tr")
        .filter(has=page.get_by_text("chart", exact=True))
        .filter(has_text="[Show Markdown]")
        .first
    )
    chart_row.get_by_text("[Show Markdown]").click()
    chart = page.get_by_role("dialog").locator("img[src^='data:image/png;base64,']")
    chart.wait_for()
    assert chart.evaluate("img => img.complete && img.naturalWidth") > 500
    assert page.get_by_role("dialog").get_by_text(f"Accrual {partition[:7]} by state x fuel").is_visible()

    # 4. The run-status sensors are on from the start: the run is in the run log, its link on this UI.
    with dg.DagsterInstance.from_config(str(defaults(ui["home"]).dagster_home)) as instance:
        logged = wait_until(
            lambda: instance.get_latest_materialization_event(dg.AssetKey("bua_run_log")),
            180,
            "bua_month_succeeded did not record the run",
            every=3,
        )
    assert logged.asset_materialization is not None
    metadata = logged.asset_materialization.metadata
    assert metadata["latest_run"].value == f"{url}/runs/{run.run_id}"


def finished_run(ui, run_ids_before: set[str], partition: str) -> dg.DagsterRun:
    """The run of ``partition`` the UI launched after ``run_ids_before``, once it finished (10 minutes
    at most)."""

    def launched() -> dg.DagsterRun | None:
        runs = [
            r
            for r in instance.get_runs(dg.RunsFilter(tags={"dagster/partition": partition}))
            if r.run_id not in run_ids_before
        ]
        return runs[0] if runs and runs[0].is_finished else None

    with dg.DagsterInstance.from_config(str(defaults(ui["home"]).dagster_home)) as instance:
        return wait_until(launched, 600, "the run did not finish")


def run_ids(ui) -> set[str]:
    with dg.DagsterInstance.from_config(str(defaults(ui["home"]).dagster_home)) as instance:
        return {r.run_id for r in instance.get_runs()}


T = TypeVar("T")


def wait_until(probe: Callable[[], T | None], seconds: float, what: str, every: float = 2) -> T:
    """What ``probe()`` returns once it is not None, asked every ``every`` seconds; fails saying
    ``what`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    while (found := probe()) is None:
        assert time.monotonic() < deadline, f"{what} in {seconds:.0f} s"
        time.sleep(every)
    return found


def latest_finished(instance: dg.DagsterInstance, runs: dg.RunsFilter) -> dg.DagsterRun | None:
    """The latest run of ``runs`` once it has finished (None while there is none or it is running)."""
    latest = instance.get_runs(runs, limit=1)
    return latest[0] if latest and latest[0].is_finished else None


def selected(selection: str) -> set[str]:
    return {k.to_user_string() for k in dg.AssetSelection.from_string(selection).resolve(defs.resolve_asset_graph())}


def latest_evaluation(ui, asset: str, check: str):
    """The latest evaluation of ``asset``'s ``check``."""
    key = dg.AssetCheckKey(dg.AssetKey(asset), check)
    with dg.DagsterInstance.from_config(str(defaults(ui["home"]).dagster_home)) as instance:
        (record,) = instance.event_log_storage.get_asset_check_execution_history(key, limit=1)
    evaluation = record.event.asset_check_evaluation if record.event is not None else None
    assert evaluation is not None, f"{asset}.{check}: its latest execution has no evaluation yet"
    return evaluation


def check_evaluation(ui, run: dg.DagsterRun, check: str):
    """The run's evaluation of ``check``."""
    with dg.DagsterInstance.from_config(str(defaults(ui["home"]).dagster_home)) as instance:
        (evaluation,) = [e for e in check_evaluations(instance, run.run_id) if e.check_name == check]
    return evaluation


def materialised_by(ui, run: dg.DagsterRun) -> set[str]:
    with dg.DagsterInstance.from_config(str(defaults(ui["home"]).dagster_home)) as instance:
        return {m.asset_key.to_user_string() for m in materializations(instance, run.run_id)}


def launch_from_lineage(ui, page, selection: str, partition: str | None = None) -> dg.DagsterRun:
    """README "Using the UI", literally: the Lineage filter ``selection``, Enter, Materialize all...,
    then Latest (``partition`` None) or Show all partitions and the month typed in the partition box,
    Launch 1 run; the run once it finished. The dialog must not warn of missing upstream data."""
    before = run_ids(ui)
    dialog = open_launch_dialog(page, ui["url"], selection, partition)
    assert "Upstream data missing" not in dialog.inner_text(), (selection, partition, dialog.inner_text()[:600])
    launch = dialog.get_by_role("button", name="Launch 1 run")
    launch.click()
    launch.wait_for(state="detached")
    return finished_run(ui, before, partition or ui["partition"])


def open_launch_dialog(page, url: str, selection: str | None, partition: str | None):
    """The asset graph filtered by ``selection`` (all of it for None), Materialize all..., the partition."""
    page.goto(f"{url}/asset-groups")
    dismiss_welcome(page)
    if selection is not None:
        page.get_by_label("Search and filter assets").focus()
        page.keyboard.type(selection)
        page.keyboard.press("Enter")
    page.get_by_role("button", name=re.compile("Materialize")).first.click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_text("Launch runs to materialize").wait_for()
    if partition is None:
        dialog.get_by_role("button", name="Latest", exact=True).click()
    else:
        dialog.get_by_text("Show all partitions").click()
        box = dialog.locator("input[type=text]").first
        box.fill(partition)
        box.press("Enter")
    dialog.get_by_text("1 partition", exact=True).wait_for()
    # the upstream warning follows the partitions' health, fetched after the selection
    page.wait_for_load_state("networkidle")
    time.sleep(2)
    return dialog


def test_redo_an_asset_and_everything_downstream_as_the_readme_says(ui, page):
    """README "Using the UI" step 2, literally: the Lineage filter key:"micro_scalars"+, Enter,
    Materialize all..., Latest, Launch 1 run: the run redoes micro_scalars and all after it, nothing
    before it (the month was materialised by the test above)."""
    readme = (REPO / "README.md").read_text()
    selection = re.search(r'filter type `(key:"micro_scalars"\+)`', readme).group(1)
    downstream = selected(selection)
    assert {"micro_scalars", "accrual_summary", "bua_export"} <= downstream and "core_tables" not in downstream
    run = launch_from_lineage(ui, page, selection)
    assert run.status == dg.DagsterRunStatus.SUCCESS, ui["log"].read_text()[-3000:]
    assert materialised_by(ui, run) == downstream


def test_recovery_after_a_history_backfill_as_the_readme_says(ui, page):
    """README "Using the UI" steps 1 and 2 when a history month of the profile window is not in the
    lake: profile_validation names it; the history selection for that month, typed in the launch
    dialog, launches without an "upstream missing" warning and fills it; the month redone from
    utility_profiles then passes."""
    readme = (REPO / "README.md").read_text()
    history = re.search(r'filter the graph with\s+`(\+key:"interval_statistics")`', readme).group(1)
    redo = re.search(r'redo the month\s+from `(key:"utility_profiles"\+)`', readme).group(1)
    assert selected(history) == {"core_snapshot", "meter_registers", "interval_reads", "interval_statistics"}
    month = history_partitions(ui["partition"])[5]  # one in the middle of the profile window
    whole = latest_evaluation(ui, "segment_profiles", "profile_validation")  # with the whole window
    assert "profile history missing" not in whole.description
    store = Lake(defaults(ui["home"]).lake)
    for dataset in store.tables("interval_statistics"):  # as if it had never been backfilled
        store.table("interval_statistics", dataset).delete(f"{PARTITION_COLUMN} = '{month}'")

    run = launch_from_lineage(ui, page, redo)
    validation = check_evaluation(ui, run, "profile_validation")
    assert not validation.passed and f"profile history missing for 1 months ({month[:7]})" in validation.description

    # The dialog does warn where upstream data is missing (bua_export of a month that never ran) ...
    warned = open_launch_dialog(page, ui["url"], 'key:"bua_export"', month)
    warned.get_by_text("Upstream data missing").wait_for()
    # ... but not for the history selection: it holds all its month needs.
    run = launch_from_lineage(ui, page, history, month)
    assert run.status == dg.DagsterRunStatus.SUCCESS, ui["log"].read_text()[-3000:]
    assert materialised_by(ui, run) == selected(history)
    assert REGISTER_STATS.exists(store, month)

    run = launch_from_lineage(ui, page, redo)
    assert run.status == dg.DagsterRunStatus.SUCCESS, ui["log"].read_text()[-3000:]
    assert materialised_by(ui, run) == selected(redo)
    # the month is as it was with the whole window (a tiny retailer's profiles may still warn)
    validation = check_evaluation(ui, run, "profile_validation")
    assert (validation.passed, validation.description) == (whole.passed, whole.description)


def test_the_launchpad_opens_valid(ui, page):
    """Jobs -> monthly_bua -> the Launchpad, a month typed in its partition box: the scaffolded
    config validates (no "Invalid scalar" on a string enum) and Launch Run is enabled."""
    page.goto(f"{ui['url']}/locations/bua_assets/jobs/monthly_bua/playground")
    dismiss_welcome(page)
    page.get_by_text("No errors", exact=True).wait_for()
    box = page.get_by_placeholder("Partition")
    box.click()
    box.fill(ui["partition"])
    box.press("Enter")
    page.get_by_text(f"partition: {ui['partition']}", exact=True).wait_for()  # the month's config loaded
    page.wait_for_load_state("networkidle")
    page.get_by_text("No errors", exact=True).wait_for()
    assert "Invalid" not in page.locator("body").inner_text()
    assert page.get_by_role("button", name=re.compile("Launch Run")).is_enabled()


def test_first_partition_follows_the_data(ui):
    """The UI's partitions start at the data's first month, not 2023-09 (checked in the process
    that served it, through the same environment)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BUA_", "DAGSTER_"))} | {
        "BUA_HOME": str(ui["home"])
    }
    code = "from bua_assets.partitions import monthly_partitions as m; print(m.get_first_partition_key())"
    out = (
        subprocess.run(
            [str(REPO / ".venv" / "bin" / "python"), "-c", code], env=env, capture_output=True, text=True, check=True
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    assert (
        out == first_of_month_before(AccrualMonth.from_key(ui["partition"]).run_date, 12).isoformat()
    )  # the 12 months generated


def test_a_failed_month_says_its_finding_and_errors_lists_it_without_a_launch(ui, page):
    """CORE drifts (a renamed column): the month launched from the graph fails at core_tables; the
    failed run's page says the finding (table, column, what to do); bua_month_failed starts a
    bua_month_errors run on its own, and `errors` lists the failed check. The column is restored
    after."""
    core = defaults(ui["home"]).home / "retailer" / "core.db"
    with sqlite3.connect(core) as conn:
        conn.execute("ALTER TABLE Meter RENAME COLUMN serial TO serial_no")
    try:
        before = run_ids(ui)
        dialog = open_launch_dialog(page, ui["url"], None, None)  # the month, as README step 1
        launch = dialog.get_by_role("button", name="Launch 1 run")
        launch.click()
        launch.wait_for(state="detached")
        failed = finished_run(ui, before, ui["partition"])
        assert failed.status == dg.DagsterRunStatus.FAILURE
        page.goto(f"{ui['url']}/runs/{failed.run_id}")
        finding = "core_tables.schema_drift failed: Meter.serial: missing_column"
        page.get_by_text(finding).first.wait_for()
        assert "renamed to serial_no?" in page.locator("body").inner_text()

        # the run-failure sensor (every 30 s under the daemon) runs errors for the month
        with dg.DagsterInstance.from_config(str(defaults(ui["home"]).dagster_home)) as instance:
            errors_run = wait_until(
                lambda: latest_finished(
                    instance, dg.RunsFilter(job_name="bua_month_errors", tags={"dagster/partition": ui["partition"]})
                ),
                240,
                "no bua_month_errors run finished after the failure",
                every=3,
            )
        assert errors_run.status == dg.DagsterRunStatus.SUCCESS, ui["log"].read_text()[-3000:]
        listed = Lake(defaults(ui["home"]).lake).read("errors", ui["partition"], "errors").to_pandas()
        reasons = listed.loc[listed["code"] == "check_failed:schema_drift", "reason"].tolist()
        assert len(reasons) == 1 and "Meter.serial: missing_column" in reasons[0], listed[["code", "reason"]]
    finally:
        with sqlite3.connect(core) as conn:
            conn.execute("ALTER TABLE Meter RENAME COLUMN serial_no TO serial")
