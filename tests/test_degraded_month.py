"""A degraded month (issue 23): the judgement (billing/degraded.py) on file logs and quarantines
that our own ingestion writes from small NEM12 deliveries generated here, the estimated share from
nem12_estimates' coverage (estimation/missing_days.py), and the gate on promotion."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from bua_assets.billing.degraded import Acceptance, MonthQuality, gate, judge_month
from bua_assets.estimation.missing_days import estimation_coverage
from bua_assets.lake import Lake
from bua_assets.months import AccrualMonth
from bua_assets.nem12.ingest import ingest_month

OCTOBER = AccrualMonth.from_key("2026-10")


def delivery(
    folder: Path, name: str, provider: str, month: str, nmis: list[str], days: range, *, bad=0, created="0930", end=True
) -> Path:
    """A NEM12 file from ``provider``: each NMI's E1 on ``days`` of ``month`` (YYYYMM); the first
    ``bad`` days of each NMI carry a negative value (quarantined); ``end=False`` leaves out the 900."""
    lines = [f"100,NEM12,20261102{created},{provider},BUARETAIL"]
    for nmi in nmis:
        lines.append(f"200,{nmi},E1,1,E1,N1,M1,kWh,30,")
        for i, d in enumerate(days):
            values = ",".join(["-0.5" if i < bad else "0.5"] * 48)
            lines.append(f"300,{month}{d:02d},{values},A,,,20261102093000,")
    if end:
        lines.append("900")
    path = folder / name
    path.write_text("\n".join(lines) + "\n")
    return path


def ingested(tmp_path: Path, month: AccrualMonth, files: list[Path]) -> tuple[pa.Table, pa.Table]:
    """(file log, quarantine) of the month's deliveries, as interval_reads writes them."""
    lake = Lake(str(tmp_path / "lake"))
    with lake.partition_writer("interval_reads", month.key) as writer:
        summary = ingest_month(files, month.start, month.run_date, writer.write, tmp_path / f"w{month}", workers=1)
    return summary.files, summary.quarantine


def coverage(register_days: int, without: int, not_estimated: int = 0) -> pd.DataFrame:
    """nem12_estimates' coverage of October: ``register_days`` unbilled, ``without`` of them with no meter data."""
    dates = pd.Series(np.array(["2026-10-15"] * register_days, dtype="datetime64[s]"))
    days = pd.DataFrame({"date": dates})
    return estimation_coverage(days, days.iloc[:without], days.iloc[:not_estimated])


@pytest.fixture
def deliveries(tmp_path) -> dict:
    """September and October from six providers (2 NMIs x 10 days = 20 register-days each in
    September, MDPE 10): in October MDPA as before; MDPB nothing; MDPC 4 days; MDPD's file cut
    before its 900 record; MDPE 40 register-days, 30 of them negative (quarantined); MDPF its
    month twice (the later file supersedes the earlier: nothing lost)."""
    sep, oct_ = tmp_path / "sep", tmp_path / "oct"
    sep.mkdir()
    oct_.mkdir()
    two = ["6100000001", "6100000002"]
    september = [
        delivery(sep, f"{p}.csv", p, "202609", [f"{p[-1]}10000000{i}" for i in (1, 2)], range(1, 11))
        for p in ("MDPA", "MDPB", "MDPC", "MDPD", "MDPF")
    ] + [delivery(sep, "MDPE.csv", "MDPE", "202609", ["E100000001"], range(1, 11))]
    october = [
        delivery(oct_, "MDPA.csv", "MDPA", "202610", two, range(1, 11)),
        delivery(oct_, "MDPC.csv", "MDPC", "202610", ["C100000001", "C100000002"], range(1, 5)),
        delivery(oct_, "MDPD.csv", "MDPD", "202610", ["D100000001", "D100000002"], range(1, 11), end=False),
        delivery(oct_, "MDPE.csv", "MDPE", "202610", ["E100000001", "E100000002"], range(1, 21), bad=15),
        delivery(oct_, "MDPF-1.csv", "MDPF", "202610", ["F100000001"], range(1, 11)),
        delivery(oct_, "MDPF-2.csv", "MDPF", "202610", ["F100000001"], range(1, 11), created="1030"),
    ]
    before, _ = ingested(tmp_path / "s", OCTOBER.previous, september)
    files, quarantine = ingested(tmp_path / "o", OCTOBER, october)
    return {"files": files, "previous": before, "quarantine": quarantine}


def test_each_provider_missing_short_cut_or_mostly_quarantined_is_named(deliveries):
    quality = judge_month(
        OCTOBER,
        deliveries["files"],
        deliveries["previous"],
        deliveries["quarantine"],
        coverage(1000, 40),
        min_delivery_share=0.5,
    )
    assert quality.degraded
    assert list(quality.reasons) == [
        "MDPB: no usable deliveries this month (20 register-days in 1 files last month)",
        "MDPC: 8 register-days, 40% of last month's 20 (below 50%)",
        "MDPD: no usable deliveries this month (20 register-days in 1 files last month), "
        "1 of 1 files rejected whole (nothing loaded from them)",
        "MDPE: 30 of its 40 register-days quarantined (75%)",
    ]
    providers = quality.providers.set_index("provider")
    # The cut file is its provider's (the 100 header says whose), not an unknown sender's.
    assert providers.loc["MDPD", ["files", "files_rejected", "register_days"]].tolist() == [1, 1, 0]
    # The reader leaves a quarantined day out of the file log's count: delivered = loaded + quarantined.
    assert providers.loc["MDPE", ["register_days", "delivered", "quarantined"]].tolist() == [10, 40, 30]
    # A superseded delivery loses nothing; a provider as good as last month is not named.
    assert providers.loc["MDPF", ["quarantined", "degraded"]].tolist() == [0, False]
    assert not providers.loc["MDPA", "degraded"]
    assert quality.estimated_share == 0.04 and quality.notes == ()
    assert quality.record() == {
        "degraded": True,
        "reasons": list(quality.reasons),
        "estimated_share": 0.04,
        "max_estimated_share": 0.1,
        "notes": [],
    }
    # A lower bar for deliveries lets MDPC's 40% through; nothing lowers a missing provider's.
    lenient = judge_month(
        OCTOBER,
        deliveries["files"],
        deliveries["previous"],
        deliveries["quarantine"],
        coverage(1000, 40),
        min_delivery_share=0.3,
    )
    assert [r.split(":")[0] for r in lenient.reasons] == ["MDPB", "MDPD", "MDPE"]


def test_the_share_estimated_beyond_the_threshold_degrades_the_month(deliveries):
    files = deliveries["files"].filter(pa.array([p == "MDPA" for p in deliveries["files"]["from_participant"]]))
    previous = deliveries["previous"].filter(
        pa.array([p == "MDPA" for p in deliveries["previous"]["from_participant"]])
    )
    quarantine = deliveries["quarantine"].schema.empty_table()

    def judged(cover, max_share=0.1, before=previous):
        return judge_month(
            OCTOBER, files, before, quarantine, cover, min_delivery_share=0.5, max_estimated_share=max_share
        )

    clean = judged(coverage(7887, 317))  # the demo's month: 4.0% without meter data
    assert not clean.degraded and clean.summary() == "not degraded" and clean.estimated_share == 0.0402
    assert not judged(coverage(1000, 100)).degraded  # exactly at the threshold passes
    over = judged(coverage(7887, 953, 3))
    assert over.reasons == (
        "12.1% of 2026-10's 7,887 unbilled interval register-days have no meter data (953 estimated or not "
        "estimable; at most 10% allowed, BUA_MAX_ESTIMATED_SHARE)",
    )
    assert not judged(coverage(7887, 953), max_share=0.15).degraded  # BUA_MAX_ESTIMATED_SHARE raised
    # nem12_estimates from before the coverage dataset: the share is unknown, so the month is held back.
    unknown = judged(None)
    assert unknown.degraded and "nem12_estimates has no coverage dataset" in unknown.reasons[0]
    # No file log for September (never materialised): not compared, said, not held against the month.
    first = judged(coverage(1000, 10), before=None)
    assert not first.degraded and first.notes == (
        "no file log for 2026-09 (interval_reads not materialised): deliveries not compared",
    )
    # A month with no unbilled interval register-days has nothing estimated.
    assert judged(coverage(0, 0)).estimated_share is None
    with pytest.raises(ValueError, match="BUA_MAX_ESTIMATED_SHARE must be above 0"):
        judged(coverage(10, 1), max_share=0)


def test_coverage_counts_each_months_unbilled_register_days_with_and_without_meter_data():
    days = pd.DataFrame(
        {"date": pd.to_datetime(["2026-09-29", "2026-09-30", "2026-10-01", "2026-10-02", "2026-10-03", "2026-10-31"])}
    )
    days["date"] = days["date"].to_numpy().astype("datetime64[s]")
    missing = days.iloc[[1, 4, 5]]
    not_estimated = pd.DataFrame({"register_id": [9], "date": days["date"].iloc[[5]].to_numpy()})
    out = estimation_coverage(days, missing, not_estimated)
    assert out.to_dict("records") == [
        {
            "month": date(2026, 9, 1),
            "register_days": 2,
            "metered": 1,
            "estimated": 1,
            "not_estimated": 0,
            "estimated_share": 0.5,
        },
        {
            "month": date(2026, 10, 1),
            "register_days": 4,
            "metered": 2,
            "estimated": 1,
            "not_estimated": 1,
            "estimated_share": 0.5,
        },
    ]


def test_a_degraded_month_is_promoted_only_with_an_acceptance():
    degraded = MonthQuality("2026-10", ("MDPB: no usable deliveries this month",), 0.04, 0.1)
    clean = MonthQuality("2026-10", (), 0.04, 0.1)
    at = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)
    accepted = Acceptance.given("  MDPB redelivers on the 5th  ", by="jsmith", via="bua-assets promote", at=at)
    assert accepted == Acceptance(
        "MDPB redelivers on the 5th", "jsmith", "bua-assets promote", "2026-11-01T03:00:00+00:00"
    )
    assert Acceptance.given("   ", by="jsmith", via="x") is None and Acceptance.given(None, by="j", via="x") is None
    why = "promoted: the latest month-end snapshot"
    assert gate(True, why, clean, None, OCTOBER, "snap") == (True, why)
    promoted, said = gate(True, why, degraded, None, OCTOBER, "snap")
    assert not promoted and said == (
        "held back, degraded: MDPB: no usable deliveries this month; promote with `bua-assets promote --month "
        "2026-10 --snapshot snap --accept-degraded REASON` or run with the tag bua/accept_degraded=REASON"
    )
    promoted, said = gate(True, why, degraded, accepted, OCTOBER, "snap")
    assert promoted and "accepted (bua-assets promote, jsmith): 'MDPB redelivers on the 5th'" in said
    # Kept apart anyway (a rehearsal): it stays apart, and says the month is degraded too.
    promoted, said = gate(False, "kept apart: a rehearsal (run tag bua/rehearsal)", degraded, accepted, OCTOBER, "s")
    assert not promoted and said.endswith("; the month is degraded too: MDPB: no usable deliveries this month")
