"""Consumption between accumulation-meter reads: rollover, meter exchange, duplicate reads."""

from __future__ import annotations

from datetime import date

import pandas as pd

from bua_assets.estimation.basic import consumption_between_reads


def reads(*rows):
    return pd.DataFrame(rows, columns=["id", "meter_register_id", "read_date", "reading", "read_type"])


DIGITS = pd.Series({1: 5, 2: 5, 3: 4})


def test_plain_difference_and_rollover_at_the_dial():
    r = reads(
        (1, 1, date(2026, 1, 1), 1000.0, "ACTUAL"),
        (2, 1, date(2026, 4, 1), 2250.0, "ACTUAL"),
        (3, 2, date(2026, 1, 1), 99900.0, "ACTUAL"),
        (4, 2, date(2026, 4, 1), 150.0, "ESTIMATE"),
    )
    out = consumption_between_reads(r, DIGITS)
    got = out.intervals[["meter_register_id", "days", "consumption", "rolled_over", "to_read_type"]].values.tolist()
    assert got == [[1, 90, 1250.0, False, "ACTUAL"], [2, 90, 250.0, True, "ESTIMATE"]]
    assert out.exceptions.empty


def test_reading_backwards_without_rollover_is_a_meter_exchange():
    r = reads(
        (1, 3, date(2026, 1, 1), 5200.0, "ACTUAL"),
        (2, 3, date(2026, 2, 1), 12.0, "ACTUAL"),
        (3, 3, date(2026, 3, 1), 400.0, "ACTUAL"),
    )
    out = consumption_between_reads(r, DIGITS)
    # 5200 -> 12 on a 4-digit dial would be 4,812 units in a month: a new meter, not a rollover.
    assert out.intervals[["from_date", "consumption"]].values.tolist() == [[date(2026, 2, 1), 388.0]]
    (exc,) = out.exceptions.to_dict("records")
    assert exc["code"] == "reading_backwards" and exc["read_date"] == date(2026, 2, 1)
    assert "5200" in exc["reason"] and "meter exchange" in exc["reason"]


def test_duplicate_reads_on_a_date_keep_the_actual():
    r = reads(
        (1, 1, date(2026, 1, 1), 1000.0, "ACTUAL"),
        (2, 1, date(2026, 2, 1), 1400.0, "ACTUAL"),
        (3, 1, date(2026, 2, 1), 1550.0, "ESTIMATE"),
    )
    out = consumption_between_reads(r, DIGITS)
    assert out.intervals["consumption"].tolist() == [400.0]
    assert out.exceptions[["code", "read_date"]].values.tolist() == [["duplicate_read", date(2026, 2, 1)]]


def test_generated_reads_never_give_negative_consumption(retailer):
    import sqlite3

    con = sqlite3.connect(retailer[0] / "core.db")
    r = pd.read_sql(
        "select id, meter_register_id, date(read_date) as read_date, reading, read_type from BasicRead", con
    )
    digits = pd.read_sql("select id, dial_digits from MeterRegister", con).set_index("id")["dial_digits"]
    out = consumption_between_reads(r, digits)
    assert len(out.intervals) > 50 and (out.intervals["consumption"] >= 0).all()
    assert out.intervals["rolled_over"].any()  # the generator winds some dials past 10^digits
