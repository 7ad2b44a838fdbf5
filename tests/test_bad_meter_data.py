"""Bad meter data values (issue 12): a corpus of small hand-written NEM12 files under
tests/data/bad-nem12, each read by the reader, ingested as a month and inspected, with the
exact quarantine rows, what is loaded and the totals of the registers left alone."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from bua_assets.lake import Lake
from bua_assets.nem12.deliveries import delivery_shortfalls, describe_shortfalls
from bua_assets.nem12.ingest import ingest_month
from bua_assets.nem12.inspect import inspect_file
from bua_assets.nem12.reader import read_nem12

CORPUS = Path(__file__).resolve().parent / "data" / "bad-nem12"
MONTH, NEXT = date(2026, 10, 1), date(2026, 11, 1)
QUARANTINE_KEYS = ["line", "code", "nmi", "suffix", "read_date", "interval"]


def ingest(tmp_path: Path, *names: str, **kwargs):
    """The month's ingestion of corpus files: (interval_reads, quarantine as dicts, summary)."""
    lake = Lake(str(tmp_path / "lake"))
    with lake.partition_writer("interval_reads", "2026-10-01") as writer:
        summary = ingest_month(
            [CORPUS / n for n in names], MONTH, NEXT, writer.write, tmp_path / "work", workers=1, **kwargs
        )
    reads = lake.read("interval_reads", "2026-10-01", "interval_reads")
    return reads, summary.quarantine.to_pylist(), summary


def quarantined(rows: list[dict]) -> list[tuple]:
    return sorted(tuple(r[k] for k in QUARANTINE_KEYS) for r in rows)  # by line


def totals(reads: pa.Table) -> dict[tuple[str, str], float]:
    """kWh per (NMI, day) as loaded; a day that is not loaded is absent."""
    out = {}
    for r in reads.select(["nmi", "read_date", "values"]).to_pylist():
        out[(r["nmi"], r["read_date"].isoformat())] = round(sum(v for v in r["values"] if v is not None), 6)
    return out


CLEAN_SECOND_REGISTER = {("6100000002", f"2026-10-0{d}"): 24.0 for d in (1, 2, 3)}


def test_infinite_values_quarantine_their_register_day_only(tmp_path):
    reads, rows, summary = ingest(tmp_path, "inf_value.csv")
    assert quarantined(rows) == [
        (4, "non_finite_value", "6100000001", "E1", "20261002", "17"),
        (5, "non_finite_value", "6100000001", "E1", "20261003", "40"),
    ]
    assert rows[0]["source_file"] == str(CORPUS / "inf_value.csv")
    assert rows[0]["reason"] == "interval value 'inf' at interval 17 is not a finite number"
    assert rows[1]["reason"] == "interval value '-inf' at interval 40 is not a finite number"
    # The bad days are missing (estimated later), the rest of the month is loaded unchanged.
    assert totals(reads) == {("6100000001", "2026-10-01"): 24.0, **CLEAN_SECOND_REGISTER}
    assert summary.interval_reads == 4 and summary.registers == 2


def test_a_peak_far_beyond_the_registers_other_days_is_implausible(tmp_path):
    # 99999 kWh in half an hour (200 MW) is below the ceiling no register reaches (2 GW) but is
    # 200,000 times what this register drew on its other days: a typo, not a reading.
    reads, rows, summary = ingest(tmp_path, "value_99999.csv")
    assert quarantined(rows) == [(4, "implausible_peak", "6100000001", "E1", "20261002", "30")]
    assert rows[0]["reason"] == (
        "interval 30 holds 99999 kWh (199998 kW), more than 20 times the register's peak on its "
        "other days this month (1 kW) and last month (none), taken as at least 50 kW: "
        "register-day not loaded (estimated instead)"
    )
    assert totals(reads) == {
        ("6100000001", "2026-10-01"): 24.0,
        ("6100000001", "2026-10-03"): 24.0,
        **CLEAN_SECOND_REGISTER,
    }
    # Each register's peak over the days loaded, for next month to judge against.
    assert summary.register_peaks.to_pylist() == [
        {"nmi": "6100000001", "suffix": "E1", "peak_kw": 1.0, "days": 2},
        {"nmi": "6100000002", "suffix": "E1", "peak_kw": 1.0, "days": 3},
    ]


def test_the_peak_rule_follows_the_files_unit_and_interval_length(tmp_path):
    reads, rows, _ = ingest(tmp_path, "units_and_lengths.csv")
    assert quarantined(rows) == [
        (4, "implausible_peak", "6100000003", "E1", "20261002", "20"),
        (7, "implausible_peak", "6100000004", "E1", "20261002", "100"),
    ]
    reasons = [r["reason"] for r in sorted(rows, key=lambda r: r["line"])]
    assert reasons[0].startswith("interval 20 holds 3e+06 Wh (6000 kW), more than 20 times the register's peak")
    assert "other days this month (200 kW) and last month (none):" in reasons[0]  # 99999 Wh in 30 min
    assert reasons[1].startswith("interval 100 holds 500 kWh (6000 kW)")  # 500 kWh in 5 minutes
    # 99999 Wh in half an hour is 100 kWh (200 kW): loaded, converted to kWh.
    assert totals(reads) == {
        ("6100000003", "2026-10-01"): round(47 * 0.5 + 99.999, 6),
        ("6100000004", "2026-10-01"): 28.8,
    }


def test_large_sites_and_growth_are_not_implausible(tmp_path):
    """A site that draws megawatts every day, or that grows within the month, keeps its reads;
    a register with one day and no last month is not judged; last month's peak counts."""
    (tmp_path / "in").mkdir()
    big = [2600.0] * 48  # 5.2 MW every half hour (AEMO's examples hold 2.6 MWh half hours)
    ramp = [[0.5] * 48, [0.5] * 48, [900.0] * 48, [950.0] * 48]  # a site energised mid-month
    lines = ["100,NEM12,202611020930,TESTMDP,BUARETAIL", "200,6100000007,E1,1,E1,N1,M1,kWh,30,"]
    lines += [f"300,202610{d:02d}," + ",".join(f"{v:g}" for v in big) + ",A,,,20261102000000," for d in (1, 2, 3)]
    lines += ["200,6100000008,E1,1,E1,N1,M1,kWh,30,"]
    lines += [
        f"300,202610{d + 1:02d}," + ",".join(f"{v:g}" for v in r) + ",A,,,20261102000000," for d, r in enumerate(ramp)
    ]
    lines += ["200,6100000009,E1,1,E1,N1,M1,MWh,30,", "300,20261001," + ",".join(["3"] * 48) + ",A,,,20261102000000,"]
    lines += ["900"]
    (tmp_path / "in" / "big.csv").write_text("\n".join(lines) + "\n")

    def run(work: str, **kwargs):
        lake = Lake(str(tmp_path / work))
        with lake.partition_writer("interval_reads", "2026-10-01") as writer:
            return ingest_month(
                [tmp_path / "in" / "big.csv"], MONTH, NEXT, writer.write, tmp_path / work, workers=1, **kwargs
            )

    summary = run("a")
    assert summary.quarantine.num_rows == 0 and summary.interval_reads == 8
    # The one-day register (6 MW) meets last month's 50 kW peak: implausible; at 1 MW it is not.
    previous = pa.table({"nmi": ["6100000009"], "suffix": ["E1"], "peak_kw": [50.0], "days": [31]})
    flagged = run("b", previous_peaks=previous).quarantine.to_pylist()
    assert [(r["nmi"], r["code"]) for r in flagged] == [("6100000009", "implausible_peak")]
    assert "last month (50 kW)" in flagged[0]["reason"]
    previous = previous.set_column(2, "peak_kw", pa.array([1000.0]))
    assert run("c", previous_peaks=previous).quarantine.num_rows == 0
    # An anonymised lake keys last month's peaks by its own NMIs: they are met through lake_nmi.
    keyed = pa.table({"nmi": ["9000000016"], "suffix": ["E1"], "peak_kw": [50.0], "days": [31]})
    assert run("d", previous_peaks=keyed).quarantine.num_rows == 0  # not ours: not met
    flagged = run("e", previous_peaks=keyed, lake_nmi=pc.utf8_reverse).quarantine.to_pylist()
    assert [(r["nmi"], r["code"]) for r in flagged] == [("6100000009", "implausible_peak")]


def test_the_ceiling_is_configurable_and_none_disables_it(tmp_path):
    # The ceiling for the impossible, set low: the reader quarantines before any judgement.
    _reads, rows, _ = ingest(tmp_path / "a0", "value_99999.csv", max_demand_kw=5000)
    assert quarantined(rows) == [(4, "above_maximum", "6100000001", "E1", "20261002", "30")]
    assert rows[0]["reason"] == (
        "interval value 99999 kWh at interval 30 is beyond the register's physical "
        "maximum of 2500 kWh per 30-minute interval (5000 kW)"
    )
    _, rows, _ = ingest(tmp_path / "a2", "units_and_lengths.csv", max_demand_kw=20)  # 10 kWh per half hour
    assert sorted((r["line"], r["code"]) for r in rows) == [
        (3, "above_maximum"),
        (4, "above_maximum"),
        (7, "above_maximum"),
    ]
    # The ceiling follows the unit and the interval length: 500 kWh in 5 minutes is 6 MW.
    _, rows, _ = ingest(tmp_path / "a3", "units_and_lengths.csv", max_demand_kw=5000)
    assert sorted((r["line"], r["code"]) for r in rows) == [(4, "above_maximum"), (7, "above_maximum")]
    assert "416.667 kWh per 5-minute interval" in sorted(rows, key=lambda r: r["line"])[1]["reason"]
    # No ceiling and a peak ratio no day passes: everything finite and not negative is loaded.
    _, rows, _ = ingest(tmp_path / "b", "value_99999.csv", max_demand_kw=None, peak_ratio=1e12)
    assert rows == []
    _, rows, _ = ingest(tmp_path / "c", "inf_value.csv", max_demand_kw=None)
    assert [r["code"] for r in rows] == ["non_finite_value", "non_finite_value"]  # never optional


def test_blank_values_in_actual_intervals_are_quarantined_not_undercounted(tmp_path):
    reads, rows, _ = ingest(tmp_path, "blank_actual.csv")
    assert quarantined(rows) == [
        (4, "blank_actual_value", "6100000001", "E1", "20261002", "5"),
        (6, "blank_actual_value", "6100000001", "E1", "20261004", "10"),
    ]
    assert rows[0]["reason"] == "interval 5 is blank in an interval of actual (A) quality"
    # A blank in an estimated (E52) day is the provider's own gap, not a missing reading: loaded.
    assert totals(reads) == {
        ("6100000001", "2026-10-01"): 24.0,
        ("6100000001", "2026-10-03"): 24.0,
        ("6100000001", "2026-10-05"): 23.5,
        **CLEAN_SECOND_REGISTER,
    }


def test_nan_text_is_quarantined_in_any_day(tmp_path):
    reads, rows, _ = ingest(tmp_path, "nan_actual.csv")
    assert quarantined(rows) == [
        (4, "non_finite_value", "6100000001", "E1", "20261002", "12"),
        (5, "non_finite_value", "6100000001", "E1", "20261003", "3"),
    ]
    assert rows[0]["reason"] == "interval value 'nan' at interval 12 is not a finite number"
    assert totals(reads) == {("6100000001", "2026-10-01"): 24.0, **CLEAN_SECOND_REGISTER}


@pytest.mark.parametrize(
    "name, lost, winner, expected",
    [
        # The same day twice in one 200 block: the later line (0.75 per interval) wins.
        (
            "duplicate_same_block.csv",
            3,
            5,
            {
                ("6100000001", "2026-10-01"): 36.0,
                ("6100000001", "2026-10-02"): 24.0,
                ("6100000001", "2026-10-03"): 24.0,
                **CLEAN_SECOND_REGISTER,
            },
        ),
        # 2 October in two 200 blocks of the register: the later block's copy (1.0 per interval) wins.
        (
            "duplicate_two_blocks.csv",
            4,
            8,
            {
                ("6100000001", "2026-10-01"): 24.0,
                ("6100000001", "2026-10-02"): 48.0,
                ("6100000001", "2026-10-03"): 24.0,
                ("6100000002", "2026-10-01"): 24.0,
            },
        ),
    ],
)
def test_a_register_day_repeated_in_one_file_is_reported_and_counted_once(tmp_path, name, lost, winner, expected):
    reads, rows, _ = ingest(tmp_path, name)
    day = "20261001" if name == "duplicate_same_block.csv" else "20261002"
    assert quarantined(rows) == [(lost, "duplicate_record", "6100000001", "E1", day, None)]
    assert rows[0]["reason"] == (
        f"register-day repeated later in the same file at line {winner}: the later record wins (not counted twice)"
    )
    assert totals(reads) == expected
    keys = reads.select(["nmi", "suffix", "read_date"])
    assert keys.group_by(["nmi", "suffix", "read_date"]).aggregate([]).num_rows == keys.num_rows

    # nem12 inspect says so too, and counts the day once (the same copy as the pipeline).
    summary, issues = inspect_file(CORPUS / name)
    assert [(i.line, i.severity, i.code, i.nmi, i.read_date) for i in issues] == [
        (lost, "warning", "duplicate_record", "6100000001", day)
    ]
    assert f"repeated at line {winner}" in issues[0].reason
    register = {r["nmi"]: r for r in summary}["6100000001"]
    assert register["days"] == 3
    assert register["total_kwh"] == sum(v for (nmi, _), v in expected.items() if nmi == "6100000001")
    assert register["quality_counts"] == {"A": 3 * 48}


def test_a_duplicate_in_an_earlier_file_and_a_later_delivery(tmp_path):
    """Repeats inside a file and supersession between files combine: one copy loaded, every other
    copy accounted for with its own reason."""
    later = tmp_path / "later.csv"
    text = (CORPUS / "duplicate_same_block.csv").read_text().replace("202611020930", "202611050930")
    later.write_text("\n".join(ln for ln in text.split("\n") if not ln.startswith("300,20261001,0.75")))
    lake = Lake(str(tmp_path / "lake"))
    with lake.partition_writer("interval_reads", "2026-10-01") as writer:
        summary = ingest_month(
            [CORPUS / "duplicate_same_block.csv", later], MONTH, NEXT, writer.write, tmp_path / "work", workers=1
        )
    codes = sorted((r["source_file"].rsplit("/", 1)[-1], r["line"], r["code"]) for r in summary.quarantine.to_pylist())
    assert codes == [("duplicate_same_block.csv", 3, "duplicate_record")] + [
        ("duplicate_same_block.csv", line, "superseded") for line in (4, 5, 6, 8, 9, 10)
    ]
    reads = lake.read("interval_reads", "2026-10-01", "interval_reads")
    assert totals(reads)[("6100000001", "2026-10-01")] == 24.0  # the later delivery's copy
    assert set(reads["source_file"].to_pylist()) == {str(later)}


def test_the_reader_reports_bad_values_with_file_line_and_interval():
    (f,) = read_nem12(CORPUS / "inf_value.csv")
    assert [(i.file, i.line, i.severity, i.code, i.interval) for i in f.issues] == [
        (str(CORPUS / "inf_value.csv"), 4, "record_quarantined", "non_finite_value", 17),
        (str(CORPUS / "inf_value.csv"), 5, "record_quarantined", "non_finite_value", 40),
    ]
    assert f.days.num_rows == 4
    # A chunk that also holds text that is not a number takes the slow path: the same outcome.
    text = (CORPUS / "nan_actual.csv").read_text().replace("300,20261001,0.5,", "300,20261001,x,", 1)
    from bua_assets.nem12.reader import read_nem12_bytes

    g = read_nem12_bytes(text.encode(), "mixed.csv")
    assert [(i.line, i.code, i.interval) for i in g.issues] == [
        (3, "not_a_number", None),
        (4, "non_finite_value", 12),
        (5, "non_finite_value", 3),
    ]


# --- deliveries per meter data provider -----------------------------------------------------


def file_log(tmp_path: Path, month: str) -> pa.Table:
    start = date(int(month[:4]), int(month[5:]), 1)
    lake = Lake(str(tmp_path / month))
    with lake.partition_writer("interval_reads", f"{month}-01") as writer:
        summary = ingest_month(
            sorted((CORPUS / "deliveries" / month).iterdir()),
            start,
            date(start.year + start.month // 12, start.month % 12 + 1, 1),
            writer.write,
            tmp_path / f"work-{month}",
            workers=1,
        )
    return summary.files


def test_a_provider_missing_or_far_below_last_month_is_named(tmp_path):
    table = delivery_shortfalls(file_log(tmp_path, "2026-10"), file_log(tmp_path, "2026-09"), 0.5)
    assert table.to_dict("records") == [
        {
            "provider": "MDPA",
            "files": 1,
            "register_days": 6,
            "previous_files": 1,
            "previous_register_days": 6,
            "share": 1.0,
            "status": "ok",
        },
        {
            "provider": "MDPB",
            "files": 0,
            "register_days": 0,
            "previous_files": 1,
            "previous_register_days": 6,
            "share": 0.0,
            "status": "missing",
        },
        {
            "provider": "MDPC",
            "files": 1,
            "register_days": 2,
            "previous_files": 1,
            "previous_register_days": 6,
            "share": 0.333,
            "status": "below",
        },
        {
            "provider": "MDPD",
            "files": 1,
            "register_days": 1,
            "previous_files": 0,
            "previous_register_days": 0,
            "share": None,
            "status": "new",
        },
    ]
    assert describe_shortfalls(table, 0.5) == (
        "meter data deliveries short: MDPB: no usable deliveries this month (6 register-days in 1 files last "
        "month); MDPC: 2 register-days, 33% of last month's 6 (below 50%)"
    )
    # A lower threshold accepts MDPC's third; a missing provider is always named.
    assert describe_shortfalls(
        delivery_shortfalls(file_log(tmp_path / "b", "2026-10"), file_log(tmp_path / "b", "2026-09"), 0.3), 0.3
    ) == ("meter data deliveries short: MDPB: no usable deliveries this month (6 register-days in 1 files last month)")


# --- profile history ------------------------------------------------------------------------


def test_profile_validation_names_missing_history_months_before_segments():
    """Twelve months of profiles built from one: the fills are for want of history, and the
    check says so instead of only 'segments filled'."""
    import dagster as dg
    import numpy as np
    import pandas as pd

    from bua_assets.assets.profiles import SegmentProfilesConfig, validate_profiles
    from bua_assets.estimation.profiles import SegmentProfiles

    status = np.array([["VALID", "FILLED", "FILLED"]])
    result = SegmentProfiles(
        ["RES|NSW|PRIMARY"], np.full((1, 3, 48), 0.2), np.full((1, 3), 6, dtype=np.int32), status, pd.DataFrame()
    )
    summary = pd.DataFrame(
        {"register_id": [7], "nmi": ["N1"], "suffix": ["E1"], "coverage": [0.1], "days_with_data": [31]}
    )
    check = validate_profiles(result, summary, SegmentProfilesConfig(), ["2026-09-01", "2025-11-01"])
    assert check.description == (
        "profile history missing for 2 months (2025-11, 2026-09): no interval_statistics for them, materialise "
        "core_snapshot, meter_registers, interval_reads and interval_statistics for those months (a backfill), then redo this month from "
        'utility_profiles (Lineage filter key:"utility_profiles"+ -> Materialize all), not Re-execute '
        "From failure: utility_profiles was built without them; 1 segments filled over 50% of days"
    )
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert check.metadata["history_months_missing"].value == ["2025-11", "2026-09"]
    # Full history and fills within limits: passes, nothing said about history.
    fine = SegmentProfiles(
        ["RES|NSW|PRIMARY"],
        np.full((1, 3, 48), 0.2),
        np.full((1, 3), 6, dtype=np.int32),
        np.array([["VALID", "VALID", "VALID"]]),
        pd.DataFrame(),
    )
    check = validate_profiles(fine, summary, SegmentProfilesConfig(), [])
    assert check.passed and check.description == "fills within limits"
    # A month of the window before the first partition (2023-09 in the tests) cannot be backfilled:
    # the finding says so and names the setting, apart from the months a backfill can fill.
    check = validate_profiles(fine, summary, SegmentProfilesConfig(), ["2023-10-01", "2023-08-01", "2023-07-01"])
    assert not check.passed
    assert check.description == (
        "profile history missing for 1 months (2023-10): no interval_statistics for them, materialise "
        "core_snapshot, meter_registers, interval_reads and interval_statistics for those months (a backfill), then redo this month from "
        'utility_profiles (Lineage filter key:"utility_profiles"+ -> Materialize all), not Re-execute '
        "From failure: utility_profiles was built without them; "
        "profile history missing for 2 months before the first partition (2023-09, BUA_FIRST_MONTH): 2023-07, "
        "2023-08 cannot be materialised; if the retailer has NEM12 files for them, set "
        "BUA_FIRST_MONTH=2023-07 (or earlier), backfill them and redo this month from utility_profiles, else "
        "this month has fewer months of history than its profile window (BUA_PROFILE_HISTORY_MONTHS); "
        "fills within limits"
    )
