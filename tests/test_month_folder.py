"""Every file accounted for (issue 23, item 5), on small files generated here: every entry of a
month's meter-data folder is read or named in the quarantine (gzip and zip read; loops, dangling
links, pipes and other compressions named; folders read), a delivery created after the run cannot
supersede real ones, overlapping 400 ranges quarantine their day, CR-only files read as written,
and a register's days are bounded by its meter's and its own dates (a mid-month meter exchange)."""

from __future__ import annotations

import bz2
import gzip
import os
import zipfile
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from bua_assets.estimation import profiles as prof
from bua_assets.estimation.consumption import (
    TimeOfUse,
    register_days,
    registers_on_days,
    streamed_interval_quantities,
)
from bua_assets.estimation.missing_days import missing_register_days
from bua_assets.estimation.registers import meter_registers
from bua_assets.estimation.unbilled import no_installed_register_exceptions
from bua_assets.lake import Lake
from bua_assets.nem12 import reader
from bua_assets.nem12.folder import local_month_entries
from bua_assets.nem12.ingest import ingest_month
from bua_assets.nem12.reader import open_nem12, read_nem12, read_nem12_bytes
from bua_assets.resources import MeterDataResource

MONTH, NEXT = date(2026, 10, 1), date(2026, 11, 1)
RUN = datetime(2026, 12, 6, 5, 0, tzinfo=UTC)  # 15:00 on 6 December, NEM time


def nem12_text(nmi: str, value: float = 0.5, created: str = "202611020930", days=(1, 2)) -> str:
    day = ",".join([str(value)] * 48)
    lines = [f"100,NEM12,{created},TESTMDP,BUARETAIL", f"200,{nmi},E1,1,E1,N1,M1,kWh,30,"]
    lines += [f"300,202610{d:02d},{day},A,,,20261102093000," for d in days]
    return "\n".join([*lines, "900"]) + "\n"


def ingest(tmp_path: Path, files, *, unread=(), as_at=RUN):
    lake = Lake(str(tmp_path / "lake"))
    with lake.partition_writer("interval_reads", "2026-10-01") as writer:
        summary = ingest_month(
            list(files), MONTH, NEXT, writer.write, tmp_path / "work", workers=1, unread=unread, as_at=as_at
        )
    return lake.read("interval_reads", "2026-10-01", "interval_reads"), summary


# --------------------------------------------------------------------------------------------
# The folder's entries


def test_every_entry_of_the_month_folder_is_read_or_named(tmp_path):
    root = tmp_path / "nem12"
    folder = root / "2026-10"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.csv").write_text(nem12_text("6100000001"))
    (folder / "b.csv.gz").write_bytes(gzip.compress(nem12_text("6100000002").encode()))
    with zipfile.ZipFile(folder / "c.zip", "w") as z:
        z.writestr("c.csv", nem12_text("6100000003"))
    (folder / "sub" / "d.csv").write_text(nem12_text("6100000004"))  # a folder inside: read
    outside = tmp_path / "elsewhere.csv"
    outside.write_text(nem12_text("6100000005"))
    os.symlink(outside, folder / "e.csv")  # a link to a file: read
    os.symlink(folder / "loop.csv", folder / "loop.csv")
    os.symlink(folder / "gone.csv", folder / "dangling.csv")
    os.symlink("..", folder / "sub" / "up")  # a folder loop
    os.symlink(folder / "sub", folder / "same")  # the same folder under a second name
    os.mkfifo(folder / "pipe.csv")
    (folder / "f.csv.bz2").write_bytes(bz2.compress(nem12_text("6100000006").encode()))
    (folder / "notes.txt").write_text("delivered by hand\n")

    entries = MeterDataResource(location=str(root)).month_entries("2026-10")
    reads, summary = ingest(tmp_path, entries.files, unread=entries.unread)

    assert sorted(set(reads["nmi"].to_pylist())) == [f"610000000{k}" for k in range(1, 6)]
    assert reads.num_rows == 10
    named = {(Path(r["source_file"]).name, r["code"]) for r in summary.quarantine.to_pylist()}
    assert named == {
        ("loop.csv", "symlink_loop"),
        ("dangling.csv", "dangling_link"),
        ("up", "symlink_loop"),
        ("same", "already_read"),  # the real folder is read under its own name, the link is named
        ("pipe.csv", "not_a_file"),
        ("f.csv.bz2", "unsupported_compression"),
        ("notes.txt", "missing_header"),
    }
    rows = {Path(r["source_file"]).name: r for r in summary.quarantine.to_pylist()}
    assert rows["dangling.csv"]["reason"] == f"link to {folder / 'gone.csv'}, which does not exist: not read"
    assert rows["loop.csv"]["reason"].endswith("resolves to itself (a loop): not read")
    assert rows["up"]["reason"] == f"link to .. leads back to the folder {folder} that holds it: a loop, not followed"
    assert rows["pipe.csv"]["reason"] == "a named pipe, not a file: not read"
    assert rows["same"]["reason"] == (
        f"link to {folder / 'sub'}: the same folder as {folder / 'sub'}, which is read: not read twice"
    )
    assert (
        rows["f.csv.bz2"]["reason"] == "the file is compressed with bzip2: not read (gzip and zip deliveries are read)"
    )
    assert all(r["severity"] == "file_rejected" for r in rows.values())
    # Every entry of the folder (but the folders themselves) is in the file log, read or not.
    log = summary.files.to_pylist()
    logged = {r["source_file"].split("!")[0] for r in log}
    on_disk = {str(Path(d) / n) for d, dirs, files in os.walk(folder) for n in files + dirs} - {str(folder / "sub")}
    assert logged == on_disk
    read = {Path(r["source_file"]).name: r["register_days"] for r in log if not r["rejected"]}
    assert read == {"a.csv": 2, "b.csv.gz": 2, "c.zip!c.csv": 2, "d.csv": 2, "e.csv": 2}


def test_the_entries_are_named_in_the_same_order_every_run(tmp_path):
    folder = tmp_path / "2026-10"
    folder.mkdir()
    for name in ("z.csv", "b.csv", "m.csv"):
        (folder / name).write_text(nem12_text("6100000001"))
    os.symlink(folder / "x", folder / "k.csv")
    os.symlink(folder / "y", folder / "c.csv")
    entries = local_month_entries(folder)
    assert [Path(s).name for _, s in entries.files] == ["b.csv", "m.csv", "z.csv"]
    assert [Path(u.source).name for u in entries.unread] == ["c.csv", "k.csv"]
    assert not local_month_entries(tmp_path / "2026-11")  # no folder: no entries


def test_a_folder_that_cannot_be_listed_is_named(tmp_path, monkeypatch):
    folder = tmp_path / "2026-10"
    (folder / "locked").mkdir(parents=True)
    (folder / "a.csv").write_text(nem12_text("6100000001"))
    real = os.scandir

    def scandir(path):  # the tests run as root, which may list any folder: refuse one here
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied")
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    entries = local_month_entries(folder)
    assert [Path(s).name for _, s in entries.files] == ["a.csv"]
    assert [(Path(u.source).name, u.code, u.reason) for u in entries.unread] == [
        ("locked", "unreadable_entry", "folder cannot be listed: Permission denied")
    ]


def test_s3_lists_the_month_like_the_local_folder(s3_bucket, tmp_path, monkeypatch):
    endpoint, bucket, s3 = s3_bucket
    s3.put_object(Bucket=bucket, Key="in/2026-10/a.csv", Body=nem12_text("6100000001").encode())
    s3.put_object(Bucket=bucket, Key="in/2026-10/b.csv.gz", Body=gzip.compress(nem12_text("6100000002").encode()))
    s3.put_object(Bucket=bucket, Key="in/2026-10/sub/", Body=b"")  # a folder marker
    s3.put_object(Bucket=bucket, Key="in/2026-10/sub/d.csv", Body=nem12_text("6100000004").encode())
    s3.put_object(Bucket=bucket, Key="in/2026-10/locked.csv", Body=nem12_text("6100000007").encode())
    resource = MeterDataResource(location=f"s3://{bucket}/in", endpoint_url=endpoint, cache_dir=str(tmp_path / "c"))
    client = resource.s3_client()

    class Refusing:  # an object S3 will not hand over (permissions, an archived storage class)
        def __getattr__(self, name):
            return getattr(client, name)

        def download_file(self, b, key, target):
            if key.endswith("locked.csv"):
                from botocore.exceptions import ClientError

                raise ClientError({"Error": {"Code": "403", "Message": "Forbidden"}}, "HeadObject")
            return client.download_file(b, key, target)

    monkeypatch.setattr(MeterDataResource, "s3_client", lambda self: Refusing())
    entries = resource.month_entries("2026-10")
    assert [s for _, s in entries.files] == [
        f"s3://{bucket}/in/2026-10/a.csv",
        f"s3://{bucket}/in/2026-10/b.csv.gz",
        f"s3://{bucket}/in/2026-10/sub/d.csv",
    ]
    assert [(u.source, u.code) for u in entries.unread] == [
        (f"s3://{bucket}/in/2026-10/locked.csv", "unreadable_entry")
    ]
    assert entries.unread[0].reason.startswith("cannot be fetched from S3: An error occurred (403)")
    # the same folder on disk gives the same files, by the same relative names
    local = tmp_path / "local" / "2026-10"
    (local / "sub").mkdir(parents=True)
    for path, source in entries.files:
        (local / source.split("/2026-10/")[1]).write_bytes(path.read_bytes())
    on_disk = MeterDataResource(location=str(tmp_path / "local")).month_entries("2026-10")
    assert [s.split("/2026-10/")[1] for _, s in on_disk.files] == [s.split("/2026-10/")[1] for _, s in entries.files]


# --------------------------------------------------------------------------------------------
# Compressed deliveries


def test_a_gzip_delivery_reads_as_its_plain_file_on_every_aemo_sample(nem12_samples, tmp_path):
    plain = sorted((nem12_samples / "valid").glob("*.csv"))
    assert plain
    for path in plain:
        packed = tmp_path / f"{path.name}.gz"
        packed.write_bytes(gzip.compress(path.read_bytes()))
        (a,), (b,) = read_nem12(path), read_nem12(packed)
        assert a.days.drop_columns(["source_file"]).equals(b.days.drop_columns(["source_file"])), path.name
        assert [(i.line, i.code) for i in a.issues] == [(i.line, i.code) for i in b.issues]
        assert b.name == str(packed)


def test_a_truncated_gzip_is_rejected_whole_and_stages_nothing(tmp_path):
    data = gzip.compress(nem12_text("6100000001", days=range(1, 32)).encode())
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(data[: len(data) // 2])
    (f,) = read_nem12(path)
    assert f.rejected and f.days.num_rows == 0
    assert [(i.code, i.reason.split(":")[0]) for i in f.issues] == [("corrupt_gzip", "corrupt or truncated gzip file")]
    reads, summary = ingest(tmp_path, [path])
    assert reads.num_rows == 0 and summary.files["rejected"].to_pylist() == [True]


# --------------------------------------------------------------------------------------------
# Creation times


def test_a_delivery_created_after_the_run_cannot_supersede_the_real_ones(tmp_path):
    real = tmp_path / "real.csv"
    real.write_text(nem12_text("6100000001", 0.5, created="202611020930"))
    future = tmp_path / "future.csv"
    future.write_text(nem12_text("6100000001", 1.0, created="203001010000"))
    reads, summary = ingest(tmp_path, [real, future])
    assert reads["source_file"].to_pylist() == [str(real)] * 2
    assert {v for day in reads["values"].to_pylist() for v in day} == {0.5}
    rows = summary.quarantine.to_pylist()
    assert [(r["source_file"], r["severity"], r["code"]) for r in rows] == [
        (str(future), "file_rejected", "created_in_future")
    ]
    assert rows[0]["reason"] == (
        "100 header creation time 2030-01-01 00:00 is after this run (2026-12-06 15:00 NEM time): as the latest "
        "delivery it would supersede every other delivery of its register-days; not loaded"
    )
    log = {
        Path(r["source_file"]).name: (r["created"], r["register_days"], r["rejected"])
        for r in summary.files.to_pylist()
    }
    assert log == {"real.csv": ("202611020930", 2, False), "future.csv": ("203001010000", 0, True)}
    # The rule is what stops it: run in 2030, the same file is the latest delivery and wins.
    later, summary = ingest(tmp_path / "2030", [real, future], as_at=datetime(2030, 6, 1, tzinfo=UTC))
    assert later["source_file"].to_pylist() == [str(future)] * 2
    assert {r["code"] for r in summary.quarantine.to_pylist()} == {"superseded"}


def test_a_creation_time_within_the_grace_or_unreadable(tmp_path):
    soon = tmp_path / "soon.csv"  # an hour ahead of the run: a provider's daylight-saving clock
    soon.write_text(nem12_text("6100000001", created=f"{RUN.astimezone(timezone(timedelta(hours=11))):%Y%m%d%H%M}"))
    bad = tmp_path / "bad.csv"  # sorts after every real time: it would win every register-day
    bad.write_text(nem12_text("6100000002", created="ABCDEFGHIJKL"))
    seconds = tmp_path / "seconds.csv"  # DateTime14 is a time too
    seconds.write_text(nem12_text("6100000003", created="20261102093015"))
    reads, summary = ingest(tmp_path, [soon, bad, seconds])
    assert sorted(set(reads["nmi"].to_pylist())) == ["6100000001", "6100000003"]
    assert [(Path(r["source_file"]).name, r["code"], r["reason"]) for r in summary.quarantine.to_pylist()] == [
        (
            "bad.csv",
            "bad_created",
            "100 header creation time 'ABCDEFGHIJKL' is not a date and time (YYYYMMDDhhmm): the delivery cannot be "
            "ranked against the others; not loaded",
        )
    ]


# --------------------------------------------------------------------------------------------
# 400 records


def v_day(*ranges: tuple[int, int, str]) -> str:
    day = ",".join(["0.5"] * 48)
    lines = [
        "100,NEM12,202611020930,TESTMDP,BUARETAIL",
        "200,6100000001,E1,1,E1,N1,M1,kWh,30,",
        f"300,20261001,{day},V,,,20261102093000,",
    ]
    lines += [f"400,{a},{b},{q},{'' if q == 'A' else '76'}," for a, b, q in ranges]
    lines += [f"300,20261002,{day},V,,,20261102093000,", "400,1,24,A,,", "400,25,48,S14,76,", "900"]
    return "\n".join(lines) + "\n"


def test_overlapping_400_ranges_quarantine_the_day_naming_both():
    f = read_nem12_bytes(v_day((1, 20, "A"), (15, 48, "S14")).encode(), "overlap.csv")
    assert [str(d) for d in f.days["read_date"].to_pylist()] == ["2026-10-02"]  # the other V day loads
    assert [(i.line, i.severity, i.code, i.read_date) for i in f.issues] == [
        (5, "record_quarantined", "bad_400", "20261001")
    ]
    assert f.issues[0].reason == (
        "400 records overlap: intervals 15-48 (S14) and 1-20 (A) at line 4 both set intervals 15-20: the quality "
        "of those intervals is ambiguous"
    )
    # the same record twice is an overlap too; ranges that meet without overlapping are not
    twice = read_nem12_bytes(v_day((1, 24, "A"), (25, 48, "F52"), (25, 48, "F52")).encode(), "twice.csv")
    assert [i.code for i in twice.issues] == ["bad_400"] and twice.days.num_rows == 1
    meet = read_nem12_bytes(v_day((1, 20, "A"), (21, 48, "S14")).encode(), "meet.csv")
    assert meet.issues == [] and meet.days.num_rows == 2


# --------------------------------------------------------------------------------------------
# Line ends


def _read_all(path: Path):
    out = []
    for stream in open_nem12(path):
        tables = [t for t in stream.chunks() if t.num_rows]
        out.append((pa.concat_tables(tables) if tables else None, [(i.line, i.code, i.reason) for i in stream.issues]))
    return out


@pytest.mark.parametrize("block", [7, 64, 333, 8 << 20])
def test_a_cr_only_file_reads_as_its_lf_file(tmp_path, monkeypatch, block, nem12_samples):
    monkeypatch.setattr(reader, "_READ_BLOCK", block)  # line ends cut across blocks
    texts = [nem12_text("6100000001", days=range(1, 11)), v_day((1, 20, "A"), (15, 48, "S14"))]
    texts += [p.read_text() for p in sorted((nem12_samples / "valid").glob("*.csv"))]
    for k, text in enumerate(texts):
        lf = text.replace("\r\n", "\n")
        (tmp_path / "lf.csv").write_bytes(lf.encode())
        (tmp_path / "cr.csv").write_bytes(lf.replace("\n", "\r").encode())
        (tmp_path / "crlf.csv").write_bytes(lf.replace("\n", "\r\n").encode())
        want = _read_all(tmp_path / "lf.csv")
        assert want[0][0] is not None, k
        for name in ("cr.csv", "crlf.csv"):
            got = _read_all(tmp_path / name)
            assert len(got) == len(want)
            for (a, ia), (b, ib) in zip(want, got):
                assert a.drop_columns(["source_file"]).equals(b.drop_columns(["source_file"])), (k, name)
                assert [x[:2] for x in ia] == [x[:2] for x in ib], (k, name)
                assert not any(x[1] == "missing_900" for x in ib)


def test_a_lf_file_keeps_its_stray_carriage_returns_out_of_the_lines():
    # The fast path is unchanged: in a file of \n (or \r\n) line ends a \r anywhere is dropped.
    text = nem12_text("6100000001").replace("\n", "\r\r\n")
    f = read_nem12_bytes(text.encode(), "crcrlf.csv")
    assert f.issues == [] and f.days["line"].to_pylist() == [3, 4]


# --------------------------------------------------------------------------------------------
# A register's days: its meter's and its own dates


def exchange_core(old_end: date, new_start: date) -> dict[str, pa.Table]:
    """Supply point 1 (NMI 6100000001): meter 1 (register 1, E1) removed on ``old_end``, meter 2
    (register 2, E1, the same channel) installed on ``new_start``. Supply point 2: a meter whose
    register detail starts on 10 October."""
    t = pa.Table.from_pylist
    return {
        "Utility": t(
            [
                {
                    "id": u,
                    "identifier": f"610000000{u}",
                    "utility_network_id": 1,
                    "cust_class_code": "RESIDENTIAL",
                    "jurisdiction_id": 1,
                    "service_type_id": 1,
                }
                for u in (1, 2)
            ]
        ),
        "Meter": t(
            [
                {"id": 1, "utility_id": 1, "serial": "OLD", "start_date": date(2015, 1, 1), "end_date": old_end},
                {"id": 2, "utility_id": 1, "serial": "NEW", "start_date": new_start, "end_date": None},
                {"id": 3, "utility_id": 2, "serial": "LATE", "start_date": date(2015, 1, 1), "end_date": None},
            ]
        )
        .append_column("meter_installation_type", pa.array(["COMMS4"] * 3))
        .append_column("pressure_correction_factor", pa.array([None] * 3, pa.float64())),
        "MeterRegister": t(
            [
                {
                    "id": r,
                    "meter_id": r,
                    "register_id": "E1",
                    "suffix_id": "E1",
                    "direction_indicator": "I",
                    "controlled_load": 0,
                    "time_class": "ANYTIME",
                    "uom": "KWH",
                    "dial_digits": 5,
                    "interval_length": 30,
                }
                for r in (1, 2, 3)
            ]
        ),
        "MeterRegisterDetail": t(
            [
                {"id": 1, "meter_register_id": 1, "status": "C", "start_date": date(2015, 1, 1), "end_date": None},
                {"id": 2, "meter_register_id": 2, "status": "C", "start_date": new_start, "end_date": None},
                {"id": 3, "meter_register_id": 3, "status": "C", "start_date": date(2026, 10, 10), "end_date": None},
            ]
        ),
        "Jurisdiction": t([{"id": 1, "name": "NSW"}]),
        "ServiceType": t([{"id": 1, "name": "ELECTRICITY"}]),
        "MarketPayloadMapping": t([{"id": 1, "market_tag": "Solar", "market_value": "B1", "value": "YES"}]),
        "UtilityDetail": t(
            [
                {
                    "id": 1,
                    "utility_id": 1,
                    "utility_status": "A",
                    "utility_tni_id": 1,
                    "start_date": date(2015, 1, 1),
                    "end_date": None,
                }
            ]
        ),
        "UtilityTni": t([{"id": 1, "name": "NSYD"}]),
    }


def october(*utilities: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "account_id": [100 + u for u in utilities],
            "utility_id": list(utilities),
            "year_mnth": pd.Timestamp(MONTH),
            "first_day": date(2026, 10, 1),
            "last_day": date(2026, 10, 31),
        }
    )


@pytest.mark.parametrize(
    "old_end", [date(2026, 10, 14), date(2026, 10, 15)], ids=["removed the day before", "removed that day"]
)
def test_a_mid_month_meter_exchange_gives_each_register_its_own_days(tmp_path, old_end):
    registers = meter_registers(exchange_core(old_end, date(2026, 10, 15)), date(2025, 11, 1), date(2026, 10, 31))
    span = {r.register_id: (r.active_from, r.active_to) for r in registers.itertuples()}
    # the exchange day is the new register's, even when CORE has the old meter end on it
    assert span == {
        1: (date(2015, 1, 1), date(2026, 10, 14)),
        2: (date(2026, 10, 15), None),
        3: (date(2026, 10, 10), None),
    }
    days = register_days(october(1, 2), registers[["register_id", "utility_id", "active_from", "active_to"]])
    by_register = days.groupby("register_id")["date"].agg(["min", "max", "size"])
    assert by_register.to_dict("index") == {
        1: {"min": pd.Timestamp("2026-10-01"), "max": pd.Timestamp("2026-10-14"), "size": 14},
        2: {"min": pd.Timestamp("2026-10-15"), "max": pd.Timestamp("2026-10-31"), "size": 17},
        3: {"min": pd.Timestamp("2026-10-10"), "max": pd.Timestamp("2026-10-31"), "size": 22},
    }

    # The month's meter data for the channel, read as delivered (one NMI and suffix all month).
    path = tmp_path / "month.csv"
    path.write_text(nem12_text("6100000001", days=range(1, 32)))
    reads, _ = ingest(tmp_path, [path])
    # unbilled_consumption's match: every day of both registers has its data (it used to be a
    # no_interval_data exception for every day of one of them)
    ex = register_days(
        october(1), registers[["register_id", "utility_id", "nmi", "suffix", "uom", "active_from", "active_to"]]
    )
    ex = ex.assign(stream_type="PRIMARY")
    out, found = streamed_interval_quantities(ex, np.full(len(ex), -1), TimeOfUse({}, {}), [reads])
    assert found.all()
    assert out.groupby("register_id")["quantity"].sum().to_dict() == {1: 14 * 24.0, 2: 17 * 24.0}
    # unbounded, as before: every day for both registers, half of them without data
    unbounded = register_days(october(1), registers[["register_id", "utility_id", "nmi", "suffix", "uom"]])
    _, found_before = streamed_interval_quantities(
        unbounded.assign(stream_type="PRIMARY"), np.full(len(unbounded), -1), TimeOfUse({}, {}), [reads]
    )
    assert (~found_before).sum() == 31

    # The statistics give each day's data to the register installed on it, so neither register
    # has a day to estimate.
    interval = registers[registers["utility_id"] == 1].reset_index(drop=True)
    interval["segment_index"] = 0
    history_pass = prof.HistoryPass(interval, 1, prof.Window(MONTH, date(2026, 10, 31)))
    history_pass.add(reads)
    metered = history_pass.finish().register_days
    assert metered.group_by("register_id").aggregate([("read_date", "count")]).sort_by("register_id").to_pylist() == [
        {"register_id": 1, "read_date_count": 14},
        {"register_id": 2, "read_date_count": 17},
    ]
    missing = missing_register_days(october(1), interval, metered.to_pandas())
    assert missing.empty


def test_days_no_register_is_installed_on_are_named():
    # Supply point 1's old meter was removed on 20 October and nothing replaced it in CORE.
    core = exchange_core(date(2026, 10, 20), date(2027, 1, 1))
    registers = meter_registers(core, date(2025, 11, 1), date(2026, 10, 31))
    days, uncovered = registers_on_days(
        october(1, 2), registers[["register_id", "utility_id", "active_from", "active_to"]]
    )
    assert days[days["utility_id"] == 1]["date"].max() == pd.Timestamp("2026-10-20")
    assert sorted(set(uncovered["utility_id"])) == [1, 2]
    rows = no_installed_register_exceptions(uncovered).sort_values("utility_id").to_dict("records")
    assert [(r["account_id"], r["utility_id"], r["register_id"], r["code"]) for r in rows] == [
        (101, 1, None, "no_register_installed"),
        (102, 2, None, "no_register_installed"),
    ]
    assert rows[0]["reason"] == (
        "no meter register of the supply point is installed on 11 unbilled day(s), 2026-10-21 to 2026-10-31 "
        "(CORE Meter and MeterRegisterDetail dates): their consumption is not accrued"
    )
    assert rows[1]["reason"].startswith(
        "no meter register of the supply point is installed on 9 unbilled day(s), 2026-10-01 to 2026-10-09"
    )
