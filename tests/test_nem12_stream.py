"""The streaming NEM12 reader: chunked reads equal whole reads, rejection discards what was
streamed, and a large file reads (and ingests) in bounded memory."""

from __future__ import annotations

import calendar
import json
import os
import subprocess
import sys
import time
import zipfile
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bua_assets.nem12 import reader
from bua_assets.nem12.ingest import ingest_month
from bua_assets.nem12.inspect import inspect_file
from bua_assets.nem12.reader import DAY_SCHEMA, Nem12FormatError, open_nem12, read_nem12, read_nem12_bytes

REPO = Path(__file__).resolve().parents[1]
HEADER = "100,NEM12,202311010930,MDP1,RETAILER\n"


def _issue_key(i):
    return (i.line or 0, i.code, i.severity, i.reason, i.nmi or "", i.suffix or "", i.read_date or "")


def streamed(path, chunk_days):
    """open_nem12 consumed as a careful consumer does: chunks of a rejected stream are dropped."""
    out = []
    for s in open_nem12(path, chunk_days=chunk_days):
        tables = list(s.chunks())
        assert all(t.schema == DAY_SCHEMA for t in tables)
        assert all(t.num_rows <= chunk_days for t in tables)
        days = pa.concat_tables(tables) if tables and not s.rejected else DAY_SCHEMA.empty_table()
        out.append((s.name, s.header, s.b2b_records, s.rejected, days, s.issues, len(tables)))
    return out


def assert_same_as_whole(path, chunk_days):
    whole = read_nem12(path)
    parts = streamed(path, chunk_days)
    assert [p[0] for p in parts] == [f.name for f in whole]
    for f, (name, header, b2b, rejected, days, issues, _) in zip(whole, parts):
        assert (header, b2b, rejected) == (f.header, f.b2b_records, f.rejected), name
        # Rows are grouped by interval length per chunk, so compare in line order (lines are unique).
        assert days.sort_by("line").combine_chunks().equals(f.days.sort_by("line").combine_chunks()), name
        assert sorted(map(_issue_key, issues)) == sorted(map(_issue_key, f.issues)), name
    return parts


def _samples(nem12_samples):
    return sorted((nem12_samples / "valid").iterdir()) + sorted((nem12_samples / "invalid").iterdir())


@pytest.mark.parametrize("chunk_days", [1, 2, 7])
def test_chunked_equals_whole_on_every_sample(nem12_samples, chunk_days):
    split = 0
    for path in _samples(nem12_samples):
        split += sum(p[6] > 1 for p in assert_same_as_whole(path, chunk_days))
    assert split >= 10  # boundaries really fall inside files


@pytest.mark.parametrize("chunk_days", [2, 7, 500])
def test_chunked_equals_whole_on_generated_deliveries(retailer, tmp_path, chunk_days):
    files = sorted((retailer[0] / "nem12" / "2026-10").iterdir())
    text = "".join(p.read_text() for p in files)
    assert "\n400," in text and ",5,\n" in text and ",15,\n" in text and ",30,\n" in text
    for path in files:
        parts = assert_same_as_whole(path, chunk_days)
        assert parts[0][4].num_rows > 0
    # The same files as members of one zip.
    archive = tmp_path / "month.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        for path in files:
            z.write(path, path.name)
    parts = assert_same_as_whole(archive, chunk_days)
    assert len(parts) == len(files) and all(p[6] > 1 for p in parts if p[4].num_rows > chunk_days)


def _messy_file(n_blocks=6, days=9):
    """5/15/30-minute blocks, V days with 400 records, quarantined records and structural noise."""
    out = [HEADER]
    for b in range(n_blocks):
        length = (5, 15, 30)[b % 3]
        n = 1440 // length
        out.append(f"200,NMI{b:07d},E1,E1,E1,N1,M{b},{'Wh' if b % 2 else 'kWh'},{length},\n")
        for d in range(1, days + 1):
            values = [f"{(b + d + j) % 7 * 0.25:.2f}" for j in range(n)]
            if d == 3:
                out.append(f"300,202310{d:02d},{','.join(values)},V,,,20231102000000,20231102010000\n")
                out.append(f"400,1,{n // 2},A,,\n400,{n // 2 + 1},{n},S14,76,\n")
            elif d == 4 and b == 1:
                out.append(f"300,202310{d:02d},{','.join(values[:-1])},A,,,20231102000000,\n")  # one value short
            elif d == 5 and b == 2:
                out.append(f"300,202310{d:02d},{','.join(values)},V,,,20231102000000,\n")  # V without 400
            elif d == 6:
                out.append(f"300,202310{d:02d},{','.join(values)},S14,76,,20231102000000,\r\n\n")  # CRLF, blank
            else:
                out.append(f"300,202310{d:02d},{','.join(values)},A,,,20231102000000,20231102010000\n")
        if b == 2:
            out.append("400,1,2,A,,\n")  # after a 400 of its own day: fine; this one is a second run
            out.append("500,O,S01,20231005,\n")
            out.append("250,not a record\n")
    out.append("200,NMI9999999,E1,E1,E1,N1,M9,kWh,7,\n300,20231001," + ",".join(["1"] * 200) + ",A,,,,\n")
    out.append("900\n")
    return "".join(out)


@pytest.mark.parametrize("chunk_days", [1, 2, 7, 20_000])
@pytest.mark.parametrize("block", [5, 333, 4096, None])
def test_messy_file_any_chunk_and_block_size(tmp_path, monkeypatch, chunk_days, block):
    path = tmp_path / "messy.csv"
    path.write_bytes(b"\xef\xbb\xbf" + _messy_file().encode())
    whole = read_nem12(path)  # 8 MiB blocks, one chunk: today's reading
    assert {i.code for i in whole[0].issues} >= {
        "wrong_value_count",
        "v_without_400",
        "bad_interval_length",
        "unknown_record",
        "bad_block",
    }
    if block:
        monkeypatch.setattr(reader, "_READ_BLOCK", block)  # lines cut across blocks
    assert_same_as_whole(path, chunk_days)
    (s,) = open_nem12(path, chunk_days=chunk_days)
    tables = list(s.chunks())
    lines = sorted(v for t in tables for v in t["line"].to_pylist())
    assert lines == sorted(whole[0].days["line"].to_pylist())
    if chunk_days == 20_000:  # one chunk: issues in exactly the order read_nem12 always gave
        assert s.issues == whole[0].issues


def test_bad_utf8_far_into_the_file_rejects_with_the_same_byte(tmp_path, monkeypatch):
    text = _messy_file().encode()
    bad = text.index(b"\n300,", len(text) // 2) + 6
    data = text[:bad] + b"\xe2\x82" + text[bad:]
    path = tmp_path / "bad.csv"
    path.write_bytes(data)
    with pytest.raises(UnicodeDecodeError) as exc:
        data.decode("utf-8-sig")
    monkeypatch.setattr(reader, "_READ_BLOCK", 1000)
    (s,) = open_nem12(path, chunk_days=2)
    assert list(s.chunks())  # chunks came before the bad bytes were reached ...
    assert s.rejected and s.header is None and [i.code for i in s.issues] == ["not_text"]  # ... and are void
    assert f"({exc.value.reason} at byte {exc.value.start})" in s.issues[0].reason
    (f,) = read_nem12(path)
    assert f.rejected and f.days.num_rows == 0 and f.issues == s.issues


@pytest.mark.parametrize("tail", ["", "900\n300,20231009," + ",".join(["1"] * 48) + ",A,,,,\n900\n200,X\n"])
def test_missing_or_misplaced_900_yields_nothing(tmp_path, tail):
    body = (
        HEADER
        + "200,NCDE001111,E1,1,E1,N1,M123,kWh,30,\n"
        + "".join(f"300,202310{d:02d},{','.join(['1.5'] * 48)},A,,,20231102000000,\n" for d in range(1, 9))
    )
    path = tmp_path / "cut.csv"
    path.write_text(body + tail)
    (s,) = open_nem12(path, chunk_days=2)
    assert len(list(s.chunks())) >= 3  # streamed before the end was seen
    assert s.rejected and len(s.issues) == 1 and s.header is None
    assert s.sender == "MDP1"  # nothing from the file is used, but it is known whose it was
    (f,) = read_nem12(path)
    assert f.rejected and f.days.num_rows == 0 and f.issues == s.issues
    assert f.issues[0].code == ("missing_900" if not tail else "data_after_900")
    with pytest.raises(Nem12FormatError):
        read_nem12(path, strict=True)


def test_ingest_stages_nothing_from_a_file_without_900(tmp_path):
    good, cut = tmp_path / "good.csv", tmp_path / "cut.csv"
    days = "".join(f"300,202610{d:02d},{','.join(['1.5'] * 48)},A,,,20261102000000,\n" for d in range(1, 11))
    good.write_text("100,NEM12,202611010930,MDP1,RETAILER\n200,NGOOD00001,E1,1,E1,N1,M1,kWh,30,\n" + days + "900\n")
    cut.write_text("100,NEM12,202611020930,MDP1,RETAILER\n200,NCUT000001,E1,1,E1,N1,M1,kWh,30,\n" + days)
    # Small chunks so the cut file has staged several before its end is found; two worker processes.
    written: dict[str, list[pa.Table]] = {}
    workdir = tmp_path / "work"
    summary = ingest_month(
        [good, (cut, "s3://bucket/cut.csv")],
        date(2026, 10, 1),
        date(2026, 11, 1),
        lambda name, t: written.setdefault(name, []).append(t),
        workdir,
        chunk_days=3,
        workers=2,
    )
    staged = sorted(p.name for p in (workdir / "raw_days").iterdir())
    assert staged == [
        "000000-000-000000.parquet",
        "000000-000-000001.parquet",
        "000000-000-000002.parquet",
        "000000-000-000003.parquet",
    ]
    assert sum(pq.read_metadata(workdir / "raw_days" / p).num_rows for p in staged) == 10
    reads = pa.concat_tables(written["interval_reads"])
    assert summary.interval_reads == reads.num_rows == 10 and set(reads["nmi"].to_pylist()) == {"NGOOD00001"}
    assert summary.files.to_pylist() == [
        {
            "source_file": str(good),
            "created": "202611010930",
            "from_participant": "MDP1",
            "register_days": 10,
            "issues": 0,
            "rejected": False,
        },
        {
            "source_file": "s3://bucket/cut.csv",
            "created": "",
            "from_participant": "MDP1",  # the truncated file is its provider's delivery, with nothing usable
            "register_days": 0,
            "issues": 1,
            "rejected": True,
        },
    ]
    assert summary.quarantine.select(["source_file", "code"]).to_pylist() == [
        {"source_file": "s3://bucket/cut.csv", "code": "missing_900"}
    ]


def test_a_corrupt_member_voids_the_whole_zip(tmp_path):
    good = (
        HEADER
        + "200,NCDE001111,E1,1,E1,N1,M123,kWh,30,\n"
        + f"300,20231001,{','.join(['1.5'] * 48)},A,,,20231102000000,\n900\n"
    )
    path = tmp_path / "two.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr("a.csv", good)
        z.writestr("b.csv", good)
    data = bytearray(path.read_bytes())
    second = data.index(b"300,", data.index(b"b.csv"))
    data[second + 10] ^= 1  # a flipped byte in the second member: CRC error only when it is read
    path.write_bytes(bytes(data))
    streams = list(open_nem12(path))
    assert len(streams) == 1 and streams[0].rejected and streams[0].issues[0].code == "corrupt_zip"
    assert "CRC" in streams[0].issues[0].reason and list(streams[0].chunks()) == []


def test_chunks_can_be_iterated_once_and_bytes_api_unchanged():
    text = (
        HEADER
        + "200,NCDE001111,E1,1,E1,N1,M123,kWh,30,\n"
        + f"300,20231001,{','.join(['1.5'] * 48)},A,,,20231102000000,\n900\n"
    )
    f = read_nem12_bytes(text.encode(), "t.csv")
    assert f.days.num_rows == 1 and f.issues == [] and f.header.from_participant == "MDP1"
    (s,) = open_nem12(__file__)  # not NEM12: rejected before any chunk
    assert list(s.chunks()) == [] and s.issues[0].code == "missing_header"
    with pytest.raises(RuntimeError):
        next(iter(s.chunks()))


def test_blank_or_bom_only_file_is_empty_not_a_crash(tmp_path):
    for data in (b"", b"\n \r\n", b"\xef\xbb\xbf", b"\xef\xbb\xbf\n\x1c\n"):
        path = tmp_path / "e.csv"
        path.write_bytes(data)
        (f,) = read_nem12(path)
        assert [i.code for i in f.issues] == ["empty_file"], data


def test_inspect_is_the_same_in_any_chunk_size(retailer, nem12_samples):
    generated = sorted((retailer[0] / "nem12" / "2026-10").iterdir())
    for path in generated + _samples(nem12_samples):
        rows, issues = inspect_file(path)
        for chunk_days in (50, 500) if path in generated else (1, 7):  # thousands of days: fewer chunks
            rows2, issues2 = inspect_file(path, chunk_days=chunk_days)
            assert rows2 == rows, path.name
            assert sorted(map(_issue_key, issues2)) == sorted(map(_issue_key, issues)), path.name


# --- a large file -------------------------------------------------------------------------


def write_big_nem12(path: Path, target_bytes: int, *, year=2026, month=10, interval=5, seed=0) -> dict:
    """A NEM12 file of about ``target_bytes``: pre-formatted 300 records repeated with other
    dates and NMIs (one V day with 400 records per register). Returns what it holds."""
    n = 1440 // interval
    rng = np.random.default_rng(seed)
    variants = [",".join(f"{v:.3f}" for v in rng.integers(0, 2000, n) / 1000) for _ in range(16)]
    kwh = [sum(float(x) for x in v.split(",")) for v in variants]
    ndays = calendar.monthrange(year, month)[1]
    dates = [f"{year:04d}{month:02d}{d:02d}" for d in range(1, ndays + 1)]
    tail = ",A,,,20261102000000,20261102010000\n"
    vtail = f",V,,,20261102000000,20261102010000\n400,1,{n // 2},A,,\n400,{n // 2 + 1},{n},S14,76,\n"
    registers, total = 0, 0.0
    with open(path, "w", buffering=1 << 22) as out:
        out.write("100,NEM12,202611010930,MDP1,RETAILER\n")
        size = 0
        while size < target_bytes:
            nmi = f"N{registers:09d}"
            parts = [f"200,{nmi},E1,E1,E1,N1,M{registers},kWh,{interval},\n"]
            for d, day in enumerate(dates):
                k = (registers + d) % len(variants)
                parts.append(f"300,{day},{variants[k]}{vtail if d == 0 else tail}")
                total += kwh[k]
            block = "".join(parts)
            out.write(block)
            size += len(block)
            registers += 1
        out.write("900\n")
    return {"registers": registers, "days": ndays, "intervals": n, "kwh": total}


_CHILD = r"""
import json, resource, sys, tempfile, time
from datetime import date
from pathlib import Path
sys.path.insert(0, {repo!r})
path, what = Path(sys.argv[1]), sys.argv[2]
t = time.perf_counter()
if what == "inspect":
    from bua_assets.nem12.inspect import inspect_file
    rows, issues = inspect_file(path)
    out = {{"rows": len(rows), "days": sum(r["days"] for r in rows), "kwh": sum(r["total_kwh"] for r in rows),
           "quality": {{k: sum(r["quality_counts"].get(k, 0) for r in rows) for k in "AS"}},
           "issues": [str(i) for i in issues]}}
else:
    from bua_assets.lake import Lake
    from bua_assets.nem12.ingest import ingest_month
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        lake = Lake(str(Path(tmp) / "lake"))
        with lake.partition_writer("interval_reads", "2026-10-01") as w:
            s = ingest_month([path], date(2026, 10, 1), date(2026, 11, 1), w.write, Path(tmp) / "work")
        out = {{"rows": s.interval_reads, "registers": s.registers, "quarantined": s.quarantine.num_rows,
               "lake_rows": lake.read("interval_reads", "2026-10-01", "interval_reads", columns=["line"]).num_rows}}
out["seconds"] = round(time.perf_counter() - t, 1)
out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
print(json.dumps(out))
"""


def _child(path: Path, what: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD.format(repo=str(REPO)), str(path), what],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    print(what, result, file=sys.stderr)
    return result


@pytest.mark.slow
def test_300mb_file_inspects_and_ingests_in_bounded_memory(tmp_path):
    size_mb = int(os.getenv("BUA_BIG_NEM12_MB", "300"))
    path = tmp_path / "big.csv"
    t = time.perf_counter()
    want = write_big_nem12(path, size_mb << 20)
    print(f"generated {path.stat().st_size / 1e6:.0f} MB in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    try:
        days = want["registers"] * want["days"]
        got = _child(path, "inspect")
        assert got["issues"] == [] and got["rows"] == want["registers"] and got["days"] == days
        assert got["kwh"] == pytest.approx(want["kwh"], rel=1e-9)
        assert got["quality"] == {
            "A": days * want["intervals"] - want["registers"] * want["intervals"] // 2,
            "S": want["registers"] * want["intervals"] // 2,
        }
        assert got["peak_rss_mb"] < 1500  # 0.7 GB measured; 3.2 GB before streaming
        got = _child(path, "ingest")
        assert got["rows"] == got["lake_rows"] == days and got["registers"] == want["registers"]
        assert got["quarantined"] == 0
        assert got["peak_rss_mb"] < 2000  # 0.97 GB measured (SQL part: one staged chunk at a time)
    finally:
        path.unlink()
