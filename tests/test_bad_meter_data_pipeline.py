"""Bad meter data through the Dagster assets: the generated retailer's month with an `inf`, a
99999, a blank actual interval and a duplicated 300 record written into its real NEM12 files,
and one meter data provider's files missing. The month materialises; each bad register-day is a
quarantine row (and a BUA_Errors row) with file, line, NMI, suffix, interval and reason, and is
estimated, not undercounted; every other register-day is loaded exactly as from the clean files;
the missing provider is named by a WARN check."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from datetime import date
from pathlib import Path

import dagster as dg
import pandas as pd
from support import PARTITION

from bua_assets.definitions import ALL_ASSETS
from bua_assets.lake import Lake
from bua_assets.nem12.ingest import ingest_month
from bua_assets.nem12.reader import read_nem12
from bua_assets.resources import LakeResource, local_resources
from bua_assets.runner import backfill_interval_history

DAY = "20261030"  # late in the month: unbilled for most accounts, so a quarantined day is estimated


def candidates(folder: Path) -> tuple[list[tuple], Counter]:
    """(file, line, nmi, suffix) of 30-minute kWh actual register-days on DAY, and how many times
    each register-day is delivered in the month (a day delivered again would hide the test)."""
    seen: Counter = Counter()
    found: list[tuple] = []
    for path in sorted(folder.glob("*.csv")):
        for f in read_nem12(path):
            for r in f.days.select(
                ["nmi", "suffix", "read_date", "line", "uom", "interval_length", "quality_method"]
            ).to_pylist():
                seen[(r["nmi"], r["suffix"], r["read_date"])] += 1
                if (
                    r["read_date"].strftime("%Y%m%d") == DAY
                    and r["uom"] == "kWh"
                    and r["interval_length"] == 30
                    and r["quality_method"] == "A"
                ):
                    found.append((path, r["line"], r["nmi"], r["suffix"]))
    return found, seen


def set_value(path: Path, line: int, interval: int, text: str) -> None:
    lines = path.read_text().split("\n")
    fields = lines[line - 1].split(",")
    fields[1 + interval] = text
    lines[line - 1] = ",".join(fields)
    path.write_text("\n".join(lines))


def loaded(table: pd.DataFrame) -> dict[tuple, tuple]:
    return {
        (r.nmi, r.suffix, r.read_date): (tuple(r.values), r.quality_method, _tuple_or_none(r.interval_quality))
        for r in table.itertuples()
    }


def _tuple_or_none(items) -> tuple | None:
    return None if items is None else tuple(items)


def test_bad_values_duplicates_and_a_missing_provider_through_the_assets(retailer, tmp_path):
    out, url = retailer
    nem12 = tmp_path / "nem12"
    shutil.copytree(out / "nem12", nem12)
    month = nem12 / PARTITION[:7]
    found, seen = candidates(month)
    once = [c for c in found if seen[(c[2], c[3], date(2026, 10, 30))] == 1]
    by_file: dict[Path, list] = {}
    for c in once:
        by_file.setdefault(c[0], []).append(c)
    files = sorted(by_file, key=lambda p: -len(by_file[p]))
    assert len(files) >= 2 and len(by_file[files[0]]) >= 3, "the generated month has too few candidates"
    (path, inf_line, *inf_reg), (_, big_line, *big_reg), (_, blank_line, *blank_reg) = by_file[files[0]][:3]
    set_value(path, inf_line, 17, "inf")
    set_value(path, big_line, 30, "99999")
    set_value(path, blank_line, 5, "")
    # The duplicate: a 300 record written twice in a row in another file (same 200 block).
    dup_path, dup_line, *dup_reg = by_file[files[1]][0]
    lines = dup_path.read_text().split("\n")
    lines.insert(dup_line, lines[dup_line - 1])
    dup_path.write_text("\n".join(lines))
    # One provider (not the edited files') delivers nothing this month.
    providers = {p.name.split("#")[2] for p in month.glob("*.csv")}
    gone = sorted(providers - {path.name.split("#")[2], dup_path.name.split("#")[2]})[0]
    removed = [p for p in month.glob("*.csv") if p.name.split("#")[2] == gone]
    removed_registers = {
        (r["nmi"], r["suffix"])
        for p in removed
        for f in read_nem12(p)
        for r in f.days.select(["nmi", "suffix"]).to_pylist()
    }
    for p in removed:
        p.unlink()

    lake_dir = tmp_path / "lake"
    resources = local_resources(url, str(nem12), tmp_path) | {"lake": LakeResource(base=str(lake_dir))}
    with dg.instance_for_test() as instance:
        backfill_interval_history(PARTITION, instance, resources)
        result = dg.materialize(
            ALL_ASSETS, partition_key=PARTITION, resources=resources, instance=instance, raise_on_error=False
        )
    assert result.success  # the month goes on
    lake = Lake(str(lake_dir))
    frame = lambda asset, dataset: lake.read(asset, PARTITION, dataset).to_pandas()  # noqa: E731

    # Exactly the four bad register-days are quarantined for their values or repetition.
    quarantine = frame("interval_reads", "quarantine")
    ours = quarantine[
        quarantine["code"].isin(["non_finite_value", "implausible_peak", "blank_actual_value", "duplicate_record"])
    ]
    got = sorted(
        (r.source_file, r.line, r.code, r.nmi, r.suffix, r.read_date, None if pd.isna(r.interval) else r.interval)
        for r in ours.itertuples()
    )
    assert got == sorted(
        [
            (str(path), inf_line, "non_finite_value", *inf_reg, DAY, "17"),
            (str(path), big_line, "implausible_peak", *big_reg, DAY, "30"),
            (str(path), blank_line, "blank_actual_value", *blank_reg, DAY, "5"),
            (str(dup_path), dup_line, "duplicate_record", *dup_reg, DAY, None),
        ]
    )
    reasons = dict(zip(ours["code"], ours["reason"]))
    assert reasons["implausible_peak"].startswith("interval 30 holds 99999 kWh (199998 kW), more than 20 times")
    assert reasons["duplicate_record"] == (
        f"register-day repeated later in the same file at line {dup_line + 1}: "
        "the later record wins (not counted twice)"
    )

    # Everything else is loaded exactly as from the clean files (the duplicate once).
    clean_lake = Lake(str(tmp_path / "clean"))
    with clean_lake.partition_writer("interval_reads", PARTITION) as writer:
        ingest_month(
            sorted((out / "nem12" / PARTITION[:7]).glob("*.csv")),
            date(2026, 10, 1),
            date(2026, 11, 1),
            writer.write,
            tmp_path / "work",
            workers=1,
        )
    clean = loaded(clean_lake.read("interval_reads", PARTITION, "interval_reads").to_pandas())
    bad_days = {(reg[0], reg[1], date(2026, 10, 30)) for reg in (inf_reg, big_reg, blank_reg)}
    expected = {k: v for k, v in clean.items() if k not in bad_days and (k[0], k[1]) not in removed_registers}
    assert loaded(frame("interval_reads", "interval_reads")) == expected

    # Every quarantine row is in the month's errors (BUA_Errors) with its reason and location.
    errors = frame("errors", "errors")
    dumped = errors[errors["source"] == "interval_reads.quarantine"]
    assert len(dumped) == len(quarantine)
    row = dumped[dumped["code"] == "non_finite_value"].iloc[0]
    assert row["reason"] == "interval value 'inf' at interval 17 is not a finite number"
    detail = json.loads(row["detail"])
    assert (
        detail["source_file"],
        detail["line"],
        detail["nmi"],
        detail["suffix"],
        detail["read_date"],
        detail["interval"],
    ) == (path.relative_to(nem12).as_posix(), str(inf_line), *inf_reg, DAY, "17")
    # (BUA_Errors names files relative to the meter data root: the export is the same in any home.)

    # The missing provider is named by a WARN check, and that is in the errors too.
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    deliveries = checks["meter_data_deliveries"]
    assert not deliveries.passed and deliveries.severity == dg.AssetCheckSeverity.WARN
    assert deliveries.description.startswith(f"meter data deliveries short: {gone}: no usable deliveries this month")
    assert [r for r in deliveries.metadata["short_providers"].value] == [gone]
    failed = errors[errors["code"] == "check_failed:meter_data_deliveries"]
    assert failed["reason"].tolist() == [deliveries.description]
    assert checks["profile_validation"].severity == dg.AssetCheckSeverity.WARN or checks["profile_validation"].passed

    # A quarantined day is a missing day: where the account is unbilled on it, it is estimated.
    estimated = frame("nem12_estimates", "estimated_reads")
    estimated_days = set(zip(estimated["nmi"], estimated["suffix"], estimated["read_date"]))
    registers = frame("utility_profiles", "registers")
    window = frame("unbilled_window", "unbilled_months")
    unbilled = []
    for day in sorted(bad_days):
        utility = registers[(registers["nmi"] == day[0]) & (registers["suffix"] == day[1])]["utility_id"]
        spans = window[window["utility_id"].isin(utility)]
        if ((spans["first_day"] <= day[2]) & (spans["last_day"] >= day[2])).any():
            unbilled.append(day)
    assert unbilled, "none of the quarantined days is unbilled: the estimate is not exercised"
    assert set(unbilled) <= estimated_days


def test_a_month_without_its_profile_history_says_so(retailer, tmp_path):
    """The month alone, no backfill: profile_validation names the eleven missing history months,
    and the deliveries check says it has no previous month to compare against."""
    out, url = retailer
    resources = local_resources(url, str(out / "nem12"), tmp_path) | {"lake": LakeResource(base=str(tmp_path / "lake"))}
    selection = [
        "core_snapshot",
        "core_tables",
        "meter_registers",
        "interval_reads",
        "interval_statistics",
        "utility_profiles",
        "segment_profiles",
    ]
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            ALL_ASSETS,
            partition_key=PARTITION,
            selection=selection,
            resources=resources,
            instance=instance,
            raise_on_error=False,
        )
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    validation = checks["profile_validation"]
    months = [f"{y}-{m:02d}" for y, m in [(2025, 11), (2025, 12)] + [(2026, m) for m in range(1, 10)]]
    # Eleven months of segment-days have no data: the blocking check stops the run (ERROR), and
    # its message starts with why, not with the segments.
    assert not result.success and not validation.passed and validation.severity == dg.AssetCheckSeverity.ERROR
    assert validation.description.startswith(f"profile history missing for 11 months ({', '.join(months)}): ")
    assert "segments with missing, negative or absurd entries" in validation.description
    assert validation.metadata["history_months_missing"].value == months
    deliveries = checks["meter_data_deliveries"]
    assert deliveries.passed and deliveries.description == (
        "no file log for 2026-09 (interval_reads not materialised): nothing to compare deliveries against"
    )
