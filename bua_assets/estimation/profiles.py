"""Profiles (DESIGN §5.3): utility profiles, segment profiles with fills, macro shapes.

Pure numpy over dense arrays: segments x dates x 48 half hours is small (42 x 366 x 48), so the
12-month history is reduced in one pass, month by month, and never held whole.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from bua_assets.estimation.intervals import HALF_HOURS, add_by_key, channel_keys, day_type, half_hourly

DEFAULT_MIN_REGISTERS = 5  # a segment-day averaged over fewer registers is invalid and filled
FILL_SEARCH_DAYS = 28  # how far a fill looks for the nearest equivalent day
YEAR_SHIFT = 364  # 52 weeks: moving a date by it keeps the weekday


@dataclass(frozen=True)
class Window:
    """The profile window: the 12 months before the month end, inclusive."""

    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def dates(self) -> np.ndarray:
        return np.arange(np.datetime64(self.start), np.datetime64(self.end) + 1, dtype="datetime64[D]")

    def index(self, dates: np.ndarray) -> np.ndarray:
        """Date positions in the window; -1 outside."""
        i = (np.asarray(dates, dtype="datetime64[D]") - np.datetime64(self.start)).astype(np.int64)
        return np.where((i >= 0) & (i < self.days), i, -1)

    def seasonal_index(self, dates: np.ndarray) -> np.ndarray:
        """Date positions, where a date outside the window takes the same weekday 52 weeks in or out."""
        i = (np.asarray(dates, dtype="datetime64[D]") - np.datetime64(self.start)).astype(np.int64)
        i = np.where(i < 0, i + YEAR_SHIFT * ((-i + YEAR_SHIFT - 1) // YEAR_SHIFT), i)
        over = i - (self.days - 1)
        return np.where(over > 0, i - YEAR_SHIFT * ((over + YEAR_SHIFT - 1) // YEAR_SHIFT), i)


def segment_name(customer_class: str, jurisdiction: str, stream_type: str) -> str:
    return f"{customer_class}|{jurisdiction}|{stream_type}"


# --------------------------------------------------------------------------------------------
# One pass over the interval history


def day_array(values: pd.Series) -> np.ndarray:
    """Dates as CORE's DATE columns arrive (datetime.date, None/NaN for an open end; or
    datetime64) as datetime64[D] with NaT; far dates such as 9999-12-31 stay as they are. For
    per-register columns (one Python step per value)."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.to_numpy().astype("datetime64[D]")
    return np.array([v if isinstance(v, date) else None for v in values.tolist()], dtype="datetime64[D]")


@dataclass(frozen=True)
class SharedChannels:
    """Channels (NMI, suffix, unit) that more than one register measures in turn (a meter
    exchange: the new meter's register keeps the NMI and suffix): a day's data goes to the
    register installed on that day (``active_from``..``active_to`` of meter_registers), not to
    the first register of the channel. Sorted look-up arrays, so resolving is vectorised."""

    code: np.ndarray  # per register: its channel's number
    shared: np.ndarray  # per channel number: more than one register has it
    key: np.ndarray  # sorted: channel number and first day of each shared channel's registers
    register: np.ndarray  # the register (position) of each key
    end: np.ndarray  # its last day (NaT: open)

    @classmethod
    def of(cls, keys: pa.Array, registers: pd.DataFrame) -> SharedChannels | None:
        """None when no channel has two registers (or the registers carry no dates)."""
        if "active_from" not in registers or not len(registers):
            return None
        code, uniques = pd.factorize(np.asarray(keys.to_numpy(zero_copy_only=False)))
        count = np.bincount(code, minlength=len(uniques))
        mine = np.flatnonzero(count[code] > 1)
        if not len(mine):
            return None
        start, end = day_array(registers["active_from"])[mine], day_array(registers["active_to"])[mine]
        key = _channel_day(code[mine], start)
        order = np.argsort(key, kind="stable")
        return cls(code, count > 1, key[order], mine[order], end[order])

    def resolve(self, ri: np.ndarray, dates: np.ndarray) -> np.ndarray:
        """``ri``: each row's register (the first of its channel; -1: none). Rows of a shared
        channel get the register installed on their date (the latest started on or before it,
        if not ended before it); other rows, and days no register covers, keep theirs."""
        rows = np.flatnonzero(ri >= 0)
        rows = rows[self.shared[self.code[ri[rows]]]]
        if not len(rows):
            return ri
        channel, day = self.code[ri[rows]], np.asarray(dates, dtype="datetime64[D]")[rows]
        at = np.searchsorted(self.key, _channel_day(channel, day), side="right") - 1
        found = at >= 0
        at = np.where(found, at, 0)
        candidate, end = self.register[at], self.end[at]
        found &= (self.code[candidate] == channel) & (np.isnat(end) | (day <= end))
        out = ri.copy()
        out[rows[found]] = candidate[found]
        return out


def _channel_day(channel: np.ndarray, day: np.ndarray) -> np.ndarray:
    """One sortable int64 per (channel number, day): the channel in the high 32 bits."""
    d = day.astype("datetime64[D]").astype(np.int64)
    d = np.where(np.isnat(day), -(2**31), np.clip(d, -(2**31), 2**31 - 1)) + 2**31
    return (channel.astype(np.int64) << 32) | d


# --------------------------------------------------------------------------------------------


@dataclass
class History:
    """What the pass keeps: per-register-day totals and dense sums for segments and registers."""

    register_days: (
        pa.Table | None
    )  # register_id, read_date, kwh, actual_kwh, actual_half_hours, quality_method (one pass; None when combined from months)
    register_totals: pa.Table  # per register: days_with_data, kwh, actual_kwh, first_date, last_date
    segment_sum: np.ndarray  # (segments, days, 48) kWh over fully actual profile-register days
    segment_registers: np.ndarray  # (segments, days) how many registers contributed
    register_sum: np.ndarray  # (registers, 2 day types, 48) actual kWh
    register_sumsq: np.ndarray
    register_count: np.ndarray  # actual half hours per (register, day type, interval)
    unmatched: pa.Table  # nmi, suffix, register_days: interval data with no register in CORE
    # register-days of a register's NMI and suffix in a unit that is not the register's (nmi, suffix,
    # uom, read_date, source_file, line): not its energy
    unit_mismatch: pa.Table | None = None


@dataclass
class HistoryPass:
    registers: pd.DataFrame  # interval registers: register_id, nmi, suffix, segment_index, profile_register
    segments: int
    window: Window
    _days: list = field(default_factory=list)
    _unmatched: list = field(default_factory=list)
    _mismatched: list = field(default_factory=list)

    def __post_init__(self):
        w, r = self.window.days, len(self.registers)
        units = self.registers["uom"] if "uom" in self.registers else ["KWH"] * len(self.registers)
        self._keys = channel_keys(self.registers["nmi"].astype(str), self.registers["suffix"].astype(str), units)
        self._channels = pa.array((self.registers["nmi"] + "/" + self.registers["suffix"]).tolist(), pa.string())
        self._segment = self.registers["segment_index"].to_numpy()
        self._profiled = self.registers["profile_register"].to_numpy(dtype=bool)
        self._ids = self.registers["register_id"].to_numpy()
        self._shared = SharedChannels.of(self._keys, self.registers)
        self.segment_sum = np.zeros((self.segments * w, HALF_HOURS))
        self.segment_registers = np.zeros(self.segments * w)
        self.register_sum = np.zeros((r * 2, HALF_HOURS))
        self.register_sumsq = np.zeros((r * 2, HALF_HOURS))
        self.register_count = np.zeros((r * 2, HALF_HOURS))

    def add(self, month: pa.Table | pa.RecordBatch) -> None:
        """Fold a batch of interval_reads (nmi, suffix, read_date, interval_length, values,
        interval_quality, quality_method); batches may come in any order."""
        units = month["uom"] if "uom" in month.schema.names else pa.array(["kWh"] * month.num_rows)
        keys = channel_keys(month["nmi"], month["suffix"], units)
        ri = pc.fill_null(pc.index_in(keys, value_set=self._keys), -1).to_numpy(zero_copy_only=False)
        dates = month["read_date"].to_numpy(zero_copy_only=False).astype("datetime64[D]")
        if self._shared is not None:  # a meter exchange: each day to the register installed on it
            ri = self._shared.resolve(ri, dates)
        di = self.window.index(dates)
        unknown = ri < 0
        if unknown.any():
            table = month if isinstance(month, pa.Table) else pa.Table.from_batches([month])
            lost = table.filter(pa.array(unknown))
            # the register's NMI and suffix with data in another unit (MVArh for a kWh register)
            channel = pc.is_in(pc.binary_join_element_wise(lost["nmi"], lost["suffix"], "/"), value_set=self._channels)
            wrong_unit = lost.filter(channel)
            if wrong_unit.num_rows:
                cols = [
                    c for c in ("nmi", "suffix", "uom", "read_date", "source_file", "line") if c in lost.schema.names
                ]
                self._mismatched.append(wrong_unit.select(cols))
            self._unmatched.append(lost.filter(pc.invert(channel)).select(["nmi", "suffix"]))
        rows = np.flatnonzero(~unknown & (di >= 0))
        if not len(rows):
            return
        ri, di, dates = ri[rows], di[rows], dates[rows]
        values, actual = half_hourly(month, rows)
        actual_values = np.where(actual, values, 0.0)
        self._days.append(
            pa.table(
                {
                    "register_id": pa.array(self._ids[ri], pa.int32()),
                    "read_date": pa.array(dates),
                    "kwh": values.sum(axis=1),
                    "actual_kwh": actual_values.sum(axis=1),
                    "actual_half_hours": pa.array(actual.sum(axis=1), pa.int16()),
                    "quality_method": pc.take(month["quality_method"], pa.array(rows)),
                }
            )
        )
        whole = actual.all(axis=1) & self._profiled[ri]
        seg_key = self._segment[ri[whole]] * self.window.days + di[whole]
        groups = self.segments * self.window.days
        add_by_key(seg_key, (self.segment_sum, values[whole]))
        self.segment_registers += np.bincount(seg_key, minlength=groups)
        reg_key = ri * 2 + day_type(dates)
        add_by_key(
            reg_key,
            (self.register_sum, actual_values),
            (self.register_sumsq, actual_values**2),
            (self.register_count, actual.astype(np.float64)),
        )

    def finish(self) -> History:
        days_schema = pa.schema(
            [
                ("register_id", pa.int32()),
                ("read_date", pa.date32()),
                ("kwh", pa.float64()),
                ("actual_kwh", pa.float64()),
                ("actual_half_hours", pa.int16()),
                ("quality_method", pa.string()),
            ]
        )
        days = pa.concat_tables([t.cast(days_schema) for t in self._days]) if self._days else days_schema.empty_table()
        unmatched = (
            pa.concat_tables(self._unmatched)
            .group_by(["nmi", "suffix"], use_threads=False)
            .aggregate([("nmi", "count")])
            .rename_columns(["nmi", "suffix", "register_days"])
            .sort_by([("nmi", "ascending"), ("suffix", "ascending")])
            if self._unmatched
            else _no_unmatched()
        )
        mismatched = (
            pa.concat_tables(self._mismatched, promote_options="default")
            if self._mismatched
            else pa.table({"nmi": pa.array([], pa.string()), "suffix": pa.array([], pa.string())})
        )
        w, r = self.window.days, len(self._ids)
        days = days.sort_by([("register_id", "ascending"), ("read_date", "ascending")])
        return History(
            days,
            register_totals(days),
            self.segment_sum.reshape(self.segments, w, HALF_HOURS),
            self.segment_registers.reshape(self.segments, w),
            self.register_sum.reshape(r, 2, HALF_HOURS),
            self.register_sumsq.reshape(r, 2, HALF_HOURS),
            self.register_count.reshape(r, 2, HALF_HOURS),
            unmatched,
            mismatched,
        )


TOTALS_SCHEMA = pa.schema(
    [
        ("register_id", pa.int32()),
        ("days_with_data", pa.int64()),
        ("kwh", pa.float64()),
        ("actual_kwh", pa.float64()),
        ("first_date", pa.date32()),
        ("last_date", pa.date32()),
    ]
)


def register_totals(days: pa.Table) -> pa.Table:
    """Per register: days with data, kWh, actual kWh, first and last date (additive over months)."""
    t = days.group_by("register_id", use_threads=False).aggregate(
        [("read_date", "count"), ("kwh", "sum"), ("actual_kwh", "sum"), ("read_date", "min"), ("read_date", "max")]
    )
    return t.rename_columns(TOTALS_SCHEMA.names).cast(TOTALS_SCHEMA)


# --------------------------------------------------------------------------------------------
# Monthly sufficient statistics: the 12-month profiles are sums of twelve of these
# --------------------------------------------------------------------------------------------


def month_statistics(
    registers: pd.DataFrame, segments: list[str], history: History, window: Window
) -> dict[str, pa.Table]:
    """One month's additive statistics as tables (``history`` from a HistoryPass over the month,
    ``window`` the month): register_days, register_totals, register_stats (register x day type:
    sum, sum of squares and count of actual kWh per half hour; registers with data only),
    segment_sums (segment x date: kWh of fully actual profile-register days and how many
    registers) and unmatched (data for no register in CORE)."""
    n = history.register_count.reshape(-1, HALF_HOURS)
    rows = np.flatnonzero(n.sum(axis=1) > 0)
    ids = registers["register_id"].to_numpy()

    def lists(matrix: np.ndarray) -> pa.Array:
        flat = matrix.reshape(-1, HALF_HOURS)[rows].reshape(-1)
        return pa.FixedSizeListArray.from_arrays(pa.array(flat, pa.float64()), HALF_HOURS)

    stats = pa.table(
        {
            "register_id": pa.array(ids[rows // 2], pa.int32()),
            "day_type": pa.array(rows % 2, pa.int8()),
            "sum": lists(history.register_sum),
            "sumsq": lists(history.register_sumsq),
            "count": lists(history.register_count),
        }
    )
    return {
        "register_days": history.register_days,
        "register_totals": history.register_totals,
        "register_stats": stats,
        "segment_sums": dense_to_table(segments, window, history.segment_sum, history.segment_registers),
        "unmatched": history.unmatched,
        "meter_data_exceptions": meter_data_exceptions(registers, history),
    }


MATCH_EXCEPTION_COLUMNS = ["code", "reason", "nmi", "suffix", "uom", "read_date", "source_file", "line"]


def meter_data_exceptions(registers: pd.DataFrame, history: History) -> pa.Table:
    """Meter data the month could not use as a register's energy, naming both sides: register-days
    in a unit that is not their register's (``unit_mismatch``: file and line), and NMI/suffixes
    matching no interval register in CORE (``unmatched_meter_data``, with the registers CORE has
    for that NMI, which are then without this data)."""
    rows: list[dict] = []
    unit_of = dict(zip(registers["nmi"].astype(str) + "/" + registers["suffix"].astype(str), registers.get("uom", [])))
    if history.unit_mismatch is not None and history.unit_mismatch.num_rows:
        for r in history.unit_mismatch.to_pylist():
            want = unit_of.get(f"{r['nmi']}/{r['suffix']}", "?")
            rows.append(
                {
                    "code": "unit_mismatch",
                    "reason": f"NMI {r['nmi']} suffix {r['suffix']} delivered in {r.get('uom')} but its CORE register "
                    f"is in {want}: not its energy, the day is estimated instead",
                    "nmi": r["nmi"],
                    "suffix": r["suffix"],
                    "uom": r.get("uom"),
                    "read_date": str(r.get("read_date")),
                    "source_file": r.get("source_file"),
                    "line": r.get("line"),
                }
            )
    by_nmi: dict[str, list[str]] = {}
    for nmi, suffix in zip(registers["nmi"].astype(str), registers["suffix"].astype(str)):
        by_nmi.setdefault(nmi, []).append(suffix)
    for r in history.unmatched.to_pylist():
        known = by_nmi.get(r["nmi"])
        core = (
            f"CORE's interval registers of NMI {r['nmi']}: {', '.join(sorted(known))}, without this data"
            if known
            else f"no interval register in CORE has NMI {r['nmi']} (an 11-character or changed NMI?)"
        )
        rows.append(
            {
                "code": "unmatched_meter_data",
                "reason": f"{r['register_days']} register-days of NMI {r['nmi']} suffix {r['suffix']} match no "
                f"interval register: {core}",
                "nmi": r["nmi"],
                "suffix": r["suffix"],
                "uom": None,
                "read_date": None,
                "source_file": None,
                "line": None,
            }
        )
    schema = pa.schema([(c, pa.int32() if c == "line" else pa.string()) for c in MATCH_EXCEPTION_COLUMNS])
    return pa.Table.from_pylist(rows, schema=schema)


@dataclass
class MonthlyCombination:
    """Folds monthly statistics (month_statistics tables, read back from the lake) into the
    12-month History of ``registers`` (the interval registers as of the profile's month) and
    ``segments``. Each month keeps the registers and segments it was computed with: a register
    new since then has no history from it; a segment that no longer exists is dropped."""

    registers: pd.DataFrame  # interval registers: register_id, segment_index
    segments: list[str]
    window: Window
    _totals: list = field(default_factory=list)
    _unmatched: list = field(default_factory=list)

    def __post_init__(self):
        w, r = self.window.days, len(self.registers)
        self._position = pd.Index(self.registers["register_id"].to_numpy())
        self._segment = {name: i for i, name in enumerate(self.segments)}
        self.segment_sum = np.zeros((len(self.segments), w, HALF_HOURS))
        self.segment_registers = np.zeros((len(self.segments), w))
        self.register_sum = np.zeros((r * 2, HALF_HOURS))
        self.register_sumsq = np.zeros((r * 2, HALF_HOURS))
        self.register_count = np.zeros((r * 2, HALF_HOURS))

    def add(
        self, register_stats: pa.Table, segment_sums: pa.Table, register_totals: pa.Table, unmatched: pa.Table
    ) -> None:
        at = self._position.get_indexer(register_stats["register_id"].to_numpy())
        ok = at >= 0
        rows = at[ok] * 2 + register_stats["day_type"].to_numpy()[ok]  # unique within a month
        for name, target in (
            ("sum", self.register_sum),
            ("sumsq", self.register_sumsq),
            ("count", self.register_count),
        ):
            values = register_stats[name].combine_chunks().flatten().to_numpy().reshape(-1, HALF_HOURS)
            target[rows] += values[ok]
        names, sums, counts = table_to_dense(segment_sums)
        if names:
            dates = np.unique(segment_sums["date"].to_numpy().astype("datetime64[D]"))
            di = self.window.index(dates)
            for k, name in enumerate(names):
                s = self._segment.get(name)
                if s is not None:
                    self.segment_sum[s, di[di >= 0]] += sums[k, di >= 0]
                    self.segment_registers[s, di[di >= 0]] += counts[k, di >= 0]
        self._totals.append(register_totals.cast(TOTALS_SCHEMA))
        self._unmatched.append(unmatched)

    def finish(self) -> History:
        totals = pa.concat_tables(self._totals) if self._totals else TOTALS_SCHEMA.empty_table()
        totals = (
            totals.group_by("register_id", use_threads=False)
            .aggregate(
                [
                    ("days_with_data", "sum"),
                    ("kwh", "sum"),
                    ("actual_kwh", "sum"),
                    ("first_date", "min"),
                    ("last_date", "max"),
                ]
            )
            .rename_columns(["register_id", *TOTALS_SCHEMA.names[1:]])
            if totals.num_rows
            else totals
        )
        totals = totals.select(TOTALS_SCHEMA.names).cast(TOTALS_SCHEMA).sort_by("register_id")
        unmatched = (
            pa.concat_tables(self._unmatched)
            .group_by(["nmi", "suffix"], use_threads=False)
            .aggregate([("register_days", "sum")])
            .rename_columns(["nmi", "suffix", "register_days"])
            .sort_by([("nmi", "ascending"), ("suffix", "ascending")])
            if self._unmatched and sum(t.num_rows for t in self._unmatched)
            else _no_unmatched()
        )
        r = len(self.registers)
        return History(
            None,
            totals,
            self.segment_sum,
            self.segment_registers,
            self.register_sum.reshape(r, 2, HALF_HOURS),
            self.register_sumsq.reshape(r, 2, HALF_HOURS),
            self.register_count.reshape(r, 2, HALF_HOURS),
            unmatched,
        )


def _no_unmatched() -> pa.Table:
    return pa.table(
        {
            "nmi": pa.array([], pa.string()),
            "suffix": pa.array([], pa.string()),
            "register_days": pa.array([], pa.int64()),
        }
    )


# --------------------------------------------------------------------------------------------
# Utility profiles: per register statistics, variance from the segment, summary
# --------------------------------------------------------------------------------------------


def utility_profile(registers: pd.DataFrame, history: History) -> pd.DataFrame:
    """Per register x day type x half hour: mean, standard deviation and days of actual data."""
    r = len(registers)
    n = history.register_count
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, history.register_sum / n, np.nan)
        var = np.where(n > 1, (history.register_sumsq - n * mean**2) / np.maximum(n - 1, 1), np.nan)
    return pd.DataFrame(
        {
            "register_id": np.repeat(registers["register_id"].to_numpy(), 2 * HALF_HOURS),
            "day_type": np.tile(np.repeat(np.array(["WEEKDAY", "WEEKEND"]), HALF_HOURS), r),
            "interval": np.tile(np.arange(1, HALF_HOURS + 1), 2 * r).astype(np.int16),
            "mean_kwh": np.round(mean.reshape(-1), 6),
            "std_kwh": np.round(np.sqrt(np.clip(var, 0, None)).reshape(-1), 6),
            "actual_days": n.reshape(-1).astype(np.int32),
        }
    )


def utility_profile_variance(registers: pd.DataFrame, history: History) -> pd.DataFrame:
    """How each register's shape and size differ from its segment's raw average (before fills).

    shape_deviation: mean absolute difference of the normalised weekday shapes (0 = identical,
    2 = disjoint); scale_ratio: the register's average actual day over the segment's.
    """
    seg = registers["segment_index"].to_numpy()
    seg_days = history.segment_registers
    with np.errstate(invalid="ignore", divide="ignore"):
        seg_mean = history.segment_sum.sum(axis=1) / seg_days.sum(axis=1)[:, None]  # (S, 48) per register-day
        reg_mean = history.register_sum[:, 0] / history.register_count[:, 0]
        shape_reg = reg_mean / np.nansum(reg_mean, axis=1, keepdims=True)
        shape_seg = seg_mean[seg] / np.nansum(seg_mean[seg], axis=1, keepdims=True)
        deviation = np.nansum(np.abs(shape_reg - shape_seg), axis=1)
        scale = np.nansum(reg_mean, axis=1) / np.nansum(seg_mean[seg], axis=1)
    has = history.register_count[:, 0].min(axis=1) > 0
    return pd.DataFrame(
        {
            "register_id": registers["register_id"].to_numpy(),
            "segment": registers["segment"].to_numpy(),
            "shape_deviation": np.where(has, np.round(deviation, 4), np.nan),
            "scale_ratio": np.where(has, np.round(scale, 4), np.nan),
        }
    )


def utility_profile_summary(registers: pd.DataFrame, history: History, window: Window) -> pd.DataFrame:
    """Per register: days with data, coverage of the window, share estimated, average daily usage."""
    d = history.register_totals.to_pandas()
    out = registers[["register_id", "nmi", "suffix", "segment", "profile_register"]].merge(
        d, on="register_id", how="left"
    )
    out["days_with_data"] = out["days_with_data"].fillna(0).astype(int)
    out["window_days"] = window.days
    out["coverage"] = np.round(out["days_with_data"] / window.days, 4)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["share_estimated"] = np.round(1 - out["actual_kwh"] / out["kwh"], 4)
        out["average_daily_kwh"] = np.round(out["kwh"] / out["days_with_data"].replace(0, np.nan), 4)
    return out


# --------------------------------------------------------------------------------------------
# Segment profiles with fills
# --------------------------------------------------------------------------------------------


@dataclass
class SegmentProfiles:
    names: list[str]
    values: np.ndarray  # (segments, days, 48) average kWh per register
    registers: np.ndarray  # (segments, days) registers behind each own (unfilled) entry
    status: np.ndarray  # (segments, days) VALID | FILLED | MISSING
    fills: pd.DataFrame  # segment, date, reason, method, source_segment, source_date


def segment_profiles(
    names: list[str], sums: np.ndarray, counts: np.ndarray, window: Window, min_registers: int = DEFAULT_MIN_REGISTERS
) -> SegmentProfiles:
    """Average per segment x date x half hour; entries from too few registers (or none) are filled:
    1. same segment, nearest date of the same day type (within FILL_SEARCH_DAYS);
    2. same customer class and stream across jurisdictions (same date, then nearest day type);
    3. same stream type in any class and jurisdiction (likewise);
    4. last resort, flagged: the stream type from however few registers contribute.
    Every fill is recorded with its reason and source; entries no rule can fill stay MISSING.
    ``sums``: (segments, days, 48) kWh of fully actual register-days; ``counts``: (segments,
    days) registers behind them (History.segment_sum and segment_registers).
    """
    S, D = counts.shape
    with np.errstate(invalid="ignore", divide="ignore"):
        own = np.where(counts[..., None] > 0, sums / counts[..., None], 0.0)
    valid = counts >= min_registers
    values = np.where(valid[..., None], own, 0.0)
    filled = valid.copy()
    dtype = day_type(window.dates)
    src_label = np.full((S, D), None, dtype=object)
    src_day = np.full((S, D), -1)
    method = np.full((S, D), "unfilled", dtype=object)
    offsets = sorted((k for k in range(-FILL_SEARCH_DAYS, FILL_SEARCH_DAYS + 1) if k), key=lambda k: (abs(k), -k))
    days = np.arange(D)

    def fill(take, source_values, source_days, source_labels, label):
        s, d = np.nonzero(take)
        values[s, d] = source_values[s, source_days[d]]
        filled[s, d] = True
        src_label[s, d] = source_labels[s]
        src_day[s, d] = source_days[d]
        method[s, d] = label

    def nearest_day(source_values, source_valid, source_labels, label):
        for k in offsets:
            src = np.clip(days + k, 0, D - 1)
            ok_day = (days + k >= 0) & (days + k < D) & (dtype[src] == dtype)
            take = ~filled & ok_day[None, :] & source_valid[:, src]
            if take.any():
                fill(take, source_values, src, source_labels, label)

    own_labels = np.array(names, dtype=object)
    nearest_day(own, valid, own_labels, "same_segment_nearest_day_type")
    # Wider equivalents, weighted by registers over the valid entries of the group: the class in
    # every jurisdiction, then the stream type in any class, then (last resort, flagged) the
    # stream type from however few registers there are.
    parts = [n.split("|") for n in names]
    levels = [
        ([f"{p[0]}|*|{p[2]}" for p in parts], min_registers, "same_class_all_jurisdictions"),
        ([f"*|*|{p[2]}" for p in parts], min_registers, "same_stream_all_segments"),
        ([f"*|*|{p[2]}" for p in parts], 1, "same_stream_below_minimum_registers"),
    ]
    for labels, minimum, label in levels:
        group_names, group_of = np.unique(labels, return_inverse=True)
        ok = counts >= minimum
        g_sum = np.zeros((len(group_names), D, HALF_HOURS))
        g_n = np.zeros((len(group_names), D))
        np.add.at(g_sum, group_of, np.where(ok[..., None], sums, 0.0))
        np.add.at(g_n, group_of, np.where(ok, counts, 0))
        with np.errstate(invalid="ignore", divide="ignore"):
            g_avg = np.where(g_n[..., None] > 0, g_sum / g_n[..., None], 0.0)[group_of]
        g_valid = (g_n >= minimum)[group_of]
        g_labels = np.array(group_names, dtype=object)[group_of]
        fill(~filled & g_valid, g_avg, days, g_labels, label)
        nearest_day(g_avg, g_valid, g_labels, label + "_nearest_day_type")

    status = np.where(valid, "VALID", np.where(filled, "FILLED", "MISSING"))
    fs, fd = np.nonzero(~valid)
    dates = window.dates.astype(object)
    fills = pd.DataFrame(
        {
            "segment": own_labels[fs],
            "date": dates[fd],
            "reason": [
                ("no actual data from any register" if c == 0 else f"{int(c)} registers < minimum {min_registers}")
                for c in counts[fs, fd]
            ],
            "method": method[fs, fd],
            "source_segment": src_label[fs, fd],
            "source_date": [dates[x] if x >= 0 else None for x in src_day[fs, fd]],
        }
    )
    return SegmentProfiles(list(names), values, counts.astype(np.int32), status, fills)


# --------------------------------------------------------------------------------------------
# Macro profiles: daily weights and intraday shapes
# --------------------------------------------------------------------------------------------


def typical_day_index(
    months: Iterable[pa.Table], level: pd.Series, groupings: Sequence[tuple[pd.Series, int]], window: Window
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The typical register's day, per group (segment) and date: the median over the group's
    registers with a fully actual day of that day's kWh over the register's own level
    (``level``: register_id -> its average day, > 0). For each grouping (register_id -> group
    code in [0, groups), groups) of ``groupings``, in one pass over ``months``: ((groups, days)
    index, NaN where no register; (groups, days) registers behind it).

    Why the median of each register's day over its level, not the average kWh per register: the
    average is the shape of the few largest sites (one 1,700 kWh/day business outweighs twenty
    small ones), and it moves with which registers delivered that day (the month's last days,
    before slow meter data arrives, hold mostly the fast ones). A mean of the ratios would be
    free of both, but a year-long level makes it drift with every register whose use changed
    within the year (a new household, an EV, a business that grew); the median is not moved by
    them. ``months``: register_days tables (register_id, read_date, kwh, actual_half_hours) whose
    dates never overlap (one per month), so each day's median is taken within one table."""
    out = [(np.full((n, window.days), np.nan), np.zeros((n, window.days), dtype=np.int64)) for _, n in groupings]
    level = level[level > 0]
    for table in months:
        # Dates as datetime64, not Python date objects (casting those per row was 80% of the time).
        t = table.select(["register_id", "read_date", "kwh", "actual_half_hours"]).to_pandas(date_as_object=False)
        t = t[(t["actual_half_hours"] == HALF_HOURS) & t["register_id"].isin(level.index)]
        day = window.index(t["read_date"].to_numpy().astype("datetime64[D]"))
        t = t.assign(
            _day=day, _ratio=t["kwh"].to_numpy(dtype=float) / t["register_id"].map(level).to_numpy(dtype=float)
        )
        t = t[day >= 0]
        for (group_of, _), (index, registers) in zip(groupings, out):
            g = t.assign(_group=t["register_id"].map(group_of)).dropna(subset=["_group"])
            g = g.groupby([g["_group"].astype(np.int64), "_day"])["_ratio"].agg(["median", "size"])
            gi, di = g.index.get_level_values(0).to_numpy(), g.index.get_level_values(1).to_numpy()
            index[gi, di] = g["median"].to_numpy()
            registers[gi, di] = g["size"].to_numpy()
    return out


def typical_daily_weights(
    profile_daily: np.ndarray,
    index: np.ndarray,
    registers: np.ndarray,
    wide_index: np.ndarray,
    wide_registers: np.ndarray,
    wide_of: np.ndarray,
    min_registers: int = DEFAULT_MIN_REGISTERS,
) -> np.ndarray:
    """Daily weights (mean 1 over the window) per segment from typical_day_index: the segment's own
    index where at least ``min_registers`` registers are behind it, else that of its wider group
    (``wide_of``: each segment's row in ``wide_index``, e.g. the same class and stream in every
    jurisdiction, as segment fills use) where that has them; a day neither has takes the profile's
    own weight (``profile_daily``: (segments, days), the average kWh's daily weights) rescaled to
    the index; a segment with no index at all keeps the profile's weights."""
    own = np.where(registers >= min_registers, index, np.nan)
    wide = np.where(wide_registers >= min_registers, wide_index, np.nan)[np.asarray(wide_of)]
    value = np.where(np.isfinite(own), own, wide)
    known: np.ndarray = np.isfinite(value) & (np.asarray(profile_daily) > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.nansum(np.where(known, value, 0.0), axis=1) / np.nansum(np.where(known, profile_daily, 0.0), axis=1)
    value = np.where(np.isfinite(value), value, profile_daily * np.nan_to_num(scale)[:, None])
    any_known = np.asarray(known.any(axis=1))
    value = np.where(any_known[:, None], value, profile_daily)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = value.mean(axis=1, keepdims=True)
        return np.where(mean > 0, value / mean, 1.0)


def typical_segment_weights(
    names: list[str],
    profile_daily: np.ndarray,
    registers: pd.DataFrame,
    levels: pd.Series,
    months: Iterable[pa.Table],
    window: Window,
    min_registers: int = DEFAULT_MIN_REGISTERS,
) -> np.ndarray:
    """typical_daily_weights for the segments ``names`` from the profile registers of
    ``registers`` (register_id, segment, profile_register) at their own ``levels`` (register_id
    -> average day), the wider group being the same class and stream in every jurisdiction."""
    profiled = registers[registers["profile_register"].astype(bool) & registers["segment"].isin(names)]
    position = {n: i for i, n in enumerate(names)}
    parts = [n.split("|") for n in names]
    wide_names, wide_of = np.unique([f"{p[0]}|*|{p[2]}" for p in parts], return_inverse=True)
    segment_of = pd.Series(profiled["segment"].map(position).to_numpy(), index=profiled["register_id"].to_numpy())
    (own, own_n), (wide, wide_n) = typical_day_index(
        months,
        levels,
        [
            (segment_of, len(names)),
            (pd.Series(wide_of[segment_of.to_numpy()], index=segment_of.index), len(wide_names)),
        ],
        window,
    )
    return typical_daily_weights(profile_daily, own, own_n, wide, wide_n, wide_of, min_registers)


@dataclass
class MacroProfiles:
    keys: list[str]  # segment names, then GAS|<network_id>
    daily: np.ndarray  # (keys, days): the day's weight, averaging 1 over the window
    intraday: np.ndarray  # (segments, days, 48): each day's shape, summing to 1
    window: Window
    # (keys, days up to the day before the window): a key's own weight on a day before the window,
    # on the window's scale (gas: the network's volume that day over its mean in the window); NaN
    # where unknown (every segment: interval data is profiled over the window only).
    earlier: np.ndarray | None = None

    @property
    def earlier_start(self) -> np.datetime64:
        """The first date ``earlier`` covers."""
        days = 0 if self.earlier is None else self.earlier.shape[1]
        return np.datetime64(self.window.start) - days

    def weights(self, key_index: np.ndarray, dates: np.ndarray) -> np.ndarray:
        """Daily weight for each (key, date). A date before the window takes the key's own weight of
        that day when known (``earlier``), else, like a date after it, the same weekday a year on/back:
        that day's season but another year's weather, which a read interval long ago would otherwise
        be measured against (for gas the network's own volumes are the day's weather)."""
        dates = np.asarray(dates, dtype="datetime64[D]")
        key_index = np.asarray(key_index, dtype=np.int64)
        w = self.daily[key_index, self.window.seasonal_index(dates)]
        if self.earlier is None or not self.earlier.shape[1]:
            return w
        pos = (dates - self.earlier_start).astype(np.int64)
        before = (pos >= 0) & (dates < np.datetime64(self.window.start))
        own = np.full(len(w), np.nan)
        own[before] = self.earlier[key_index[before], pos[before]]
        return np.where(np.isfinite(own), own, w)

    def lowest(self) -> np.ndarray:
        """Each key's mildest day's weight, over the window and the known days before it."""
        low = self.daily.min(axis=1) if self.daily.shape[1] else np.ones(len(self.keys))
        if self.earlier is not None and self.earlier.shape[1]:
            with np.errstate(invalid="ignore"):
                known = np.where(np.isfinite(self.earlier), self.earlier, np.inf).min(axis=1)
            low = np.minimum(low, known)
        return low

    def key_index(self, names) -> np.ndarray:
        pos = {k: i for i, k in enumerate(self.keys)}
        return np.array([pos.get(n, -1) for n in names], dtype=np.int64)


def profile_daily_weights(profiles: SegmentProfiles) -> np.ndarray:
    """Each segment's daily weight from its profile: the day's average kWh over the window's mean
    day ((segments, days); 1 where a segment has none). typical_daily_weights falls back to it."""
    total = profiles.values.sum(axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total.mean(axis=1, keepdims=True)
        return np.where(mean > 0, total / mean, 1.0)


def macro_profiles(
    profiles: SegmentProfiles, gas_volumes: pd.DataFrame, window: Window, typical_daily: np.ndarray | None = None
) -> MacroProfiles:
    """Segment shapes from the segment profiles; gas daily shapes per network from its daily volumes
    (``gas_volumes``: utility_network_id, gas_date, volume). A network's missing days take the
    same weekday's volume a week either side, else the network's average. ``typical_daily``
    (typical_daily_weights, (segments, days)) replaces the segments' daily weights when given;
    the intraday shares are the profiles' either way."""
    total = profiles.values.sum(axis=2)  # (S, D)
    daily = profile_daily_weights(profiles) if typical_daily is None else np.asarray(typical_daily)
    with np.errstate(invalid="ignore", divide="ignore"):
        intraday = np.where(total[..., None] > 0, profiles.values / total[..., None], 1.0 / HALF_HOURS)
    keys = list(profiles.names)
    gas_dates = pd.to_datetime(gas_volumes["gas_date"]).to_numpy().astype("datetime64[D]")
    first = gas_dates.min() if len(gas_dates) else np.datetime64(window.start)
    before_days = max(int((np.datetime64(window.start) - first).astype(np.int64)), 0)
    gas_rows, gas_earlier = [], []
    for network, g in gas_volumes.groupby("utility_network_id", sort=True):
        dates = pd.to_datetime(g["gas_date"]).to_numpy().astype("datetime64[D]")
        volume = g["volume"].to_numpy(dtype=float)
        vol = np.full(window.days, np.nan)
        di = window.index(dates)
        ok = di >= 0
        vol[di[ok]] = volume[ok]
        for k in (7, -7, 14, -14):
            gap = np.isnan(vol)
            if not gap.any():
                break
            vol[gap] = np.roll(vol, k)[gap]
        vol = np.where(np.isnan(vol), np.nanmean(vol) if (~np.isnan(vol)).any() else 1.0, vol)
        gas_rows.append(vol / vol.mean())
        # The network's days before the window, on the window's scale (a day without a volume: unknown).
        early = np.full(before_days, np.nan)
        pos = (dates - (np.datetime64(window.start) - before_days)).astype(np.int64)
        was = (pos >= 0) & (pos < before_days)
        early[pos[was]] = volume[was] / vol.mean()
        gas_earlier.append(early)
        keys.append(f"GAS|{int(network)}")
    if gas_rows:
        daily = np.vstack([daily, np.array(gas_rows)])
    earlier = np.full((len(keys), before_days), np.nan)
    if gas_earlier:
        earlier[len(keys) - len(gas_earlier) :] = np.array(gas_earlier)
    return MacroProfiles(keys, daily, intraday, window, earlier if before_days else None)


# --------------------------------------------------------------------------------------------
# To and from the lake (dense arrays as Arrow tables, in a fixed order)
# --------------------------------------------------------------------------------------------


def dense_to_table(
    names: list[str],
    window: Window,
    matrix: np.ndarray,
    counts: np.ndarray,
    status: np.ndarray | None = None,
    name: str = "segment",
) -> pa.Table:
    """(keys, days, 48) plus (keys, days) counts -> one row per key x date with a 48-value list."""
    S, D = counts.shape
    flat = matrix.reshape(-1, HALF_HOURS).reshape(-1)
    offsets = pa.array(np.arange(0, S * D * HALF_HOURS + 1, HALF_HOURS, dtype=np.int32))
    cols = {
        name: pa.array(np.repeat(np.array(names, dtype=object), D), pa.string()),
        "date": pa.array(np.tile(window.dates, S)),
        "registers": pa.array(counts.reshape(-1).astype(np.int32)),
        "values": pa.ListArray.from_arrays(offsets, pa.array(np.round(flat, 6))),
    }
    if status is not None:
        cols["status"] = pa.array(status.reshape(-1), pa.string())
    return pa.table(cols)


def table_to_dense(table: pa.Table, name: str = "segment") -> tuple[list[str], np.ndarray, np.ndarray]:
    """The inverse of dense_to_table: (names in order, (S, D, 48), (S, D) counts)."""
    names = list(dict.fromkeys(table[name].to_pylist()))
    S = len(names)
    D = table.num_rows // S if S else 0
    values = pc.list_flatten(table["values"]).to_numpy(zero_copy_only=False).reshape(S, D, HALF_HOURS)
    return names, values, table["registers"].to_numpy().reshape(S, D)


def macro_to_tables(macro: MacroProfiles) -> dict[str, pa.Table]:
    K, D = macro.daily.shape
    daily = pa.table(
        {
            "profile_key": pa.array(np.repeat(np.array(macro.keys, dtype=object), D), pa.string()),
            "date": pa.array(np.tile(macro.window.dates, K)),
            "weight": pa.array(np.round(macro.daily.reshape(-1), 8)),
        }
    )
    segments = macro.keys[: macro.intraday.shape[0]]
    intraday = dense_to_table(
        segments, macro.window, macro.intraday, np.zeros(macro.intraday.shape[:2], dtype=np.int32)
    ).drop_columns(["registers"])
    tables = {"daily_shape": daily, "intraday_shape": intraday.rename_columns(["profile_key", "date", "shares"])}
    tables["daily_before_window"] = earlier_to_table(macro)
    return tables


def earlier_to_table(macro: MacroProfiles) -> pa.Table:
    """The known weights before the window (MacroProfiles.earlier), one row per key and date."""
    e = macro.earlier if macro.earlier is not None else np.zeros((len(macro.keys), 0))
    k, d = np.nonzero(np.isfinite(e))
    return pa.table(
        {
            "profile_key": pa.array(np.array(macro.keys, dtype=object)[k], pa.string()),
            "date": pa.array(macro.earlier_start + d.astype("timedelta64[D]"), pa.date32()),
            "weight": pa.array(np.round(e[k, d], 8), pa.float64()),
        }
    )


def macro_from_tables(
    daily: pa.Table, intraday: pa.Table, window: Window, before_window: pa.Table | None = None
) -> MacroProfiles:
    keys = list(dict.fromkeys(daily["profile_key"].to_pylist()))
    weights = daily["weight"].to_numpy().reshape(len(keys), -1)
    segments = len(dict.fromkeys(intraday["profile_key"].to_pylist()))
    shares = pc.list_flatten(intraday["shares"]).to_numpy(zero_copy_only=False).reshape(segments, -1, HALF_HOURS)
    earlier = None
    if before_window is not None and before_window.num_rows:
        dates = before_window["date"].to_numpy().astype("datetime64[D]")
        days = int((np.datetime64(window.start) - dates.min()).astype(np.int64))
        earlier = np.full((len(keys), days), np.nan)
        k = pd.Index(keys).get_indexer(before_window["profile_key"].to_pylist())
        pos = (dates - (np.datetime64(window.start) - days)).astype(np.int64)
        earlier[k, pos] = before_window["weight"].to_numpy()
    return MacroProfiles(keys, weights, shares, window, earlier)
