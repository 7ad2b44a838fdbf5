"""Meter data as it really arrives (issue 23), on small NEM12 files generated here: the NMI in its
11-character form with AEMO's checksum digit, and a register delivered in a unit that is not its
own."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bua_assets.estimation import profiles as prof
from bua_assets.estimation.consumption import TimeOfUse, streamed_interval_quantities
from bua_assets.lake import Lake
from bua_assets.nem12.ingest import ingest_month
from bua_assets.nem12.nmi import nmi_checksum, normalised

MONTH, NEXT = date(2026, 10, 1), date(2026, 11, 1)
DAY = ",".join(["0.5"] * 48)


def nem12(tmp_path: Path, name: str, *blocks: tuple[str, str, str]) -> Path:
    """A NEM12 file of (NMI, suffix, unit) blocks, each with 1-2 October at 0.5 a half hour."""
    lines = ["100,NEM12,202611020930,TESTMDP,BUARETAIL"]
    for nmi, suffix, unit in blocks:
        lines.append(f"200,{nmi},{suffix},1,{suffix},N1,M1,{unit},30,")
        lines += [f"300,2026100{d},{DAY},A,,,20261102093000," for d in (1, 2)]
    lines.append("900")
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def ingest(tmp_path: Path, *files: Path):
    lake = Lake(str(tmp_path / "lake"))
    with lake.partition_writer("interval_reads", "2026-10-01") as writer:
        summary = ingest_month(list(files), MONTH, NEXT, writer.write, tmp_path / "work", workers=1)
    return lake.read("interval_reads", "2026-10-01", "interval_reads"), summary.quarantine.to_pylist()


@pytest.mark.parametrize(
    ("nmi", "digit"),
    # AEMO's worked examples (NMI procedure, checksum appendix)
    [("2001985732", 8), ("QAAAVZZZZZ", 3), ("2001985733", 6), ("VAAA000065", 7)],
)
def test_the_aemo_nmi_checksum(nmi, digit):
    assert nmi_checksum(nmi) == digit
    assert normalised(f"{nmi}{digit}") == nmi
    assert normalised(f"{nmi}{(digit + 1) % 10}") == f"{nmi}{(digit + 1) % 10}"  # a wrong digit stays
    assert normalised(nmi) == nmi and normalised("NMI111") == "NMI111"  # other lengths as delivered


def test_an_eleven_character_nmi_is_stripped_of_a_valid_checksum_and_quarantined_with_a_wrong_one(tmp_path):
    f = nem12(
        tmp_path,
        "nmis.csv",
        ("20019857328", "E1", "kWh"),  # valid checksum: loads as 2001985732
        ("20019857339", "E1", "kWh"),  # 2001985733's digit is 6: quarantined, named
        ("VAAA000065", "E1", "kWh"),  # as CORE keys it
    )
    reads, rows = ingest(tmp_path, f)
    assert sorted(set(reads["nmi"].to_pylist())) == ["2001985732", "VAAA000065"]
    assert reads.num_rows == 4
    assert [(r["line"], r["code"], r["nmi"]) for r in rows] == [
        (6, "invalid_nmi", "20019857339"),
        (7, "invalid_nmi", "20019857339"),
    ]
    assert rows[0]["reason"].startswith("NMI 20019857339 has 11 characters and its last is not the AEMO checksum")
    assert rows[0]["source_file"] == str(f)


REGISTERS = pd.DataFrame(
    {
        "register_id": [1, 2],
        "nmi": ["6100000001", "6100000002"],
        "suffix": ["E1", "E1"],
        "uom": ["KWH", "KWH"],
        "segment_index": [0, 0],
        "profile_register": [True, True],
    }
)


def test_meter_data_in_a_unit_that_is_not_the_registers_is_never_its_energy_and_is_named(tmp_path):
    # E1 of the first NMI arrives in MVArh (read by ingestion as 1,000 kVArh per MVArh): before,
    # it was matched on NMI and suffix alone and accrued as kWh x 1,000. A third NMI has no register.
    f = nem12(
        tmp_path,
        "units.csv",
        ("6100000001", "E1", "MVArh"),
        ("6100000002", "E1", "kWh"),
        ("6100000009", "E1", "kWh"),
    )
    reads, rows = ingest(tmp_path, f)
    assert rows == []  # reactive energy is a valid NEM12 unit: the mismatch is against CORE
    month = prof.Window(MONTH, date(2026, 10, 31))
    history_pass = prof.HistoryPass(REGISTERS, 1, month)
    history_pass.add(reads)
    history = history_pass.finish()
    # Only the second register's two days count as energy.
    assert history.register_days["register_id"].to_pylist() == [2, 2]
    found = prof.meter_data_exceptions(REGISTERS, history).to_pylist()
    assert [(r["code"], r["nmi"], r["read_date"], r["line"]) for r in found] == [
        ("unit_mismatch", "6100000001", "2026-10-01", 3),
        ("unit_mismatch", "6100000001", "2026-10-02", 4),
        ("unmatched_meter_data", "6100000009", None, None),
    ]
    assert found[0]["source_file"] == str(f)
    assert found[0]["reason"] == (
        "NMI 6100000001 suffix E1 delivered in kVArh but its CORE register is in KWH: not its energy, "
        "the day is estimated instead"
    )
    assert found[2]["reason"] == (
        "2 register-days of NMI 6100000009 suffix E1 match no interval register: no interval register in CORE "
        "has NMI 6100000009 (an 11-character or changed NMI?)"
    )
    # The consumption's own match: the kVArh days are no data for the register (estimated instead).
    days = pd.DataFrame(
        {
            "account_id": 1,
            "utility_id": [1, 2],
            "register_id": [1, 2],
            "year_mnth": MONTH,
            "date": pd.to_datetime(["2026-10-01"] * 2),
            "stream_type": "PRIMARY",
            "nmi": ["6100000001", "6100000002"],
            "suffix": "E1",
            "uom": "KWH",
        }
    )
    tou = TimeOfUse({}, {})
    out, had_data = streamed_interval_quantities(days, np.full(2, -1), tou, [reads])
    assert had_data.tolist() == [False, True] and out["quantity"].tolist() == [24.0]


def test_the_statistics_asset_finds_the_file_and_line_of_a_mismatched_day(tmp_path):
    from bua_assets.assets.lake_reads import with_file_and_line

    f = nem12(tmp_path, "units.csv", ("6100000001", "E1", "MVArh"), ("6100000002", "E1", "kWh"))
    reads, _ = ingest(tmp_path, f)
    history_pass = prof.HistoryPass(REGISTERS, 1, prof.Window(MONTH, date(2026, 10, 31)))
    history_pass.add(
        reads.select(
            ["nmi", "suffix", "uom", "read_date", "interval_length", "values", "interval_quality", "quality_method"]
        )
    )
    mismatch = history_pass.finish().unit_mismatch
    assert "source_file" not in mismatch.column_names  # the month's pass streams the values only
    located = with_file_and_line(Lake(str(tmp_path / "lake")), "2026-10-01", mismatch).to_pylist()
    assert [(r["nmi"], str(r["read_date"]), r["line"], r["source_file"]) for r in located] == [
        ("6100000001", "2026-10-01", 3, str(f)),
        ("6100000001", "2026-10-02", 4, str(f)),
    ]
