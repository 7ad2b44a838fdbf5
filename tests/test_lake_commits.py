"""The lake's Delta commits on S3 (a moto server over HTTP): a crash at each point of a commit
leaves readers the old month or the new one whole, never a mix; re-runs are idempotent; older
versions stay readable; the export manifest names the versions it read.

The faults on the wire come from a small proxy between the writer and moto that refuses, or
forwards and then loses the answer to, the put of the next log entry (the commit point)."""

from __future__ import annotations

import http.client
import os
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pyarrow as pa
import pytest
from support import PARTITION

from bua_assets.lake import Lake

NEXT = "2026-11-01"


class LogPutFaults:
    """A proxy to moto that fails the next ``fail`` PUTs of a Delta log entry: ``"refuse"`` answers
    403 without forwarding (the put never lands), ``"lose_answer"`` forwards it and then answers 500
    (it lands, the writer hears it failed)."""

    def __init__(self, target: str):  # noqa: C901 - a test proxy: one handler per fault it injects
        self.target = target.removeprefix("http://")
        self.mode: str | None = None
        self.failed: list[str] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while size := int(self.rfile.readline().split(b";")[0], 16):
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                    self.rfile.readline()
                    return b"".join(chunks)
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _forward(self) -> None:
                body = self._body()
                is_log_put = self.command == "PUT" and "/_delta_log/" in self.path and self.path.endswith(".json")
                if is_log_put and proxy.mode == "refuse":
                    proxy.failed.append(self.path)
                    return self._answer(403, b"<Error><Code>AccessDenied</Code><Message>injected</Message></Error>")
                conn = http.client.HTTPConnection(proxy.target, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "transfer-encoding"}
                headers["Content-Length"] = str(len(body))
                conn.request(self.command, self.path, body=body, headers=headers)
                reply = conn.getresponse()
                data = reply.read()
                if is_log_put and proxy.mode == "lose_answer" and reply.status == 200:
                    proxy.failed.append(self.path)
                    return self._answer(500, b"<Error><Code>InternalError</Code><Message>injected</Message></Error>")
                self.send_response(reply.status)
                for k, v in reply.getheaders():
                    if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            def _answer(self, status: int, data: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def lakes(s3_bucket):
    """(writer lake through the fault proxy, reader lake straight on moto, proxy)."""
    endpoint, bucket, _ = s3_bucket
    proxy = LogPutFaults(endpoint)
    base = f"s3://{bucket}/lake"
    yield Lake(base, s3_endpoint_url=proxy.url), Lake(base, s3_endpoint_url=endpoint), proxy
    proxy.server.shutdown()


def write_month(lake: Lake, month: str, x: list[int], y: list[str]) -> None:
    with lake.partition_writer("demo", month) as w:
        w.write("a", pa.table({"x": x}))
        w.write("b", pa.table({"y": y}))
        w.write_file("notes/readme.txt", f"x={x}".encode())


def month_of(lake: Lake, month: str) -> tuple[list, list, bytes]:
    location = lake.file_location("demo", month, "notes/readme.txt")
    with lake.filesystem.open_input_stream(location) as f:
        note = f.read()
    return (
        lake.read("demo", month, "a").column("x").to_pylist(),
        lake.read("demo", month, "b").column("y").to_pylist(),
        note,
    )


OLD = ([1, 2, 3], ["p", "q"], b"x=[1, 2, 3]")
NEW = ([7], ["z"], b"x=[7]")


def test_a_failure_after_the_files_are_written_and_before_the_commit_keeps_the_old_month(lakes, monkeypatch):
    writer, reader, _ = lakes
    write_month(writer, PARTITION, *OLD[:2])

    def crash(*args, **kwargs):
        raise ConnectionError("the pod died before the log entry was put")

    monkeypatch.setattr(Lake, "commit_partition", crash)
    with pytest.raises(ConnectionError):
        write_month(writer, PARTITION, *NEW[:2])
    monkeypatch.undo()
    assert month_of(reader, PARTITION) == OLD
    # The new files are in the table's folder, but no version names them: nobody reads them.
    assert len(reader.files("demo", PARTITION, "a")) == 1


def test_a_refused_log_put_keeps_the_old_month(lakes):
    writer, reader, proxy = lakes
    write_month(writer, PARTITION, *OLD[:2])
    proxy.mode = "refuse"
    with pytest.raises(Exception, match=r"(?i)403|forbidden|denied"):
        write_month(writer, PARTITION, *NEW[:2])
    assert proxy.failed, "the fault was never hit: the commit did not go through a log put"
    assert month_of(reader, PARTITION) == OLD
    proxy.mode = None
    write_month(writer, PARTITION, *NEW[:2])  # the retry
    assert month_of(reader, PARTITION) == NEW


def test_a_log_put_that_lands_but_whose_answer_is_lost_leaves_a_whole_new_dataset(lakes):
    """The writer hears a failure, yet the commit landed: what it names must still be there
    (the writer deletes nothing once it started committing), and each dataset is old or new whole."""
    writer, reader, proxy = lakes
    write_month(writer, PARTITION, *OLD[:2])
    proxy.mode = "lose_answer"
    with pytest.raises(Exception):  # noqa: B017 - whatever delta-rs makes of a 500 on the commit
        write_month(writer, PARTITION, *NEW[:2])
    assert proxy.failed
    x, y, note = month_of(reader, PARTITION)  # every file a version names can be read
    assert x in (OLD[0], NEW[0]) and y in (OLD[1], NEW[1]) and note in (OLD[2], NEW[2])
    proxy.mode = None
    write_month(writer, PARTITION, *NEW[:2])
    assert month_of(reader, PARTITION) == NEW


def test_each_dataset_is_old_or_new_whenever_a_reader_looks_during_a_rewrite(lakes):
    writer, reader, _ = lakes
    write_month(writer, PARTITION, *OLD[:2])
    seen: list[tuple] = []
    done = threading.Event()

    def read_continuously():
        while not done.is_set():
            seen.append(
                (
                    reader.read("demo", PARTITION, "a").column("x").to_pylist(),
                    reader.read("demo", PARTITION, "b").column("y").to_pylist(),
                )
            )

    thread = threading.Thread(target=read_continuously)
    thread.start()
    try:
        for _ in range(3):
            write_month(writer, PARTITION, *NEW[:2])
            write_month(writer, PARTITION, *OLD[:2])
    finally:
        done.set()
        thread.join()
    assert seen
    assert all(x in (OLD[0], NEW[0]) and y in (OLD[1], NEW[1]) for x, y in seen)


def test_concurrent_writers_of_one_month_leave_one_of_them_whole(lakes):
    writer, reader, _ = lakes
    write_month(writer, PARTITION, *OLD[:2])
    errors: list[BaseException] = []
    payloads = [([10 + i] * (i + 1), [f"w{i}"]) for i in range(3)]

    def write(i: int) -> None:
        try:
            write_month(Lake(writer.base, s3_endpoint_url=writer.s3_endpoint_url), PARTITION, *payloads[i])
        except Exception as e:  # noqa: BLE001 - a writer that lost the race may be told so
            errors.append(e)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(errors) < 3, errors
    x = reader.read("demo", PARTITION, "a").column("x").to_pylist()
    assert x in [p[0] for p in payloads]  # one writer's rows, never two writers' (or none)
    assert len(reader.files("demo", PARTITION, "a")) == 1


def test_concurrent_writers_of_different_months_both_land(lakes):
    writer, reader, _ = lakes
    errors: list[BaseException] = []

    def write(month: str, x: list[int]) -> None:
        try:
            write_month(Lake(writer.base, s3_endpoint_url=writer.s3_endpoint_url), month, x, ["m"])
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=write, args=(m, [i])) for i, m in enumerate((PARTITION, NEXT))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert reader.read("demo", PARTITION, "a").column("x").to_pylist() == [0]
    assert reader.read("demo", NEXT, "a").column("x").to_pylist() == [1]


def test_rematerialising_is_idempotent_and_older_versions_stay_readable(lakes):
    writer, reader, _ = lakes
    write_month(writer, PARTITION, *OLD[:2])
    write_month(writer, NEXT, [5], ["n"])
    first = reader.version("demo", "a")
    write_month(writer, PARTITION, *NEW[:2])
    write_month(writer, PARTITION, *NEW[:2])
    assert month_of(reader, PARTITION) == NEW  # no duplicated rows, one file per month
    assert len(reader.files("demo", PARTITION, "a")) == 1
    assert reader.rows("demo", PARTITION, "a") == 1
    assert reader.version("demo", "a") == first + 2
    assert reader.read("demo", PARTITION, "a", version=first).column("x").to_pylist() == OLD[0]
    assert reader.read("demo", NEXT, "a").column("x").to_pylist() == [5]  # the other month untouched
    # Vacuum inside the audit period deletes nothing a version of the period needs.
    reader.vacuum()
    assert reader.read("demo", PARTITION, "a", version=first).column("x").to_pylist() == OLD[0]
    assert month_of(reader, PARTITION) == NEW


def test_a_month_rewritten_without_a_dataset_drops_it_and_its_files(lakes):
    writer, reader, _ = lakes
    write_month(writer, PARTITION, *OLD[:2])
    with writer.partition_writer("demo", PARTITION) as w:
        w.write("a", pa.table({"x": [8]}))
    assert reader.datasets("demo", PARTITION) == ["a"]
    assert reader.file_locations("demo", PARTITION) == {}
    assert reader.read("demo", PARTITION, "b", version=0).column("y").to_pylist() == OLD[1]
    with pytest.raises(FileNotFoundError, match="materialise demo"):
        reader.read("demo", PARTITION, "b")


def test_reserved_names_are_not_datasets(tmp_path):
    lake = Lake(str(tmp_path))
    with pytest.raises(ValueError, match="reserved"), lake.partition_writer("demo", PARTITION) as w:
        w.write("_files", pa.table({"x": [1]}))
    assert lake.tables("demo") == []


def test_vacuum_deletes_superseded_files_folders_only_past_the_audit_period(tmp_path):
    lake = Lake(str(tmp_path), retention_days=30)
    write_month(lake, PARTITION, *OLD[:2])
    first = lake.file_location("demo", PARTITION, "notes/readme.txt")
    write_month(lake, PARTITION, *NEW[:2])
    current = lake.file_location("demo", PARTITION, "notes/readme.txt")
    lake.vacuum()  # today: the replaced folder is still in the period
    assert os.path.exists(first)
    lake.vacuum(now=datetime.now(UTC) + timedelta(days=31))
    assert not os.path.exists(first)
    assert month_of(lake, PARTITION) == NEW and os.path.exists(current)


def test_the_vacuum_job_runs_on_the_configured_lake_and_keeps_the_period(tmp_path):
    from bua_assets.jobs import bua_lake_vacuum
    from bua_assets.resources import LakeResource

    lake = Lake(str(tmp_path), retention_days=7)
    write_month(lake, PARTITION, *OLD[:2])
    write_month(lake, PARTITION, *NEW[:2])
    result = bua_lake_vacuum.execute_in_process(resources={"lake": LakeResource(base=str(tmp_path), retention_days=7)})
    assert result.success
    assert result.output_for_node("vacuum_lake") == {}  # everything is inside the 7 days
    assert lake.read("demo", PARTITION, "a", version=0).column("x").to_pylist() == OLD[0]
    # The tables now carry the period, so Delta's own log cleanup keeps it too.
    config = lake.table("demo", "a").metadata().configuration  # type: ignore[union-attr]
    assert config["delta.logRetentionDuration"] == "interval 7 days"


def test_the_retention_comes_from_the_environment(monkeypatch):
    from bua_assets.definitions import build_resources

    monkeypatch.setenv("BUA_LAKE_RETENTION_DAYS", "30")
    assert build_resources()["lake"].lake().retention_days == 30
    monkeypatch.delenv("BUA_LAKE_RETENTION_DAYS")
    assert build_resources()["lake"].lake().retention_days == 90
    with pytest.raises(ValueError, match="at least 1 day"):
        Lake("/tmp/unused-lake", retention_days=0)


def test_a_crash_between_two_datasets_commits_leaves_the_asset_named_dataset_old(lakes, monkeypatch):
    """Commits are per table: the documented window. Each dataset stays whole, and the dataset
    named like the asset (what "is the month done" checks) is committed last, so it still says old."""
    writer, reader, _ = lakes

    def month(x: int) -> None:
        with writer.partition_writer("demo", PARTITION) as w:
            w.write("demo", pa.table({"x": [x]}))
            w.write("a", pa.table({"x": [x, x]}))

    month(1)
    real, calls = Lake.commit_partition, []

    def second_commit_dies(self, *args, **kwargs):
        calls.append(args[1])
        if len(calls) == 2:
            raise ConnectionError("the pod died between two commits")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Lake, "commit_partition", second_commit_dies)
    with pytest.raises(ConnectionError):
        month(2)
    monkeypatch.undo()
    assert calls == ["a", "demo"]
    assert reader.read("demo", PARTITION, "a").column("x").to_pylist() == [2, 2]
    assert reader.read("demo", PARTITION, "demo").column("x").to_pylist() == [1]
    month(2)  # the retry
    assert reader.read("demo", PARTITION, "demo").column("x").to_pylist() == [2]


def test_vacuum_deletes_a_crashed_commits_files_once_past_the_period(tmp_path, monkeypatch):
    lake = Lake(str(tmp_path), retention_days=30)
    write_month(lake, PARTITION, *OLD[:2])

    def crash(*args, **kwargs):
        raise ConnectionError("died before the log put")

    monkeypatch.setattr(Lake, "commit_partition", crash)
    with pytest.raises(ConnectionError):
        write_month(lake, PARTITION, *NEW[:2])
    monkeypatch.undo()
    (current,) = lake.files("demo", PARTITION, "a")
    orphans = [str(p) for p in (tmp_path / "demo" / "a").rglob("*.parquet") if str(p) != current]
    assert len(orphans) == 1  # written, never named by a version
    lake.vacuum()
    assert os.path.exists(orphans[0])  # inside the period: a writer may still be about to commit it
    long_ago = (datetime.now(UTC) - timedelta(days=31)).timestamp()
    os.utime(orphans[0], (long_ago, long_ago))
    lake.vacuum()
    assert not os.path.exists(orphans[0])
    assert month_of(lake, PARTITION) == OLD  # the current version and its files untouched
