"""A vectorised reader for AEMO MDFF NEM12 interval meter data files.

Structure (100/200/300/400/500/900 records) is walked once per *record*; the interval
values of every 300 record are parsed in bulk by Arrow's CSV parser, one batch per interval
length, so no Python code ever touches an individual interval value.

The reader is faithful: values and units are returned exactly as the file states them (unit
conversion, de-duplication across files and quarantine policy are the pipeline's job). Problems
never raise out of :func:`read_nem12` unless ``strict=True``; each becomes a :class:`Nem12Issue`
naming the file and line:

- ``file_rejected``: nothing from the file is returned (no 100 header, not NEM12, no 900
  end record, empty, unreadable, corrupt zip). A partial file is never loaded.
- ``record_quarantined``: one register-day (or a whole 200 block) is left out, with the reason.
- ``warning``: data is returned, but something is worth knowing (unknown unit, 400 records on a
  day whose quality is not V, unknown record indicator).
"""

from __future__ import annotations

import io
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

MINUTES_PER_DAY = 1440
VALID_INTERVAL_LENGTHS = (1, 5, 10, 15, 30)
QUALITY_FLAGS = frozenset("AEFNSV")
# Multiplier from a file's unit to kWh (active energy) or kVArh (reactive energy).
ENERGY_UNITS = {"wh": 0.001, "kwh": 1.0, "mwh": 1000.0}
REACTIVE_UNITS = {"varh": 0.001, "kvarh": 1.0, "mvarh": 1000.0}
# Fields in a 300 record besides the interval values: indicator, date, quality, reason code,
# reason description, update time, MSATS load time (the last is optional in older files).
_NON_VALUE_FIELDS = 7

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


def read_nem12(path: str | Path, *, strict: bool = False, source: str | None = None) -> list[Nem12File]:
    """Read a NEM12 file, plain or zipped (every member of a zip is read as its own file).

    ``source`` names the file in results and issues (default: the path), e.g. the S3 URI a
    cached copy came from.
    """
    path = Path(path)
    name = source or str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        return [_rejected(name, None, "unreadable", f"cannot read file: {exc}", strict)]
    if data[:4] == b"PK\x03\x04" or path.suffix.lower() == ".zip":
        return _read_zip(data, name, strict)
    return [read_nem12_bytes(data, name, strict=strict)]


def _read_zip(data: bytes, name: str, strict: bool) -> list[Nem12File]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = [m for m in archive.infolist() if not m.is_dir()]
            if not members:
                return [_rejected(name, None, "empty_zip", "zip archive has no files", strict)]
            return [
                read_nem12_bytes(archive.read(m), f"{name}!{m.filename}", strict=strict)
                for m in members
            ]
    except (zipfile.BadZipFile, EOFError, zlib.error) as exc:
        return [_rejected(name, None, "corrupt_zip", f"corrupt or truncated zip archive: {exc}", strict)]


def _rejected(name: str, line: int | None, code: str, reason: str, strict: bool) -> Nem12File:
    issue = Nem12Issue(name, line, "file_rejected", code, reason)
    if strict:
        raise Nem12FormatError(issue)
    return Nem12File(name, None, DAY_SCHEMA.empty_table(), [issue])


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


def read_nem12_bytes(data: bytes, name: str, *, strict: bool = False) -> Nem12File:
    """Parse the bytes of one NEM12 file. ``name`` is used in every issue."""
    if not data.strip():
        return _rejected(name, None, "empty_file", "file is empty", strict)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return _rejected(name, None, "not_text", f"not a UTF-8 text file ({exc.reason} at byte {exc.start})", strict)
    lines = text.replace("\r", "").split("\n")

    issues: list[Nem12Issue] = []

    def add(line: int | None, severity: Severity, code: str, reason: str, **where) -> None:
        issue = Nem12Issue(name, line, severity, code, reason, **where)
        if strict:
            raise Nem12FormatError(issue)
        issues.append(issue)

    first = next((i for i, ln in enumerate(lines) if ln.strip()), None)
    head = lines[first].split(",")
    if head[0].strip() != "100":
        return _rejected(
            name, first + 1, "missing_header",
            f"expected a 100 header record first, found record '{head[0][:10]}'", strict,
        )
    version = head[1].strip().upper() if len(head) > 1 else ""
    if version != "NEM12":
        what = "a NEM13 (accumulation meter) file" if version == "NEM13" else f"version '{version}'"
        return _rejected(name, first + 1, "not_nem12", f"{what} where NEM12 is expected", strict)
    header = Nem12Header("NEM12", _field(head, 2), _field(head, 3), _field(head, 4))

    blocks: list[_Block] = []
    day_lines: list[int] = []  # index into lines of each 300 record
    day_block: list[int] = []  # index into blocks
    events: dict[int, list[tuple[int, list[str]]]] = {}  # position in day_lines -> 400 records
    end_line = None
    b2b = 0
    previous = "100"  # the last record seen: a 400 belongs to the 300 (or 400) just before it
    for i in range(first + 1, len(lines)):
        line = lines[i]
        code = line[:3]
        if code == "300" and line[3:4] == ",":
            previous = "300"
            if not blocks:
                add(i + 1, "record_quarantined", "orphan_300", "300 record before any 200 record")
                continue
            day_lines.append(i)
            day_block.append(len(blocks) - 1)
            continue
        elif end_line is not None:
            if line.strip():
                return _rejected(
                    name, i + 1, "data_after_900",
                    f"record after the 900 end-of-data record at line {end_line} (concatenated files?)",
                    strict,
                )
        elif not line.strip():
            continue
        elif code == "400" and line[3:4] == ",":
            if previous not in ("300", "400") or not day_lines:
                add(i + 1, "record_quarantined", "orphan_400", "400 record without a preceding 300 record")
            else:
                events.setdefault(len(day_lines) - 1, []).append((i + 1, line.split(",")))
        elif code == "200" and line[3:4] == ",":
            blocks.append(_parse_200(line, i + 1, add))
        elif code == "500" and line[3:4] == ",":
            b2b += 1
        elif code == "900" and line[3:].strip(", ") == "":
            end_line = i + 1
        else:
            add(i + 1, "warning", "unknown_record", f"record indicator '{line[:10]}' is not a NEM12 record; skipped")
        previous = code
    if end_line is None:
        last = max((i for i, ln in enumerate(lines) if ln.strip()), default=0) + 1
        return _rejected(name, last, "missing_900", "no 900 end-of-data record: the file may be truncated", strict)

    days = _parse_days(name, lines, blocks, day_lines, day_block, events, add)
    if not blocks:
        add(None, "warning", "no_data", "file has no 200/300 data records")
    return Nem12File(name, header, days, issues, b2b)


def _field(parts: list[str], i: int) -> str:
    return parts[i].strip() if len(parts) > i else ""


def _parse_200(line: str, number: int, add) -> _Block:
    p = line.split(",")
    nmi, suffix = _field(p, 1), _field(p, 4)
    valid = True
    length = 0
    if len(p) < 9:
        add(number, "record_quarantined", "bad_200",
            f"200 record has {len(p)} fields, at least 9 expected; its data is not loaded", nmi=nmi or None)
        valid = False
    else:
        try:
            length = int(p[8])
        except ValueError:
            length = -1
        if length not in VALID_INTERVAL_LENGTHS:
            add(number, "record_quarantined", "bad_interval_length",
                f"200 record interval length '{p[8]}' is not one of {VALID_INTERVAL_LENGTHS}; its data is not loaded",
                nmi=nmi, suffix=suffix)
            valid = False
        if not nmi or not suffix:
            add(number, "record_quarantined", "bad_200", "200 record has no NMI or NMI suffix; its data is not loaded")
            valid = False
    uom = _field(p, 7)
    if valid and unit_factor(uom)[0] is None:
        add(number, "warning", "unknown_uom", f"unknown unit of measure '{uom}' for {nmi} {suffix}",
            nmi=nmi, suffix=suffix)
    return _Block(number, nmi, _field(p, 2), _field(p, 3), suffix, _field(p, 5), _field(p, 6), uom, length, valid)


def _parse_days(name, lines, blocks, day_lines, day_block, events, add) -> pa.Table:
    if not day_lines:
        return DAY_SCHEMA.empty_table()
    lengths = np.array([b.interval_length if b.valid else 0 for b in blocks], dtype=np.int32)
    block_of_day = np.asarray(day_block, dtype=np.int64)
    day_len = lengths[block_of_day]
    for k in np.flatnonzero(day_len == 0):
        b = blocks[block_of_day[k]]
        add(day_lines[k] + 1, "record_quarantined", "bad_block",
            f"300 record belongs to the invalid 200 record at line {b.line}", nmi=b.nmi or None, suffix=b.suffix or None)
    pieces = []
    for length in np.unique(day_len[day_len > 0]):
        positions = np.flatnonzero(day_len == length)
        pieces.append(_parse_group(name, int(length), lines, blocks, day_lines, block_of_day, positions, events, add))
    pieces = [p for p in pieces if p.num_rows]
    if not pieces:
        return DAY_SCHEMA.empty_table()
    # Grouped by interval length, in file order within each group (the line column keeps lineage).
    return pa.concat_tables(pieces)


def _parse_group(name, length, lines, blocks, day_lines, block_of_day, positions, events, add) -> pa.Table:
    """Parse every 300 record of one interval length in one Arrow CSV call."""
    n = MINUTES_PER_DAY // length
    width = n + _NON_VALUE_FIELDS
    texts = []
    keep = []
    for pos in positions:
        text = lines[day_lines[pos]]
        fields = text.count(",") + 1
        if fields == width - 1 and text.split(",", n + 3)[n + 2][:1] in QUALITY_FLAGS:
            text += ","  # MSATSLoadDateTime omitted: allowed
        elif fields != width:
            b = blocks[block_of_day[pos]]
            got = fields - _NON_VALUE_FIELDS
            add(day_lines[pos] + 1, "record_quarantined", "wrong_value_count",
                f"300 record has {fields} fields ({got} interval values?); the 200 record at line {b.line} "
                f"declares {length}-minute intervals, i.e. {n} values and {width} fields",
                nmi=b.nmi, suffix=b.suffix, read_date=_field(text.split(",", 2), 1))
            continue
        texts.append(text)
        keep.append(pos)
    if not keep:
        return DAY_SCHEMA.empty_table()
    keep = np.asarray(keep)
    names = ["indicator", "date"] + [f"v{j}" for j in range(n)] + [
        "quality", "reason_code", "reason_description", "update_datetime", "msats_load_datetime"]
    string_cols = {c: pa.string() for c in names if not c.startswith("v")}
    blob = "\n".join(texts).encode()
    convert = pacsv.ConvertOptions(
        column_types={**string_cols, **{f"v{j}": pa.float64() for j in range(n)}},
        strings_can_be_null=False, quoted_strings_can_be_null=False,
    )
    read = pacsv.ReadOptions(column_names=names, block_size=1 << 24)
    try:
        raw = pacsv.read_csv(io.BytesIO(blob), read_options=read, convert_options=convert)
        # Stack whole columns (contiguous copies), then view as rows: far faster than column_stack.
        values = np.vstack([raw[f"v{j}"].to_numpy() for j in range(n)]).T
    except pa.ArrowInvalid:
        # Some value is not a number: parse as text and find which records.
        convert = pacsv.ConvertOptions(column_types={c: pa.string() for c in names}, strings_can_be_null=False)
        raw = pacsv.read_csv(io.BytesIO(blob), read_options=read, convert_options=convert)
        import pandas as pd

        cols = []
        bad = np.zeros(len(keep), dtype=bool)
        for j in range(n):
            s = raw[f"v{j}"].to_pandas()
            num = pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64)
            bad |= np.isnan(num) & (s.str.strip() != "").to_numpy()
            cols.append(num)
        values = np.column_stack(cols)
        for k in np.flatnonzero(bad):
            b = blocks[block_of_day[keep[k]]]
            add(day_lines[keep[k]] + 1, "record_quarantined", "not_a_number",
                "300 record has an interval value that is not a number", nmi=b.nmi, suffix=b.suffix,
                read_date=raw["date"][k].as_py())
        ok = ~bad
        raw, values, keep = raw.filter(pa.array(ok)), values[ok], keep[ok]
        if not len(keep):
            return DAY_SCHEMA.empty_table()

    rows = len(keep)
    good = np.ones(rows, dtype=bool)
    line_no = np.asarray(day_lines, dtype=np.int64)[keep] + 1
    blk = block_of_day[keep]

    def quarantine(mask, code, reason_of):
        for k in np.flatnonzero(mask & good):
            b = blocks[blk[k]]
            add(int(line_no[k]), "record_quarantined", code, reason_of(k), nmi=b.nmi, suffix=b.suffix,
                read_date=dates_text[k])
        good[mask] = False

    dates_text = raw["date"].to_pylist()
    read_date = pc.strptime(raw["date"], format="%Y%m%d", unit="s", error_is_null=True)
    quarantine(pc.is_null(read_date).to_numpy(zero_copy_only=False), "bad_date",
               lambda k: f"300 record interval date '{dates_text[k]}' is not a valid YYYYMMDD date")
    quality = raw["quality"].to_numpy(zero_copy_only=False).astype(str)
    flag = pc.utf8_slice_codeunits(raw["quality"], 0, 1).to_numpy(zero_copy_only=False).astype(str)
    quarantine(~np.isin(flag, list(QUALITY_FLAGS)), "bad_quality",
               lambda k: f"300 record quality method '{quality[k]}' is not one of A, E, F, N, S, V")
    neg = np.fmin.reduce(values, axis=1) < 0  # fmin skips NaN (empty intervals)
    quarantine(neg, "negative_value",
               lambda k: f"negative interval value {values[k][values[k] < 0][0]} at interval "
                         f"{int(np.argmax(values[k] < 0)) + 1}")

    # Per-interval quality as codes into a small dictionary of methods: the day's method,
    # overridden by its 400 records.
    methods, day_code = np.unique(quality, return_inverse=True)
    methods = list(methods)
    interval_quality = np.repeat(day_code.astype(np.int16)[:, None], n, axis=1)
    row_of_pos = {int(p): k for k, p in enumerate(keep)} if events else {}
    for pos, records in events.items():
        k = row_of_pos.get(pos)
        if k is None or not good[k]:
            continue
        covered = np.zeros(n, dtype=bool)
        problem = None
        for number, p in records:
            try:
                start, end = int(p[1]), int(p[2])
            except (ValueError, IndexError):
                problem = (number, f"400 record interval range '{','.join(p[1:3])}' is not two whole numbers")
                break
            method = _field(p, 3)
            if not (1 <= start <= end <= n):
                problem = (number, f"400 record intervals {start}-{end} outside 1-{n} for {length}-minute data")
                break
            if method[:1] not in QUALITY_FLAGS or method[:1] == "V":
                problem = (number, f"400 record quality method '{method}' is not a valid interval quality")
                break
            if method not in methods:
                methods.append(method)
            interval_quality[k, start - 1:end] = methods.index(method)
            covered[start - 1:end] = True
        if problem is None and flag[k] == "V" and not covered.all():
            missing = np.flatnonzero(~covered) + 1
            problem = (records[-1][0], f"400 records of a V-quality day cover {covered.sum()} of {n} intervals "
                                       f"(first uncovered: {missing[0]})")
        if problem is not None:
            b = blocks[blk[k]]
            add(problem[0], "record_quarantined", "bad_400", problem[1], nmi=b.nmi, suffix=b.suffix,
                read_date=dates_text[k])
            good[k] = False
        elif flag[k] != "V":
            b = blocks[blk[k]]
            add(records[0][0], "warning", "400_without_v",
                f"400 records follow a 300 record of quality '{quality[k]}' (expected V); applied",
                nmi=b.nmi, suffix=b.suffix, read_date=dates_text[k])
    for k in np.flatnonzero((flag == "V") & good):
        if keep[k] not in events:
            b = blocks[blk[k]]
            add(int(line_no[k]), "record_quarantined", "v_without_400",
                "300 record of quality V has no 400 records", nmi=b.nmi, suffix=b.suffix, read_date=dates_text[k])
            good[k] = False

    sel = np.flatnonzero(good)
    blk = blk[sel]
    block_rows = pa.array(blk)

    def attr(field: str) -> pa.Array:  # a 200-record field per day: one small array, then a take
        return pa.array([getattr(b, field) for b in blocks], pa.string()).take(block_rows)

    flat = values[sel].reshape(-1)
    offsets = pa.array(np.arange(0, len(sel) * n + 1, n, dtype=np.int32))
    value_list = pa.ListArray.from_arrays(offsets, pa.array(flat, mask=np.isnan(flat)))
    quality_codes = pa.array(methods, pa.string()).take(pa.array(interval_quality[sel].reshape(-1)))
    quality_list = pa.ListArray.from_arrays(offsets, quality_codes)
    take = pa.array(sel)
    return pa.table(
        {
            "source_file": pa.array([name] * len(sel), pa.string()),
            "line": pa.array(line_no[sel], pa.int32()),
            "nmi": attr("nmi"),
            "nmi_configuration": attr("nmi_configuration"),
            "register_id": attr("register_id"),
            "suffix": attr("suffix"),
            "mdm_data_stream": attr("mdm_data_stream"),
            "meter_serial": attr("meter_serial"),
            "uom": attr("uom"),
            "interval_length": pa.array(np.full(len(sel), length, dtype=np.int16)),
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
