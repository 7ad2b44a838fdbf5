"""Accumulation (basic) meter reads → consumption between reads (DESIGN §5.4), vectorised.

A register's consumption between two reads is the difference of readings, wrapping at
10^dial_digits when the meter rolled over. A reading that goes backwards by less than a
plausible rollover is a meter exchange (or a bad read): the new reading starts a new baseline and
the interval is an exception, never a negative or absurd consumption. The one exception: an
actual reading a little below an estimated one corrects the over-estimate (negative use). Duplicate reads on one date
keep the actual over the estimate, then the latest id; the others are exceptions too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

# A wrap is accepted when the consumption it implies is under a fifth of the dial (20,000 kWh on a
# 5-digit dial, years of a household's use); beyond that, a backwards reading is far more likely a
# new meter than a customer using most of a dial between two reads.
ROLLOVER_MAX_SHARE = 0.2


@dataclass
class ReadConsumption:
    intervals: pd.DataFrame  # meter_register_id, from_date, to_date, days, consumption, rolled_over, to/from_read_type
    exceptions: pd.DataFrame  # meter_register_id, read_date, code, reason


def consumption_between_reads(reads: pd.DataFrame, dial_digits: pd.Series) -> ReadConsumption:
    """``reads``: id, meter_register_id, read_date, reading, read_type (ACTUAL | ESTIMATE).
    ``dial_digits``: indexed by meter_register_id."""
    r = reads.assign(actual=(reads["read_type"] == "ACTUAL").astype(int))
    r = r.sort_values(["meter_register_id", "read_date", "actual", "id"])
    dup = r.duplicated(["meter_register_id", "read_date"], keep="last")
    exceptions = [
        pd.DataFrame(
            {
                "meter_register_id": r.loc[dup, "meter_register_id"],
                "read_date": r.loc[dup, "read_date"],
                "code": "duplicate_read",
                "reason": "another read on the same date was kept (actual over estimate, then the latest)",
            }
        )
    ]
    r = r[~dup]
    prev_reading = r.groupby("meter_register_id")["reading"].shift()
    prev_date = r.groupby("meter_register_id")["read_date"].shift()
    prev_type = r.groupby("meter_register_id")["read_type"].shift()
    has_prev = prev_reading.notna()
    dial = 10.0 ** r["meter_register_id"].map(dial_digits).to_numpy(dtype=float)
    delta = r["reading"].to_numpy(dtype=float) - prev_reading.to_numpy(dtype=float)
    wrapped = delta + dial
    # Below an estimated read, a smaller actual reading corrects the over-estimate: negative use.
    corrects = (
        has_prev.to_numpy() & (delta < 0) & (prev_type == "ESTIMATE").to_numpy() & (-delta <= ROLLOVER_MAX_SHARE * dial)
    )
    rolled = has_prev.to_numpy() & (delta < 0) & ~corrects & (wrapped <= ROLLOVER_MAX_SHARE * dial)
    backwards = has_prev.to_numpy() & (delta < 0) & ~rolled & ~corrects
    consumption = np.where(rolled, wrapped, delta)
    out = pd.DataFrame(
        {
            "meter_register_id": r["meter_register_id"].to_numpy(),
            "from_date": prev_date.to_numpy(),
            "to_date": r["read_date"].to_numpy(),
            "consumption": np.round(consumption, 3),
            "rolled_over": rolled,
            "to_read_type": r["read_type"].to_numpy(),
            "from_read_type": prev_type.to_numpy(),
        }
    )
    keep = has_prev.to_numpy() & ~backwards
    back = r[backwards]
    exceptions.append(
        pd.DataFrame(
            {
                "meter_register_id": back["meter_register_id"],
                "read_date": back["read_date"],
                "code": "reading_backwards",
                "reason": [
                    f"reading {c:g} is below the previous {p:g} by more than a plausible rollover of a {int(d)}-unit "
                    f"dial: treated as a meter exchange, the new reading starts a new baseline"
                    for c, p, d in zip(back["reading"], prev_reading[backwards], dial[backwards])
                ],
            }
        )
    )
    intervals = out[keep].reset_index(drop=True)
    intervals.insert(3, "days", (pd.to_datetime(intervals["to_date"]) - pd.to_datetime(intervals["from_date"])).dt.days)
    return ReadConsumption(intervals, pd.concat(exceptions, ignore_index=True))


# --------------------------------------------------------------------------------------------
# Daily consumption of accumulation registers and the estimated month-end read
# --------------------------------------------------------------------------------------------


def expand_days(first: np.ndarray, last: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every day of each inclusive range [first, last]: (range index, date), without a Python loop."""
    first = np.asarray(first, dtype="datetime64[D]")
    n = np.maximum((np.asarray(last, dtype="datetime64[D]") - first).astype(np.int64) + 1, 0)
    owner = np.repeat(np.arange(len(first)), n)
    step = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    return owner, first[owner] + step


def spread_reads(
    days: pd.DataFrame, intervals: pd.DataFrame, daily_estimate: np.ndarray, weight: np.ndarray, interval_weight
) -> pd.DataFrame:
    """Consumption per register-day for accumulation registers (DESIGN §5.4).

    ``days``: meter_register_id, date (one row per register-day wanted), with ``weight`` (the macro
    profile's weight of each row) and ``daily_estimate`` (micro scalar x weight). A day inside a
    read interval (from_date, to_date] gets that interval's actual consumption spread by the
    weights (``interval_weight(register, from, to)`` gives the interval's total weight); days after
    the last read (or before the first) get the estimate.
    Returns days with quantity, actual (both ends of the interval are actual reads) and source.
    """
    out = days.copy()
    out["_row"] = np.arange(len(out))
    out["_date"] = pd.to_datetime(out["date"])
    iv = intervals.assign(_to=pd.to_datetime(intervals["to_date"]), _from=pd.to_datetime(intervals["from_date"]))
    iv = iv.sort_values("_to")
    merged = pd.merge_asof(
        out.sort_values("_date"),
        iv[["meter_register_id", "_from", "_to", "consumption", "from_read_type", "to_read_type"]],
        left_on="_date",
        right_on="_to",
        by="meter_register_id",
        direction="forward",
    )
    merged = merged.sort_values("_row")
    inside = (merged["_from"] < merged["_date"]).to_numpy()
    quantity = daily_estimate.astype(float).copy()
    if inside.any():
        total_w = interval_weight(
            merged.loc[inside, "meter_register_id"].to_numpy(),
            merged.loc[inside, "_from"].to_numpy(),
            merged.loc[inside, "_to"].to_numpy(),
        )
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(total_w > 0, weight[inside] / total_w, 0.0)
        quantity[inside] = merged.loc[inside, "consumption"].to_numpy(dtype=float) * share
    actual = (
        inside & (merged["from_read_type"] == "ACTUAL").to_numpy() & (merged["to_read_type"] == "ACTUAL").to_numpy()
    )
    out = out.drop(columns=["_row", "_date"])
    out["quantity"] = quantity
    out["actual"] = actual
    out["source"] = np.where(inside, "read_interval", "estimate_after_last_read")
    return out


def heating_values(table: pd.DataFrame, network: np.ndarray, dates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Heating value (MJ/m3) per (network, date) from GasHeatingValue (utility_network_id, month,
    heating_value). A month without one takes the network's nearest month (flagged); a network
    with none at all gives NaN. Returns (heating value, substituted flag)."""
    month = np.asarray(dates, dtype="datetime64[D]").astype("datetime64[M]")
    hv = np.full(len(month), np.nan)
    substituted = np.zeros(len(month), dtype=bool)
    t = table.assign(_m=pd.to_datetime(table["month"]).to_numpy().astype("datetime64[M]"))
    for nw, g in t.groupby("utility_network_id"):
        rows = np.flatnonzero(network == nw)
        if not len(rows):
            continue
        g = g.sort_values("_m")
        months = g["_m"].to_numpy()
        values = g["heating_value"].to_numpy(dtype=float)
        pos = np.searchsorted(months, month[rows])
        exact = (pos < len(months)) & (months[np.clip(pos, 0, len(months) - 1)] == month[rows])
        before, after = np.clip(pos - 1, 0, len(months) - 1), np.clip(pos, 0, len(months) - 1)
        dist_before = np.abs((month[rows] - months[before]).astype(np.int64))
        dist_after = np.abs((months[after] - month[rows]).astype(np.int64))
        nearest = np.where(dist_before <= dist_after, before, after)
        hv[rows] = np.where(exact, values[after], values[nearest])
        substituted[rows] = ~exact
    return hv, substituted


def month_end_reads(
    registers: pd.DataFrame, reads: pd.DataFrame, daily_estimate, month_end, heating: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The estimated month-end read of every accumulation register (the legacy bua_create_basic_read).

    ``registers``: register_id, dial_digits, fuel, network_id, pressure_correction_factor.
    ``daily_estimate(register_ids, dates)`` gives the estimate per register-day.
    Read = last read + estimate from the day after it to the month end, wrapping at the dial.
    Gas also in MJ (m3 x heating value of each day's month x pressure correction).
    Returns (reads, exceptions): a register without any read is an exception, not a read.
    """
    r = reads.assign(_actual=(reads["read_type"] == "ACTUAL").astype(int))
    last = r.sort_values(["meter_register_id", "read_date", "_actual", "id"]).groupby("meter_register_id").tail(1)
    last = last.rename(
        columns={
            "meter_register_id": "register_id",
            "read_date": "last_read_date",
            "reading": "last_reading",
            "read_type": "last_read_type",
        }
    )
    out = registers.merge(
        last[["register_id", "last_read_date", "last_reading", "last_read_type"]], on="register_id", how="left"
    )
    no_read = out["last_read_date"].isna()
    exceptions = pd.DataFrame(
        {
            "register_id": out.loc[no_read, "register_id"],
            "code": "no_reads",
            "reason": "accumulation register without any read: no baseline for a month-end read",
        }
    )
    out = out[~no_read].reset_index(drop=True)
    end = np.datetime64(month_end, "D")
    owner, dates = expand_days(
        pd.to_datetime(out["last_read_date"]).to_numpy().astype("datetime64[D]") + 1, np.full(len(out), end)
    )
    per_day = daily_estimate(out["register_id"].to_numpy()[owner], dates)
    out["estimated_days"] = np.bincount(owner, minlength=len(out))
    estimate = np.bincount(owner, weights=per_day, minlength=len(out))
    gas = (out["fuel"] == "GAS").to_numpy()
    hv, substituted = heating_values(heating, out["network_id"].to_numpy()[owner], dates)
    mj = np.bincount(
        owner,
        weights=np.nan_to_num(per_day * hv) * out["pressure_correction_factor"].to_numpy(dtype=float)[owner],
        minlength=len(out),
    )
    no_hv = np.bincount(owner, weights=np.isnan(hv), minlength=len(out)) > 0
    sub = np.bincount(owner, weights=substituted, minlength=len(out)) > 0
    dial = 10.0 ** out["dial_digits"].to_numpy(dtype=float)
    total = out["last_reading"].to_numpy(dtype=float) + estimate
    out["estimate"] = np.round(estimate, 3)
    out["reading"] = np.round(np.floor(total) % dial, 0)
    out["rolled_over"] = total >= dial
    out["read_date"] = month_end
    out["read_type"] = "BUA_ESTIMATE"
    out["uom"] = np.where(gas, "M3", "KWH")
    out["estimate_mj"] = np.where(gas & ~no_hv, np.round(mj, 3), np.nan)
    out["heating_value_substituted"] = gas & sub
    for code, hit, reason in (
        (
            "heating_value_substituted",
            gas & sub & ~no_hv,
            "no heating value for the network in a month of the estimate: nearest month used",
        ),
        (
            "no_heating_value",
            gas & no_hv & (out["estimated_days"] > 0).to_numpy(),
            "the network has no heating value: the MJ estimate is left empty",
        ),
    ):
        exceptions = pd.concat(
            [exceptions, pd.DataFrame({"register_id": out.loc[hit, "register_id"], "code": code, "reason": reason})],
            ignore_index=True,
        )
    cols = [
        "register_id",
        "last_read_date",
        "last_reading",
        "last_read_type",
        "estimated_days",
        "estimate",
        "uom",
        "read_date",
        "reading",
        "read_type",
        "rolled_over",
        "estimate_mj",
        "heating_value_substituted",
    ]
    return out[cols], exceptions
