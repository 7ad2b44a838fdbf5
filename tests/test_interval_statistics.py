"""The 12-month profiles combined from monthly statistics equal a full recompute over the raw
interval data (float tolerance): the additive statistics lose nothing."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from bua_assets.estimation import profiles as prof

WINDOW = prof.Window(date(2026, 1, 1), date(2026, 4, 30))  # four months


def month_windows(window: prof.Window) -> list[prof.Window]:
    starts = pd.date_range(window.start, window.end, freq="MS")
    return [prof.Window(s.date(), (s + pd.offsets.MonthEnd(0)).date()) for s in starts]


def interval_data(rng: np.random.Generator) -> tuple[pd.DataFrame, pa.Table]:
    """Six registers in two segments (one 5-minute), plus data for a register CORE does not know;
    some days estimated, some mixed (V) with a few estimated intervals, some days missing."""
    registers = pd.DataFrame(
        {
            "register_id": [11, 12, 13, 21, 22, 23],
            "nmi": ["N1", "N1", "N2", "N3", "N4", "N5"],
            "suffix": ["E1", "E2", "E1", "E1", "E1", "B1"],
            "segment_index": [0, 1, 0, 0, 0, 1],
            "profile_register": [True, True, True, False, True, True],
            "segment": [
                "RES|NSW|PRIMARY",
                "RES|NSW|CONTROL",
                "RES|NSW|PRIMARY",
                "RES|NSW|PRIMARY",
                "RES|NSW|PRIMARY",
                "RES|NSW|CONTROL",
            ],
        }
    )
    rows = []
    for nmi, suffix, length in [
        ("N1", "E1", 30),
        ("N1", "E2", 30),
        ("N2", "E1", 5),
        ("N3", "E1", 30),
        ("N4", "E1", 15),
        ("N5", "B1", 30),
        ("ZZ", "E1", 30),
    ]:
        n = 1440 // length
        for d in WINDOW.dates:
            if rng.random() < 0.05:
                continue  # no data that day
            values = np.round(rng.gamma(2.0, 0.2 * length / 30, n), 3)
            kind = rng.choice(["A", "E", "V"], p=[0.8, 0.1, 0.1])
            quality = [kind] * n if kind != "V" else ["A"] * n
            if kind == "V":
                for i in rng.choice(n, 3, replace=False):
                    quality[i] = "E52"
            rows.append(
                {
                    "nmi": nmi,
                    "suffix": suffix,
                    "read_date": d.astype(object),
                    "interval_length": length,
                    "values": values.tolist(),
                    "interval_quality": quality,
                    "quality_method": "A" if kind == "A" else ("E52" if kind == "E" else "V"),
                }
            )
    rng.shuffle(rows)  # batches may come in any order
    schema = pa.schema(
        [
            ("nmi", pa.string()),
            ("suffix", pa.string()),
            ("read_date", pa.date32()),
            ("interval_length", pa.int16()),
            ("values", pa.list_(pa.float64())),
            ("interval_quality", pa.list_(pa.string())),
            ("quality_method", pa.string()),
        ]
    )
    return registers, pa.Table.from_pylist(rows, schema=schema)


def test_profiles_from_monthly_statistics_equal_a_full_recompute():
    registers, data = interval_data(np.random.default_rng(3))
    segments = ["RES|NSW|PRIMARY", "RES|NSW|CONTROL"]
    full_pass = prof.HistoryPass(registers, len(segments), WINDOW)
    for batch in data.to_batches(max_chunksize=97):
        full_pass.add(batch)
    full = full_pass.finish()

    combination = prof.MonthlyCombination(registers, segments, WINDOW)
    dates = data["read_date"].to_numpy(zero_copy_only=False).astype("datetime64[D]")
    for month in month_windows(WINDOW):
        in_month = (dates >= np.datetime64(month.start)) & (dates <= np.datetime64(month.end))
        month_pass = prof.HistoryPass(registers, len(segments), month)
        month_pass.add(data.filter(pa.array(in_month)))
        tables = prof.month_statistics(registers, segments, month_pass.finish(), month)
        combination.add(
            tables["register_stats"], tables["segment_sums"], tables["register_totals"], tables["unmatched"]
        )
    combined = combination.finish()

    for name in ("segment_sum", "segment_registers", "register_sum", "register_sumsq", "register_count"):
        np.testing.assert_allclose(getattr(combined, name), getattr(full, name), rtol=1e-12, atol=1e-9, err_msg=name)
    assert full.segment_sum.sum() > 0 and full.register_count.sum() > 0  # the comparison is not of zeros
    pd.testing.assert_frame_equal(prof.utility_profile(registers, combined), prof.utility_profile(registers, full))
    pd.testing.assert_frame_equal(
        prof.utility_profile_variance(registers, combined), prof.utility_profile_variance(registers, full)
    )
    pd.testing.assert_frame_equal(
        prof.utility_profile_summary(registers, combined, WINDOW), prof.utility_profile_summary(registers, full, WINDOW)
    )
    assert (
        combined.unmatched.to_pylist()
        == full.unmatched.to_pylist()
        == [
            {
                "nmi": "ZZ",
                "suffix": "E1",
                "register_days": int((data["nmi"].to_numpy(zero_copy_only=False) == "ZZ").sum()),
            }
        ]
    )


def test_a_revised_month_changes_only_through_its_own_statistics():
    """Replacing one month's statistics (a late NEM12 revision) gives the same profiles as a full
    recompute over the revised data: the other months' statistics are reused as they are."""
    rng = np.random.default_rng(8)
    registers, data = interval_data(rng)
    segments = ["RES|NSW|PRIMARY", "RES|NSW|CONTROL"]
    dates = data["read_date"].to_numpy(zero_copy_only=False).astype("datetime64[D]")
    months = month_windows(WINDOW)
    revised_month = months[1]
    in_revised = (dates >= np.datetime64(revised_month.start)) & (dates <= np.datetime64(revised_month.end))
    revised = pa.concat_tables(
        [
            data.filter(pa.array(~in_revised)),
            data.filter(pa.array(in_revised)).set_column(
                4,
                "values",
                pa.array(
                    [[v * 2 for v in vs] for vs in data.filter(pa.array(in_revised))["values"].to_pylist()],
                    pa.list_(pa.float64()),
                ),
            ),
        ]
    )
    statistics = {}
    for month in months:
        source = revised if month == revised_month else data
        d = source["read_date"].to_numpy(zero_copy_only=False).astype("datetime64[D]")
        p = prof.HistoryPass(registers, len(segments), month)
        p.add(source.filter(pa.array((d >= np.datetime64(month.start)) & (d <= np.datetime64(month.end)))))
        statistics[month] = prof.month_statistics(registers, segments, p.finish(), month)
    combination = prof.MonthlyCombination(registers, segments, WINDOW)
    for t in statistics.values():
        combination.add(t["register_stats"], t["segment_sums"], t["register_totals"], t["unmatched"])
    full_pass = prof.HistoryPass(registers, len(segments), WINDOW)
    full_pass.add(revised)
    np.testing.assert_allclose(combination.finish().register_sum, full_pass.finish().register_sum, rtol=1e-12)


def test_statistics_of_a_month_without_data_are_empty_but_typed():
    registers, _data = interval_data(np.random.default_rng(1))
    month = month_windows(WINDOW)[0]
    p = prof.HistoryPass(registers, 2, month)
    tables = prof.month_statistics(registers, ["RES|NSW|PRIMARY", "RES|NSW|CONTROL"], p.finish(), month)
    assert tables["register_stats"].num_rows == 0 and tables["register_totals"].num_rows == 0
    assert tables["segment_sums"].num_rows == 2 * month.days  # every segment-date, with zero registers
    assert pytest.approx(0.0) == float(np.sum(tables["segment_sums"]["registers"].to_numpy()))
