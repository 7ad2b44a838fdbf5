"""Accumulation (basic) meter reads → consumption between reads (DESIGN §5.4), vectorised.

A register's consumption between two reads is the difference of readings, wrapping at
10^dial_digits when the meter rolled over. A reading that goes backwards by less than a
plausible rollover is a meter exchange (or a bad read): the new reading starts a new baseline and
the interval is an exception, never a negative or absurd consumption. Duplicate reads on one date
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
    intervals: pd.DataFrame  # meter_register_id, from_date, to_date, days, consumption, rolled_over, to_read_type
    exceptions: pd.DataFrame  # meter_register_id, read_date, code, reason


def consumption_between_reads(reads: pd.DataFrame, dial_digits: pd.Series) -> ReadConsumption:
    """``reads``: id, meter_register_id, read_date, reading, read_type (ACTUAL | ESTIMATE).
    ``dial_digits``: indexed by meter_register_id."""
    r = reads.assign(actual=(reads["read_type"] == "ACTUAL").astype(int))
    r = r.sort_values(["meter_register_id", "read_date", "actual", "id"])
    dup = r.duplicated(["meter_register_id", "read_date"], keep="last")
    exceptions = [pd.DataFrame({
        "meter_register_id": r.loc[dup, "meter_register_id"], "read_date": r.loc[dup, "read_date"],
        "code": "duplicate_read",
        "reason": "another read on the same date was kept (actual over estimate, then the latest)",
    })]
    r = r[~dup]
    prev_reading = r.groupby("meter_register_id")["reading"].shift()
    prev_date = r.groupby("meter_register_id")["read_date"].shift()
    has_prev = prev_reading.notna()
    dial = 10.0 ** r["meter_register_id"].map(dial_digits).to_numpy(dtype=float)
    delta = r["reading"].to_numpy(dtype=float) - prev_reading.to_numpy(dtype=float)
    wrapped = delta + dial
    rolled = has_prev.to_numpy() & (delta < 0) & (wrapped <= ROLLOVER_MAX_SHARE * dial)
    backwards = has_prev.to_numpy() & (delta < 0) & ~rolled
    consumption = np.where(rolled, wrapped, delta)
    out = pd.DataFrame({
        "meter_register_id": r["meter_register_id"].to_numpy(), "from_date": prev_date.to_numpy(),
        "to_date": r["read_date"].to_numpy(), "consumption": np.round(consumption, 3), "rolled_over": rolled,
        "to_read_type": r["read_type"].to_numpy(),
    })
    keep = has_prev.to_numpy() & ~backwards
    back = r[backwards]
    exceptions.append(pd.DataFrame({
        "meter_register_id": back["meter_register_id"], "read_date": back["read_date"], "code": "reading_backwards",
        "reason": [f"reading {c:g} is below the previous {p:g} by more than a plausible rollover of a {int(d)}-unit "
                   f"dial: treated as a meter exchange, the new reading starts a new baseline"
                   for c, p, d in zip(back["reading"], prev_reading[backwards], dial[backwards])],
    }))
    intervals = out[keep].reset_index(drop=True)
    intervals.insert(3, "days", (pd.to_datetime(intervals["to_date"]) - pd.to_datetime(intervals["from_date"])).dt.days)
    return ReadConsumption(intervals, pd.concat(exceptions, ignore_index=True))
