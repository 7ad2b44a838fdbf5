"""A vectorised reader for AEMO MDFF NEM12 interval meter data files.

Structure (100/200/300/400/500/900 records) is walked once per *record*; the interval
values of every 300 record are parsed in bulk by Arrow's CSV parser, one batch per interval
length, so no Python code ever touches an individual interval value.

The file is streamed (:func:`open_nem12`): read in large byte blocks cut at newlines and parsed
in chunks of register-days, so memory is bounded by a chunk, not by the file.
:func:`read_nem12` collects the chunks for callers that want the whole file.

The reader is faithful: values and units are returned exactly as the file states them (unit
conversion, de-duplication across files and quarantine policy are the pipeline's job). Problems
never raise out of :func:`read_nem12` unless ``strict=True``; each becomes a :class:`Nem12Issue`
naming the file and line:

- ``file_rejected``: nothing from the file is returned (no 100 header, not NEM12, no 900
  end record, data after it, empty, not UTF-8, unreadable, corrupt zip or gzip, a compression
  other than gzip and zip). A partial file is
  never loaded: when streaming, a consumer discards the chunks of a stream that ends rejected.
- ``record_quarantined``: one register-day (or a whole 200 block) is left out, with the reason.
  Besides format errors, a register-day is left out when an interval value cannot be a meter
  reading: negative, not finite (``inf``, ``-inf``, ``nan``), beyond the register's physical
  ceiling for its interval length (``max_demand_kw`` x interval length, in the file's unit, when
  the caller sets one: the pipeline does, from its configuration; the register's own peaks judge
  what is below it, in the ingest), or
  blank in an interval of actual (A) quality. The issue names the first such interval; the
  pipeline then treats the day as missing (estimated), so one bad value never undercounts or
  blocks the month.
- ``warning``: data is returned, but something is worth knowing (unknown unit, 400 records on a
  day whose quality is not V, unknown record indicator).
"""

from __future__ import annotations

import codecs
import gzip
import io
import zipfile
import zlib
from collections.abc import Callable, Generator, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import BinaryIO, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

MINUTES_PER_DAY = 1440
VALID_INTERVAL_LENGTHS = (1, 5, 10, 15, 30)
QUALITY_FLAGS = frozenset("AEFNSV")
_NAN_TEXTS = ["nan", "-nan", "+nan"]  # a NaN written as text: a non-finite value, not a non-number
# Multiplier from a file's unit to kWh (active energy) or kVArh (reactive energy).
ENERGY_UNITS = {"wh": 0.001, "kwh": 1.0, "mwh": 1000.0}
REACTIVE_UNITS = {"varh": 0.001, "kvarh": 1.0, "mvarh": 1000.0}
# Fields in a 300 record besides the interval values: indicator, date, quality, reason code,
# reason description, update time, MSATS load time (the last is optional in older files).
_NON_VALUE_FIELDS = 7
_READ_BLOCK = 8 << 20  # bytes read at a time
_MAX_LINE = 64 << 20  # a NEM12 record is at most ~25 kB; a longer "line" is not worth buffering
# The ceiling for the impossible: no single connection point in the NEM draws 2 GW (the largest
# loads, aluminium smelters, are about 1 GW), so a value beyond it (1,000,000 kWh in 30 minutes,
# 166,667 kWh in 5) is not a reading. Below it a register-day is judged against the register's own
# peaks (sql/transform/interval_reads_peaks.sql): a fixed limit low enough to catch a typo on a
# home would quarantine a large site's actual reads (AEMO's examples hold 2.6 MWh half hours).
DEFAULT_MAX_DEMAND_KW = 2_000_000.0
# Compressed deliveries are recognised by their first bytes, whatever the name: gzip and zip are
# read; a file in another compression is named (rejected), never read as text.
_GZIP_MAGIC = b"\x1f\x8b"
_ZIP_MAGIC = b"PK\x03\x04"
_UNSUPPORTED_COMPRESSION = {
    b"BZh": "bzip2",
    b"\xfd7zXZ\x00": "xz",
    b"7z\xbc\xaf\x27\x1c": "7-Zip",
    b"\x28\xb5\x2f\xfd": "Zstandard",
    b"Rar!\x1a\x07": "RAR",
    b"\x1f\x9d": "Unix compress (.Z)",
    b"\x04\x22\x4d\x18": "LZ4",
}

Severity = Literal["file_rejected", "record_quarantined", "warning"]


@dataclass(frozen=True)
class Nem12Issue:
    file: str
    line: int | None
    severity: Severity
    code: str
    reason: str
    nmi: str | None = None
    suffix: str | None = None
    read_date: str | None = None
    interval: int | None = None  # 1-based interval of the day the problem is in, when it is one value

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.reason}"


class Nem12FormatError(ValueError):
    """Raised in strict mode: the first problem found, naming the file and line."""

    def __init__(self, issue: Nem12Issue):
        super().__init__(str(issue))
        self.issue = issue


@dataclass(frozen=True)
class Nem12Header:
    version: str
    created: str  # DateTime12 as written, e.g. 202311010930
    from_participant: str
    to_participant: str


DAY_SCHEMA = pa.schema(
    [
        ("source_file", pa.string()),
        ("line", pa.int32()),
        ("nmi", pa.string()),
        ("nmi_configuration", pa.string()),
        ("register_id", pa.string()),
        ("suffix", pa.string()),
        ("mdm_data_stream", pa.string()),
        ("meter_serial", pa.string()),
        ("uom", pa.string()),
        ("interval_length", pa.int16()),
        ("read_date", pa.date32()),
        ("values", pa.list_(pa.float64())),
        ("quality_method", pa.string()),
        ("reason_code", pa.string()),
        ("reason_description", pa.string()),
        ("update_datetime", pa.string()),
        # per interval, only where the day's 400 records set it (a V day, or 400 records applied
        # to another day); null: every interval has quality_method
        ("interval_quality", pa.list_(pa.string())),
    ]
)


@dataclass
class Nem12File:
    """What one NEM12 file (or one member of a zip) holds: register-day rows and issues."""

    name: str
    header: Nem12Header | None
    days: pa.Table
    issues: list[Nem12Issue] = field(default_factory=list)
    b2b_records: int = 0

    @property
    def rejected(self) -> bool:
        return any(i.severity == "file_rejected" for i in self.issues)


def unit_factor(uom: str) -> tuple[str | None, float | None]:
    """Canonical unit ('kWh' or 'kVArh') and multiplier for a file's unit; (None, None) if unknown."""
    key = (uom or "").strip().lower()
    if key in ENERGY_UNITS:
        return "kWh", ENERGY_UNITS[key]
    if key in REACTIVE_UNITS:
        return "kVArh", REACTIVE_UNITS[key]
    return None, None


def open_nem12(
    path: str | Path,
    *,
    strict: bool = False,
    source: str | None = None,
    chunk_days: int = 20_000,
    max_demand_kw: float | None = None,
) -> Iterator[Nem12Stream]:
    """Stream a NEM12 file, plain, gzipped or zipped: one :class:`Nem12Stream` per file or zip member.

    A stream reads nothing until its :meth:`Nem12Stream.chunks` is iterated, and then holds one
    chunk (about ``chunk_days`` register-days) at a time. A zip's members are CRC-checked first
    (streamed, not held): a corrupt zip yields one rejected stream, so nothing from it is used.
    ``source`` names the file in results and issues (default: the path), e.g. the S3 URI a
    cached copy came from. ``max_demand_kw``: a register-day with an interval above this average
    demand is quarantined (None, the default: no limit, the reader stays faithful to the file; the
    pipeline passes its configured limit, :data:`DEFAULT_MAX_DEMAND_KW` unless set).
    The compression is known by the file's first bytes, not its name: a gzip file (``.csv.gz``)
    is one stream, decompressed as it is read (a corrupt or truncated one is rejected,
    ``corrupt_gzip``); bzip2, xz, 7-Zip, Zstandard, RAR, compress and LZ4 are rejected as
    ``unsupported_compression``.
    """
    path = Path(path)
    name = source or str(path)
    try:
        with open(path, "rb") as fh:
            magic = fh.read(8)
    except OSError as exc:
        yield _rejected_stream(name, "unreadable", f"cannot read file: {exc}", strict)
        return
    packed = next((kind for m, kind in _UNSUPPORTED_COMPRESSION.items() if magic.startswith(m)), None)
    if magic.startswith(_ZIP_MAGIC) or path.suffix.lower() == ".zip":
        yield from _open_zip(path, name, strict, chunk_days, max_demand_kw)
    elif magic.startswith(_GZIP_MAGIC):
        yield Nem12Stream(
            name,
            partial(_open_gzip, path),
            strict=strict,
            chunk_days=chunk_days,
            max_demand_kw=max_demand_kw,
            compression="gzip",
        )
    elif packed:
        yield _rejected_stream(
            name,
            "unsupported_compression",
            f"the file is compressed with {packed}: not read (gzip and zip deliveries are read)",
            strict,
        )
    else:
        yield Nem12Stream(
            name, lambda: open(path, "rb"), strict=strict, chunk_days=chunk_days, max_demand_kw=max_demand_kw
        )


def read_nem12(
    path: str | Path, *, strict: bool = False, source: str | None = None, max_demand_kw: float | None = None
) -> list[Nem12File]:
    """Read a NEM12 file, plain or zipped (every member of a zip is read as its own file), whole.

    Built on :func:`open_nem12`: rows are grouped by interval length within each chunk, in file
    order within a group (a file of up to 20,000 register-days is one chunk).
    """
    return [_collect(stream) for stream in open_nem12(path, strict=strict, source=source, max_demand_kw=max_demand_kw)]


def read_nem12_bytes(data: bytes, name: str, *, strict: bool = False, max_demand_kw: float | None = None) -> Nem12File:
    """Parse the bytes of one NEM12 file. ``name`` is used in every issue."""
    return _collect(Nem12Stream(name, lambda: io.BytesIO(data), strict=strict, max_demand_kw=max_demand_kw))


def _collect(stream: Nem12Stream) -> Nem12File:
    tables = [t for t in stream.chunks() if t.num_rows]
    days = pa.concat_tables(tables) if tables and not stream.rejected else DAY_SCHEMA.empty_table()
    return Nem12File(stream.name, stream.header, days, stream.issues, stream.b2b_records)


def _open_zip(
    path: Path, name: str, strict: bool, chunk_days: int, max_demand_kw: float | None
) -> Iterator[Nem12Stream]:
    try:
        with zipfile.ZipFile(path) as archive:
            members = [m for m in archive.infolist() if not m.is_dir()]
            # Decompress every member once up front (CRC check): a zip whose last member is
            # corrupt must give nothing, and its first members' chunks would already be out.
            for m in members:
                with archive.open(m) as f:
                    while f.read(_READ_BLOCK):
                        pass
    except (zipfile.BadZipFile, EOFError, zlib.error) as exc:
        yield _rejected_stream(name, "corrupt_zip", f"corrupt or truncated zip archive: {exc}", strict)
        return
    if not members:
        yield _rejected_stream(name, "empty_zip", "zip archive has no files", strict)
        return
    for m in members:
        yield Nem12Stream(
            f"{name}!{m.filename}",
            partial(_open_member, path, m),
            strict=strict,
            chunk_days=chunk_days,
            max_demand_kw=max_demand_kw,
        )


@contextmanager
def _open_gzip(path: Path):
    with gzip.open(path, "rb") as f:
        yield f


@contextmanager
def _open_member(path: Path, member: zipfile.ZipInfo):
    with zipfile.ZipFile(path) as archive, archive.open(member) as f:
        yield f


def _rejected_stream(name: str, code: str, reason: str, strict: bool) -> Nem12Stream:
    stream = Nem12Stream(name, None, strict=strict)
    stream._reject(None, code, reason)
    return stream


@dataclass
class _Block:
    """The 200 record that governs the 300/400 records after it."""

    line: int
    nmi: str
    nmi_configuration: str
    register_id: str
    suffix: str
    mdm_data_stream: str
    meter_serial: str
    uom: str
    interval_length: int
    valid: bool


class Nem12Stream:
    """One NEM12 file (or zip member), read as a sequence of :data:`DAY_SCHEMA` tables.

    Iterate :meth:`chunks` once, to the end; only then are ``header``, ``issues``,
    ``b2b_records`` and ``rejected`` final. Some rejections can only be found at the end (no 900
    end record, data after it, bad UTF-8 further on), after chunks were yielded: a consumer
    MUST discard every chunk of a stream that ends ``rejected`` (e.g. stage them and delete
    them). As with :func:`read_nem12`, a rejected stream's issues are just the rejection and its
    header is None. Issues are in file order per chunk: a chunk's 300-record problems follow
    the structural ones (200, 400, unknown records) found up to its end. In strict mode the
    first issue raised is the first found in that order.
    """

    def __init__(
        self,
        name: str,
        opener: Callable[[], AbstractContextManager[BinaryIO]] | None,
        *,
        strict: bool = False,
        chunk_days: int = 20_000,
        max_demand_kw: float | None = None,
        compression: str | None = None,
    ):
        self.name = name
        self.compression = compression  # "gzip": a corrupt stream is named as such
        self.max_demand_kw = max_demand_kw
        self.header: Nem12Header | None = None
        # Who sent the file (the 100 header's from participant), kept when the file is rejected after
        # its header: a truncated delivery is still that provider's (the ingest file log says whose).
        self.sender: str | None = None
        self.issues: list[Nem12Issue] = []
        self.b2b_records = 0
        self._opener = opener
        self._strict = strict
        self._chunk_days = max(1, int(chunk_days))
        self._started = False

    @property
    def rejected(self) -> bool:
        return any(i.severity == "file_rejected" for i in self.issues)

    def chunks(self) -> Generator[pa.Table]:
        """Register-day tables of about ``chunk_days`` rows each, split only before a 200 or
        300 record, so a day's 400 records are always in its chunk."""
        if self._started:
            raise RuntimeError(f"{self.name}: chunks() can be iterated only once")
        self._started = True
        if self._opener is None or self.rejected:
            return
        try:
            with self._opener() as raw:
                yield from self._parse(raw)
        except (zipfile.BadZipFile, EOFError, zlib.error, gzip.BadGzipFile) as exc:
            if self.compression == "gzip":
                self._reject(None, "corrupt_gzip", f"corrupt or truncated gzip file: {exc}")
            else:
                self._reject(None, "corrupt_zip", f"corrupt or truncated zip archive: {exc}")
        except OSError as exc:
            self._reject(None, "unreadable", f"cannot read file: {exc}")

    def __repr__(self) -> str:
        return f"Nem12Stream({self.name!r})"

    def _add(self, line: int | None, severity: Severity, code: str, reason: str, **where) -> None:
        issue = Nem12Issue(self.name, line, severity, code, reason, **where)
        if self._strict:
            raise Nem12FormatError(issue)
        self.issues.append(issue)

    def _reject(self, line: int | None, code: str, reason: str) -> None:
        self._add(line, "file_rejected", code, reason)
        # Nothing from a rejected file is used: drop what was found before, as read_nem12 always did.
        self.issues, self.header, self.b2b_records = self.issues[-1:], None, 0

    def _line_blocks(self, raw: BinaryIO) -> Iterator[tuple[int, list[str]]]:  # noqa: C901 - a byte-level splitter on the hot path; one loop is faster and clearer than helpers
        """The file's lines, a block at a time: (lines before it, lines).

        Lines end in ``\\n`` or ``\\r\\n`` (any ``\\r`` removed: the fast path), or, in a file
        whose first line ends in a lone ``\\r`` (old Mac line ends), in a lone ``\\r``: such a
        file is read with universal newlines (``\\r``, ``\\n`` and ``\\r\\n`` each end a
        line). Blocks are cut
        after a line end, which never falls inside a UTF-8 sequence, and decoded with it so a bad
        sequence before it reports what decoding the whole file did. On bad UTF-8 or an absurdly
        long line the stream is rejected and the blocks stop."""
        done = offset = 0  # lines yielded; bytes decoded (after the BOM, like utf-8-sig counts)
        rest = b""
        first = True
        cr_only: bool | None = None  # known at the first line end: \n (or \r\n), or a lone \r
        while True:
            data = raw.read(_READ_BLOCK)
            if first:
                first = False
                if data.startswith(codecs.BOM_UTF8):
                    data = data[len(codecs.BOM_UTF8) :]
            buf = rest + data if rest else data
            if cr_only is None:  # decided once: does a lone \r end a line before the first \n?
                lf = buf.find(b"\n")
                if b"\r" in (buf[:lf] if lf >= 0 else buf).rstrip(b"\r"):
                    cr_only = True
                elif lf >= 0 or not data:
                    cr_only = False
            if data:
                cut = buf.rfind(b"\n") + 1
                if cr_only:  # or after a lone \r; a \r ending the block waits for a \n that may follow
                    cut = max(cut, buf.rfind(b"\r", cut, len(buf) - 1) + 1)
                if not cut:
                    if len(buf) > _MAX_LINE:
                        self._reject(
                            done + 1, "line_too_long", f"a line longer than {_MAX_LINE >> 20} MiB: not a NEM12 file"
                        )
                        return
                    rest = buf
                    continue
                piece, rest = buf[:cut], buf[cut:]
            else:
                piece, rest = buf, b""
            try:
                text = piece.decode("utf-8")
            except UnicodeDecodeError as exc:
                self._reject(None, "not_text", f"not a UTF-8 text file ({exc.reason} at byte {offset + exc.start})")
                return
            offset += len(piece)
            if cr_only:
                lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
            else:
                lines = text.replace("\r", "").split("\n")
            if data:
                lines.pop()  # the empty text after the block's last newline: the next block goes on
            yield done, lines
            done += len(lines)
            if not data:
                return

    def _parse(self, raw: BinaryIO) -> Iterator[pa.Table]:  # noqa: C901 - the NEM12 record state machine (100/200/300/400/500/900) in one loop: the hot path
        add = self._add
        line_blocks = self._line_blocks(raw)
        for base, lines in line_blocks:  # noqa: B007  (base is read after the loop)
            first = next((j for j, ln in enumerate(lines) if ln.strip()), None)
            if first is not None:
                break
        else:
            if not self.rejected:
                self._reject(None, "empty_file", "file is empty")
            return
        number = base + first + 1
        head = lines[first].split(",")
        if head[0].strip() != "100":
            return self._reject(
                number, "missing_header", f"expected a 100 header record first, found record '{head[0][:10]}'"
            )
        version = head[1].strip().upper() if len(head) > 1 else ""
        if version != "NEM12":
            what = "a NEM13 (accumulation meter) file" if version == "NEM13" else f"version '{version}'"
            return self._reject(number, "not_nem12", f"{what} where NEM12 is expected")
        self.header = Nem12Header("NEM12", _field(head, 2), _field(head, 3), _field(head, 4))
        self.sender = self.header.from_participant or None

        def after_header():
            yield base, lines, first + 1
            for b, ls in line_blocks:
                yield b, ls, 0

        chunk_days = self._chunk_days
        # The chunk: its 200 records (the first may carry over from the previous chunk), the text
        # and line number of each 300 record, its block, and its 400 records by position.
        blocks: list[_Block] = []
        day_text: list[str] = []
        day_no: list[int] = []
        day_block: list[int] = []
        events: dict[int, list[tuple[int, list[str]]]] = {}
        n_blocks = b2b = 0
        end_line = None
        last = number  # the last non-blank line, named by a missing 900
        previous = "100"  # the last record seen: a 400 belongs to the 300 (or 400) just before it
        for base, lines, start in after_header():
            for j in range(start, len(lines)):
                line = lines[j]
                code = line[:3]
                if code == "300" and line[3:4] == ",":
                    previous = "300"
                    if not blocks:
                        add(base + j + 1, "record_quarantined", "orphan_300", "300 record before any 200 record")
                        continue
                    if len(day_text) >= chunk_days:  # split inside a block: carry its 200 record
                        yield _parse_days(
                            _Chunk(self.name, blocks, day_text, day_no, day_block, events, add, self.max_demand_kw)
                        )
                        blocks, day_text, day_no, day_block, events = blocks[-1:], [], [], [], {}
                    day_text.append(line)
                    day_no.append(base + j + 1)
                    day_block.append(len(blocks) - 1)
                    continue
                elif end_line is not None:
                    if line.strip():
                        return self._reject(
                            base + j + 1,
                            "data_after_900",
                            f"record after the 900 end-of-data record at line {end_line} (concatenated files?)",
                        )
                elif not line.strip():
                    continue
                elif code == "400" and line[3:4] == ",":
                    if previous not in ("300", "400") or not day_text:
                        add(
                            base + j + 1,
                            "record_quarantined",
                            "orphan_400",
                            "400 record without a preceding 300 record",
                        )
                    else:
                        events.setdefault(len(day_text) - 1, []).append((base + j + 1, line.split(",")))
                elif code == "200" and line[3:4] == ",":
                    if len(day_text) >= chunk_days:
                        yield _parse_days(
                            _Chunk(self.name, blocks, day_text, day_no, day_block, events, add, self.max_demand_kw)
                        )
                        blocks, day_text, day_no, day_block, events = [], [], [], [], {}
                    blocks.append(_parse_200(line, base + j + 1, add))
                    n_blocks += 1
                elif code == "500" and line[3:4] == ",":
                    b2b += 1
                elif code == "900" and line[3:].strip(", ") == "":
                    end_line = base + j + 1
                else:
                    add(
                        base + j + 1,
                        "warning",
                        "unknown_record",
                        f"record indicator '{line[:10]}' is not a NEM12 record; skipped",
                    )
                previous = code
            for j in range(len(lines) - 1, start - 1, -1):
                if lines[j].strip():
                    last = base + j + 1
                    break
        if self.rejected:  # bad UTF-8 or a runaway line further on
            return
        if end_line is None:
            return self._reject(last, "missing_900", "no 900 end-of-data record: the file may be truncated")
        if day_text:
            yield _parse_days(_Chunk(self.name, blocks, day_text, day_no, day_block, events, add, self.max_demand_kw))
        if not n_blocks:
            add(None, "warning", "no_data", "file has no 200/300 data records")
        self.b2b_records = b2b


def _field(parts: list[str], i: int) -> str:
    return parts[i].strip() if len(parts) > i else ""


def _parse_200(line: str, number: int, add) -> _Block:
    p = line.split(",")
    nmi, suffix = _field(p, 1), _field(p, 4)
    valid = True
    length = 0
    if len(p) < 9:
        add(
            number,
            "record_quarantined",
            "bad_200",
            f"200 record has {len(p)} fields, at least 9 expected; its data is not loaded",
            nmi=nmi or None,
        )
        valid = False
    else:
        try:
            length = int(p[8])
        except ValueError:
            length = -1
        if length not in VALID_INTERVAL_LENGTHS:
            add(
                number,
                "record_quarantined",
                "bad_interval_length",
                f"200 record interval length '{p[8]}' is not one of {VALID_INTERVAL_LENGTHS}; its data is not loaded",
                nmi=nmi,
                suffix=suffix,
            )
            valid = False
        if not nmi or not suffix:
            add(number, "record_quarantined", "bad_200", "200 record has no NMI or NMI suffix; its data is not loaded")
            valid = False
    uom = _field(p, 7)
    if valid and unit_factor(uom)[0] is None:
        add(
            number,
            "warning",
            "unknown_uom",
            f"unknown unit of measure '{uom}' for {nmi} {suffix}",
            nmi=nmi,
            suffix=suffix,
        )
    return _Block(number, nmi, _field(p, 2), _field(p, 3), suffix, _field(p, 5), _field(p, 6), uom, length, valid)


@dataclass(frozen=True)
class _Chunk:
    """One chunk of a file, as :meth:`Nem12Stream._parse` collected it: what its 300 records are
    parsed against. ``day_block[k]`` is the index in ``blocks`` of the 200 record governing 300
    record ``k``; ``events`` holds the 400 records after record ``k`` (line number, fields)."""

    name: str
    blocks: list[_Block]
    day_text: list[str]
    day_no: list[int]
    day_block: list[int]
    events: dict[int, list[tuple[int, list[str]]]]
    add: Callable[..., None]  # Nem12Stream._add: records (or, in strict mode, raises) an issue
    max_demand_kw: float | None = None


def _parse_days(chunk: _Chunk) -> pa.Table:
    """The register-days of one chunk: one Arrow CSV parse per interval length."""
    if not chunk.day_text:
        return DAY_SCHEMA.empty_table()
    blocks = chunk.blocks
    lengths = np.array([b.interval_length if b.valid else 0 for b in blocks], dtype=np.int32)
    block_of_day = np.asarray(chunk.day_block, dtype=np.int64)
    day_len = lengths[block_of_day]
    for k in np.flatnonzero(day_len == 0):
        b = blocks[block_of_day[k]]
        chunk.add(
            chunk.day_no[k],
            "record_quarantined",
            "bad_block",
            f"300 record belongs to the invalid 200 record at line {b.line}",
            nmi=b.nmi or None,
            suffix=b.suffix or None,
        )
    pieces = []
    for length in np.unique(day_len[day_len > 0]):
        positions = np.flatnonzero(day_len == length)
        pieces.append(_parse_group(chunk, int(length), block_of_day, positions))
    pieces = [p for p in pieces if p.num_rows]
    if not pieces:
        return DAY_SCHEMA.empty_table()
    # Grouped by interval length, in file order within each group (the line column keeps lineage).
    return pa.concat_tables(pieces)


def _parse_group(chunk: _Chunk, length: int, block_of_day: np.ndarray, positions: np.ndarray) -> pa.Table:
    """Parse every 300 record of one interval length in one Arrow CSV call, check each register-day
    (the checks quarantine a day, in this order: date and quality method, values, 400 records,
    blank actual intervals) and return the days that pass."""
    texts, keep = _complete_records(chunk, length, block_of_day, positions)
    if not len(keep):
        return DAY_SCHEMA.empty_table()
    group = _read_group(chunk, length, block_of_day, texts, keep)
    if group is None:
        return DAY_SCHEMA.empty_table()
    read_date, flag = _check_date_and_quality(group)
    suspect = _check_values(group)
    methods, interval_quality, detailed = _interval_quality(group, flag)
    if group.blank is not None:
        _check_blank_actual(group, suspect, methods, interval_quality)
    return _day_table(group, read_date, methods, interval_quality, detailed)


def _value_names(n: int) -> list[str]:
    """Column names of a 300 record with ``n`` interval values."""
    return (
        ["indicator", "date"]
        + [f"v{j}" for j in range(n)]
        + ["quality", "reason_code", "reason_description", "update_datetime", "msats_load_datetime"]
    )


def _complete_records(
    chunk: _Chunk, length: int, block_of_day: np.ndarray, positions: np.ndarray
) -> tuple[list[str], np.ndarray]:
    """The 300 records (texts, positions in the chunk) with the field count their 200 record's
    interval length asks for; the others are quarantined. A record without its optional last
    field (MSATS load time) gets an empty one."""
    n = MINUTES_PER_DAY // length
    width = n + _NON_VALUE_FIELDS
    texts = []
    keep = []
    for pos in positions:
        text = chunk.day_text[pos]
        fields = text.count(",") + 1
        if fields == width - 1 and text.split(",", n + 3)[n + 2][:1] in QUALITY_FLAGS:
            text += ","  # MSATSLoadDateTime omitted: allowed
        elif fields != width:
            b = chunk.blocks[block_of_day[pos]]
            got = fields - _NON_VALUE_FIELDS
            chunk.add(
                chunk.day_no[pos],
                "record_quarantined",
                "wrong_value_count",
                f"300 record has {fields} fields ({got} interval values?); the 200 record at line {b.line} "
                f"declares {length}-minute intervals, i.e. {n} values and {width} fields",
                nmi=b.nmi,
                suffix=b.suffix,
                read_date=_field(text.split(",", 2), 1),
            )
            continue
        texts.append(text)
        keep.append(pos)
    return texts, np.asarray(keep)


@dataclass
class _Group:
    """The parsed 300 records of one interval length in a chunk, one row per record, and which
    of them are still good (a check that quarantines a row clears its ``good``)."""

    chunk: _Chunk
    length: int
    keep: np.ndarray  # each row's position in the chunk
    block: np.ndarray  # each row's index in chunk.blocks
    raw: pa.Table  # the non-value fields, as text
    values: np.ndarray  # (rows, intervals) float64; NaN where blank
    blank: np.ndarray | None  # (rows, intervals) bool, where the file left a value empty; None: no blanks
    line_no: np.ndarray = field(init=False)
    dates_text: list[str] = field(init=False)  # the date field as written
    quality: np.ndarray = field(init=False)  # the day's quality method as written (e.g. 'A', 'S14', 'V')
    good: np.ndarray = field(init=False)

    def __post_init__(self):
        self.line_no = np.asarray(self.chunk.day_no, dtype=np.int64)[self.keep]
        self.dates_text = self.raw["date"].to_pylist()
        self.quality = self.raw["quality"].to_numpy(zero_copy_only=False).astype(str)
        self.good = np.ones(len(self.keep), dtype=bool)

    @property
    def intervals(self) -> int:
        return MINUTES_PER_DAY // self.length

    def block_of(self, k: int) -> _Block:
        return self.chunk.blocks[self.block[k]]

    def quarantine(
        self,
        mask: np.ndarray | np.bool_,
        code: str,
        reason_of: Callable[[int], str],
        interval_of: Callable[[int], int | None] = lambda k: None,
    ) -> None:
        """Quarantine the good rows in ``mask``: one issue each, naming the register-day."""
        for k in np.flatnonzero(mask & self.good).tolist():
            b = self.block_of(k)
            self.chunk.add(
                int(self.line_no[k]),
                "record_quarantined",
                code,
                reason_of(k),
                nmi=b.nmi,
                suffix=b.suffix,
                read_date=self.dates_text[k],
                interval=interval_of(k),
            )
        self.good[mask] = False


def _read_group(
    chunk: _Chunk, length: int, block_of_day: np.ndarray, texts: list[str], keep: np.ndarray
) -> _Group | None:
    """Parse the records' fields in one Arrow CSV call (values as float64). If some value is not
    a number, parse again as text and quarantine those records; None if none is left."""
    n = MINUTES_PER_DAY // length
    names = _value_names(n)
    blob = "\n".join(texts).encode()
    read = pacsv.ReadOptions(column_names=names, block_size=1 << 24)
    try:
        raw, values, blank = _read_numbers(blob, names, n, read)
    except pa.ArrowInvalid:
        parsed = _read_as_text(chunk, block_of_day, blob, names, n, read, keep)
        if parsed is None:
            return None
        raw, values, blank, keep = parsed
    return _Group(chunk, length, keep, block_of_day[keep], raw, values, blank)


def _read_numbers(
    blob: bytes, names: list[str], n: int, read: pacsv.ReadOptions
) -> tuple[pa.Table, np.ndarray, np.ndarray | None]:
    """The fast path: every value parses as a float. Raises ArrowInvalid if one does not."""
    string_cols = {c: pa.string() for c in names if not c.startswith("v")}
    # Only an empty field is a blank (null): "nan", "inf" and "-inf" parse as floats and are
    # quarantined later as non-finite, not mistaken for blanks.
    convert = pacsv.ConvertOptions(
        column_types={**string_cols, **{f"v{j}": pa.float64() for j in range(n)}},
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
        null_values=[""],
    )
    raw = pacsv.read_csv(io.BytesIO(blob), read_options=read, convert_options=convert)
    # Stack whole columns (contiguous copies), then view as rows: far faster than column_stack.
    values = np.vstack([raw[f"v{j}"].to_numpy() for j in range(n)]).T
    blank_columns = [j for j in range(n) if raw[f"v{j}"].null_count]
    blank = None
    if blank_columns:  # rare: only then a mask, column by column
        blank = np.zeros(values.shape, dtype=bool)
        for j in blank_columns:
            blank[:, j] = raw[f"v{j}"].is_null().to_numpy(zero_copy_only=False)
    return raw, values, blank


def _read_as_text(
    chunk: _Chunk,
    block_of_day: np.ndarray,
    blob: bytes,
    names: list[str],
    n: int,
    read: pacsv.ReadOptions,
    keep: np.ndarray,
):
    """The slow path (some value is not a number): parse as text, quarantine the records with a
    value that is not a number, and return (raw, values, blank, keep) of the others, or None."""
    convert = pacsv.ConvertOptions(column_types={c: pa.string() for c in names}, strings_can_be_null=False)
    raw = pacsv.read_csv(io.BytesIO(blob), read_options=read, convert_options=convert)
    import pandas as pd

    cols, blanks = [], []
    bad = np.zeros(len(keep), dtype=bool)
    for j in range(n):
        s = raw[f"v{j}"].to_pandas().str.strip()
        num = pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64)
        empty = (s == "").to_numpy()
        bad |= np.isnan(num) & ~empty & ~s.str.lower().isin(_NAN_TEXTS).to_numpy()
        cols.append(num)
        blanks.append(empty)
    values = np.column_stack(cols)
    blank = np.column_stack(blanks)
    for k in np.flatnonzero(bad):
        b = chunk.blocks[block_of_day[keep[k]]]
        chunk.add(
            chunk.day_no[keep[k]],
            "record_quarantined",
            "not_a_number",
            "300 record has an interval value that is not a number",
            nmi=b.nmi,
            suffix=b.suffix,
            read_date=raw["date"][k].as_py(),
        )
    ok = ~bad
    raw, values, blank, keep = raw.filter(pa.array(ok)), values[ok], blank[ok], keep[ok]
    if not len(keep):
        return None
    return raw, values, blank, keep


def _check_date_and_quality(group: _Group) -> tuple[pa.Array, np.ndarray]:
    """Quarantine days whose date is not a YYYYMMDD date or whose quality method is not a
    NEM12 flag; return the parsed dates and each day's quality flag (first letter)."""
    raw, dates_text = group.raw, group.dates_text
    read_date = pc.strptime(raw["date"], format="%Y%m%d", unit="s", error_is_null=True)
    group.quarantine(
        pc.is_null(read_date).to_numpy(zero_copy_only=False),
        "bad_date",
        lambda k: f"300 record interval date '{dates_text[k]}' is not a valid YYYYMMDD date",
    )
    quality = group.quality
    flag = pc.utf8_slice_codeunits(raw["quality"], 0, 1).to_numpy(zero_copy_only=False).astype(str)
    group.quarantine(
        ~np.isin(flag, list(QUALITY_FLAGS)),
        "bad_quality",
        lambda k: f"300 record quality method '{quality[k]}' is not one of A, E, F, N, S, V",
    )
    return read_date, flag


def _first_of(mask: np.ndarray) -> Callable[[int], int]:
    """Row k -> the 1-based interval of the first True in ``mask[k]``."""
    return lambda k: int(np.argmax(mask[k])) + 1


def _check_values(group: _Group) -> np.ndarray:
    """Quarantine days with a value that cannot be a meter reading: not finite, negative, or
    beyond the register's physical maximum. Returns the rows holding a blank, NaN or infinity.

    One reduction per row over the whole group; the per-interval detail is worked out only for
    the few rows a reduction flags. A row sum is not finite exactly when the day holds a blank,
    a NaN or an infinity."""
    values, blank, length = group.values, group.blank, group.length
    with np.errstate(invalid="ignore"):  # inf + -inf
        suspect = np.flatnonzero(~np.isfinite(values.sum(axis=1)))
    not_finite = np.zeros(values.shape, dtype=bool)
    if len(suspect):
        not_finite[suspect] = ~np.isfinite(values[suspect])
        if blank is not None:
            not_finite[suspect] &= ~blank[suspect]
    group.quarantine(
        not_finite.any(axis=1),
        "non_finite_value",
        lambda k: (
            f"interval value '{values[k, np.argmax(not_finite[k])]}' at interval "
            f"{_first_of(not_finite)(k)} is not a finite number"
        ),
        _first_of(not_finite),
    )
    neg = np.fmin.reduce(values, axis=1) < 0  # fmin skips NaN (empty intervals)
    group.quarantine(
        neg,
        "negative_value",
        lambda k: (
            f"negative interval value {values[k][values[k] < 0][0]} at interval {int(np.argmax(values[k] < 0)) + 1}"
        ),
        lambda k: int(np.argmax(values[k] < 0)) + 1,
    )
    max_demand_kw = group.chunk.max_demand_kw
    if max_demand_kw is not None:
        # The register's physical maximum for one interval, in each block's own unit (Wh, kWh, MWh).
        blocks = group.chunk.blocks
        per_unit = np.array([unit_factor(b.uom)[1] or np.nan for b in blocks], dtype=np.float64)
        limit = max_demand_kw * length / 60 / per_unit[group.block]  # NaN (unknown unit) never compares above
        over = np.fmax.reduce(values, axis=1) > limit  # fmax skips NaN
        group.quarantine(
            over,
            "above_maximum",
            lambda k: (
                f"interval value {values[k][values[k] > limit[k]][0]:g} {group.block_of(k).uom} "
                f"at interval {int(np.argmax(values[k] > limit[k])) + 1} is beyond the register's "
                f"physical maximum of {limit[k]:g} {group.block_of(k).uom} per {length}-minute "
                f"interval ({max_demand_kw:g} kW)"
            ),
            lambda k: int(np.argmax(values[k] > limit[k])) + 1,
        )
    return suspect


def _interval_quality(group: _Group, flag: np.ndarray) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Per-interval quality as codes into a small list of methods: the day's method, overridden
    by its 400 records; and which days' 400 records were applied (``detailed``). A day whose 400
    records are malformed, or a V day they do not fully cover (or that has none), is quarantined;
    400 records on a day not of quality V are applied with a warning."""
    n, chunk = group.intervals, group.chunk
    quality = group.quality
    distinct, day_code = np.unique(quality, return_inverse=True)
    methods: list[str] = list(distinct)
    interval_quality = np.repeat(day_code.astype(np.int16)[:, None], n, axis=1)
    detailed = np.zeros(len(quality), dtype=bool)
    row_of_pos = {int(p): k for k, p in enumerate(group.keep)} if chunk.events else {}
    for pos, records in chunk.events.items():
        k = row_of_pos.get(pos)
        if k is None or not group.good[k]:
            continue
        problem = _apply_400(records, n, group.length, flag[k], methods, interval_quality[k])
        if problem is not None:
            b = group.block_of(k)
            chunk.add(
                problem[0],
                "record_quarantined",
                "bad_400",
                problem[1],
                nmi=b.nmi,
                suffix=b.suffix,
                read_date=group.dates_text[k],
            )
            group.good[k] = False
            continue
        detailed[k] = True
        if flag[k] != "V":
            b = group.block_of(k)
            chunk.add(
                records[0][0],
                "warning",
                "400_without_v",
                f"400 records follow a 300 record of quality '{quality[k]}' (expected V); applied",
                nmi=b.nmi,
                suffix=b.suffix,
                read_date=group.dates_text[k],
            )
    for k in np.flatnonzero((flag == "V") & group.good).tolist():
        if group.keep[k] not in chunk.events:
            b = group.block_of(k)
            chunk.add(
                int(group.line_no[k]),
                "record_quarantined",
                "v_without_400",
                "300 record of quality V has no 400 records",
                nmi=b.nmi,
                suffix=b.suffix,
                read_date=group.dates_text[k],
            )
            group.good[k] = False
    return methods, interval_quality, detailed


def _apply_400(
    records: list[tuple[int, list[str]]],
    n: int,
    length: int,
    day_flag: str,
    methods: list[str],
    day_quality: np.ndarray,
) -> tuple[int, str] | None:
    """Apply one day's 400 records to its interval qualities (``day_quality``, codes into
    ``methods``, both updated in place). Returns (line, reason) of the first problem, or None.
    Two records naming the same interval are a problem: which quality holds there (actual, or
    substituted, or null data) is ambiguous, and taking either would be a guess."""
    covered = np.zeros(n, dtype=np.int64)  # which record (index + 1) set each interval; 0: none
    for r, (number, p) in enumerate(records):
        try:
            start, end = int(p[1]), int(p[2])
        except (ValueError, IndexError):
            return number, f"400 record interval range '{','.join(p[1:3])}' is not two whole numbers"
        method = _field(p, 3)
        if not (1 <= start <= end <= n):
            return number, f"400 record intervals {start}-{end} outside 1-{n} for {length}-minute data"
        if method[:1] not in QUALITY_FLAGS or method[:1] == "V":
            return number, f"400 record quality method '{method}' is not a valid interval quality"
        taken = covered[start - 1 : end]
        if taken.any():
            k = int(np.argmax(taken > 0))
            other_line, other = records[int(taken[k]) - 1]
            both = np.flatnonzero(taken == taken[k]) + start
            return number, (
                f"400 records overlap: intervals {start}-{end} ({method}) and {_field(other, 1)}-{_field(other, 2)} "
                f"({_field(other, 3)}) at line {other_line} both set intervals {both[0]}-{both[-1]}: "
                "the quality of those intervals is ambiguous"
            )
        if method not in methods:
            methods.append(method)
        day_quality[start - 1 : end] = methods.index(method)
        covered[start - 1 : end] = r + 1
    if day_flag == "V" and not covered.all():
        missing = np.flatnonzero(covered == 0) + 1
        return records[-1][0], (
            f"400 records of a V-quality day cover {n - len(missing)} of {n} intervals (first uncovered: {missing[0]})"
        )
    return None


def _check_blank_actual(group: _Group, suspect: np.ndarray, methods: list[str], interval_quality: np.ndarray) -> None:
    """A blank interval of actual quality (the day's, or a 400 record's) is a reading that is
    missing: loading the day would undercount it, so the day goes and is estimated."""
    blank = group.blank
    assert blank is not None  # called only for a group with blank intervals
    actual = np.array([m[:1] == "A" for m in methods])
    blank_actual = np.zeros(group.values.shape, dtype=bool)
    blank_actual[suspect] = blank[suspect] & actual[interval_quality[suspect]]
    group.quarantine(
        blank_actual.any(axis=1),
        "blank_actual_value",
        lambda k: f"interval {_first_of(blank_actual)(k)} is blank in an interval of actual (A) quality",
        _first_of(blank_actual),
    )


def _day_table(
    group: _Group, read_date: pa.Array, methods: list[str], interval_quality: np.ndarray, detailed: np.ndarray
) -> pa.Table:
    """The good rows as a :data:`DAY_SCHEMA` table (values as a list column). ``interval_quality``
    is a list only for the days whose 400 records set it, as in the file; null on the others,
    whose every interval has the day's quality_method (most days: not building 48 strings a day
    keeps them cheap to read, store and decode)."""
    n, blocks, raw = group.intervals, group.chunk.blocks, group.raw
    sel = np.flatnonzero(group.good)
    block_rows = pa.array(group.block[sel])

    def attr(field: str) -> pa.Array:  # a 200-record field per day: one small array, then a take
        return pa.array([getattr(b, field) for b in blocks], pa.string()).take(block_rows)

    flat = group.values[sel].reshape(-1)
    offsets = pa.array(np.arange(0, len(sel) * n + 1, n, dtype=np.int32))
    value_list = pa.ListArray.from_arrays(offsets, pa.array(flat, mask=np.isnan(flat)))
    with_400 = detailed[sel]
    quality_offsets = np.concatenate([[0], np.cumsum(np.where(with_400, n, 0))]).astype(np.int32)
    quality_codes = pa.array(methods, pa.string()).take(pa.array(interval_quality[sel][with_400].reshape(-1)))
    quality_list = pa.ListArray.from_arrays(pa.array(quality_offsets), quality_codes, mask=pa.array(~with_400))
    take = pa.array(sel)
    return pa.table(
        {
            "source_file": pa.array([group.chunk.name] * len(sel), pa.string()),
            "line": pa.array(group.line_no[sel], pa.int32()),
            "nmi": attr("nmi"),
            "nmi_configuration": attr("nmi_configuration"),
            "register_id": attr("register_id"),
            "suffix": attr("suffix"),
            "mdm_data_stream": attr("mdm_data_stream"),
            "meter_serial": attr("meter_serial"),
            "uom": attr("uom"),
            "interval_length": pa.array(np.full(len(sel), group.length, dtype=np.int16)),
            "read_date": read_date.take(take).cast(pa.date32()),
            "values": value_list,
            "quality_method": raw["quality"].take(take),
            "reason_code": raw["reason_code"].take(take),
            "reason_description": raw["reason_description"].take(take),
            "update_datetime": raw["update_datetime"].take(take),
            "interval_quality": quality_list,
        },
        schema=DAY_SCHEMA,
    )
