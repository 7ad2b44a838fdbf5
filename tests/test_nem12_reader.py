"""The NEM12 reader against nemreader (the oracle) and against malformed input."""

from __future__ import annotations

import io
import zipfile

import pytest
from support import oracle_per_interval as _oracle_per_interval
from support import ours_per_interval as _ours_per_interval

from bua_assets.nem12.reader import Nem12FormatError, read_nem12, read_nem12_bytes


def test_every_valid_sample_matches_nemreader(nem12_samples):
    files = sorted((nem12_samples / "valid").iterdir())
    assert len(files) >= 100
    for path in files:
        ours, oracle = _ours_per_interval(path), _oracle_per_interval(path)
        assert len(ours) == len(oracle) > 0, path.name
        assert ours == oracle, path.name


EXPECTED_INVALID = {
    # file: (severity of the first issue, code, words the reason must contain)
    "Example_NEM12_15min_200_30min_300.csv": ("record_quarantined", "wrong_value_count", "15-minute"),
    "Example_NEM12_15min_200_30min_400.csv": ("record_quarantined", "bad_400", "cover 48 of 96"),
    "Example_NEM12_30min_200_15min_300.csv": ("record_quarantined", "wrong_value_count", "30-minute"),
    "Example_NEM12_30min_200_15min_400.csv": ("record_quarantined", "wrong_value_count", "30-minute"),
    "Example_NEM12_empty.csv": ("warning", "no_data", "no 200/300"),
    "Example_NEM12_incomplete_interval.csv": ("record_quarantined", "wrong_value_count", "7 fields"),
    "Example_NEM12_missing_header.csv": ("file_rejected", "missing_header", "100 header"),
    "Example_NEM12_powercor.csv": ("file_rejected", "missing_header", "100 header"),
    "Example_NEM12_powercor.csv.zip": ("file_rejected", "missing_header", "100 header"),
    "Example_NEM12_powercor_missing_fields.csv": ("file_rejected", "missing_header", "100 header"),
    "Example_empty_file.csv": ("file_rejected", "empty_file", "empty"),
    # a 300 record broken over three lines: the two stray lines and the short record are named
    "NEM12#Scenario10#ETSAMDP#NEMMCO.zip": ("warning", "unknown_record", "not a NEM12 record"),
}


@pytest.mark.parametrize("name", sorted(EXPECTED_INVALID))
def test_invalid_samples_give_specific_issues(nem12_samples, name):
    severity, code, words = EXPECTED_INVALID[name]
    (result,) = read_nem12(nem12_samples / "invalid" / name)
    issue = result.issues[0]
    assert (issue.severity, issue.code) == (severity, code), issue
    assert words in issue.reason
    assert name in str(issue)
    if severity != "warning" and issue.code != "empty_file":
        assert issue.line is not None and f":{issue.line}:" in str(issue)
    with pytest.raises(Nem12FormatError, match=name.replace(".", r"\.")):
        read_nem12(nem12_samples / "invalid" / name, strict=True)


def test_incomplete_interval_keeps_the_good_days(nem12_samples):
    (result,) = read_nem12(nem12_samples / "invalid" / "Example_NEM12_incomplete_interval.csv")
    quarantined = [i for i in result.issues if i.severity == "record_quarantined"]
    assert [(i.line, i.read_date) for i in quarantined] == [(3, "20040201")]
    # Every other 300 record is read: nothing dropped silently.
    assert result.days.num_rows == 3


HEADER = "100,NEM12,202311010930,MDP1,RETAILER\n"
B200 = "200,NCDE001111,E1,1,E1,N1,M123,kWh,30,\n"


def day(date="20231001", values=None, quality="A", n=48):
    values = values if values is not None else ["1.5"] * n
    return f"300,{date},{','.join(values)},{quality},,,20231002000000,\n"


def issues_of(text: str):
    f = read_nem12_bytes(text.encode(), "t.csv")
    return f, [(i.severity, i.code) for i in f.issues]


def test_300_with_wrong_number_of_values_is_quarantined_rest_loaded():
    f, issues = issues_of(HEADER + B200 + day(values=["1"] * 47) + day("20231002") + "900\n")
    assert issues == [("record_quarantined", "wrong_value_count")]
    assert f.issues[0].line == 3 and f.issues[0].read_date == "20231001"
    assert f.days.column("read_date").to_pylist()[0].isoformat() == "2023-10-02"


def test_400_outside_interval_range():
    f, issues = issues_of(HEADER + B200 + day(quality="V") + "400,1,30,A,,\n400,31,50,S14,,\n900\n")
    assert issues == [("record_quarantined", "bad_400")]
    assert "31-50 outside 1-48" in f.issues[0].reason and f.issues[0].line == 5


def test_400_splits_quality_per_interval():
    f, issues = issues_of(HEADER + B200 + day(quality="V") + "400,1,30,A,,\n400,31,48,S14,76,\n900\n")
    assert issues == []
    q = f.days.column("interval_quality")[0].as_py()
    assert q[:30] == ["A"] * 30 and q[30:] == ["S14"] * 18


def test_interval_quality_is_kept_only_where_400_records_set_it():
    text = HEADER + B200 + day() + day("20231002", quality="S14") + day("20231003") + "400,1,10,E52,,\n900\n"
    f, issues = issues_of(text)
    assert issues == [("warning", "400_without_v")]
    plain_a, plain_s, split_a = f.days.column("interval_quality").to_pylist()
    # a day without 400 records: every interval has the day's method, which the row carries once
    assert plain_a is None and plain_s is None
    assert f.days.column("quality_method").to_pylist()[:2] == ["A", "S14"]
    # 400 records on an A day are applied (with the warning): the qualities say so per interval
    assert split_a == ["E52"] * 10 + ["A"] * 38


def test_unknown_uom_is_read_and_flagged():
    f, issues = issues_of(HEADER + B200.replace("kWh", "furlongs") + day() + "900\n")
    assert issues == [("warning", "unknown_uom")]
    assert f.days.num_rows == 1 and "furlongs" in f.issues[0].reason


def test_missing_900_rejects_the_file():
    f, issues = issues_of(HEADER + B200 + day())
    assert issues == [("file_rejected", "missing_900")] and f.days.num_rows == 0
    assert f.issues[0].line == 3


def test_nem13_where_nem12_expected():
    f, issues = issues_of("100,NEM13,202311010930,MDP1,RETAILER\n250,X\n900\n")
    assert issues == [("file_rejected", "not_nem12")] and "NEM13" in f.issues[0].reason


def test_negative_value_quarantines_the_day():
    values = ["1"] * 48
    values[6] = "-0.4"
    f, issues = issues_of(HEADER + B200 + day(values=values) + day("20231002") + "900\n")
    assert issues == [("record_quarantined", "negative_value")]
    assert "interval 7" in f.issues[0].reason and f.days.num_rows == 1


def test_not_a_number_value_quarantines_the_day():
    values = ["1"] * 48
    values[3] = "abc"
    f, issues = issues_of(HEADER + B200 + day(values=values) + day("20231002") + "900\n")
    assert issues == [("record_quarantined", "not_a_number")] and f.days.num_rows == 1


def test_truncated_zip(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("a.csv", HEADER + B200 + day() * 10 + "900\n")
    path = tmp_path / "a.zip"
    path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    (result,) = read_nem12(path)
    assert result.rejected and result.issues[0].code == "corrupt_zip"


def test_duplicate_day_within_file_both_returned_in_line_order():
    # The reader is faithful; the pipeline keeps the later one and records it (interval_reads).
    f, issues = issues_of(HEADER + B200 + day() + day(values=["2"] * 48) + "900\n")
    assert issues == []
    assert f.days.column("line").to_pylist() == [3, 4]


def test_generated_deliveries_match_nemreader(retailer):
    """Our writer's files (kWh and Wh, 5/15/30-minute, 400 records) read the same by both readers."""
    folder = retailer[0] / "nem12" / "2026-10"
    files = sorted(folder.iterdir())
    uoms = set()
    for path in files:
        ours, oracle = _ours_per_interval(path), _oracle_per_interval(path)
        assert ours == oracle, path.name
        uoms |= {r[2] for r in ours}
    assert {"kWh", "Wh"} <= uoms
    text = "".join(p.read_text() for p in files)
    assert "\n400," in text and ",5,\n" in text and ",15,\n" in text


def test_no_valid_sample_has_an_implausible_peak(nem12_samples, tmp_path):
    """The ingest's peak rule on AEMO's examples (large sites among them), each file its own
    delivery over a month wide enough to hold all its days: nothing is quarantined."""
    from datetime import date

    from bua_assets.nem12.ingest import ingest_month

    for n, path in enumerate(sorted((nem12_samples / "valid").iterdir())):
        summary = ingest_month(
            [path], date(2000, 1, 1), date(2030, 1, 1), lambda *_: None, tmp_path / str(n), workers=1
        )
        codes = summary.quarantine.column("code").to_pylist()
        assert not [c for c in codes if c in ("implausible_peak", "above_maximum")], (path.name, codes)
        assert summary.interval_reads > 0, path.name
