"""The accrual month: what a partition key means, in one place."""

from __future__ import annotations

from datetime import date

import pytest

from bua_assets.months import AccrualMonth, first_of_month_before
from bua_assets.runner import history_partitions


def test_a_partition_key_names_the_month_its_snapshot_follows():
    may = AccrualMonth.from_key("2024-05-01")
    assert (may.start, may.end, may.run_date) == (date(2024, 5, 1), date(2024, 5, 31), date(2024, 6, 1))
    assert (may.key, may.label, may.compact, str(may), may.days) == ("2024-05-01", "2024-05", "202405", "2024-05", 31)
    assert AccrualMonth.from_key("2024-05") == may


def test_december_runs_into_the_next_year_and_february_knows_leap_years():
    dec = AccrualMonth.from_key("2023-12-01")
    assert (dec.end, dec.run_date) == (date(2023, 12, 31), date(2024, 1, 1))
    assert AccrualMonth.from_key("2024-02").days == 29 and AccrualMonth.from_key("2023-02").days == 28


def test_shifting_and_history_cross_year_ends():
    jan = AccrualMonth.from_key("2024-01-01")
    assert jan.previous.key == "2023-12-01" and jan.shifted(13).key == "2025-02-01"
    assert [m.label for m in jan.history(3)] == ["2023-10", "2023-11", "2023-12"]
    assert AccrualMonth.containing(date(2024, 1, 17)) == jan and jan < jan.shifted(1)


@pytest.mark.parametrize("bad", ["2024-13-01", "May 2024", "", "2024-05-17"])
def test_anything_but_a_month_is_refused_by_name(bad):
    with pytest.raises(ValueError, match="month"):
        AccrualMonth.from_key(bad)


def test_the_span_and_the_history_partitions_follow_the_month():
    for key in ("2023-09-01", "2024-02-01", "2024-12-01"):
        m = AccrualMonth.from_key(key)
        assert m.span == (m.start, m.end) and first_of_month_before(m.run_date, 1) == m.start
    # the profiles read twelve months ending with the partition's own: the eleven before it
    assert history_partitions("2024-02-01", 12) == [f"2023-{n:02d}-01" for n in range(3, 13)] + ["2024-01-01"]
    assert history_partitions("2024-02-01", 1) == []
