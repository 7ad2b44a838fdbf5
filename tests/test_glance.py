"""The month at a glance: the accrual by state x fuel against last month, formatted for finance."""

import math

import pandas as pd
import pytest

from bua_assets.billing.glance import ACCRUAL, glance_display, glance_text, money, month_at_a_glance, percent


def summary(rows):
    return pd.DataFrame(rows, columns=["state", "fuel", "unbilled_month", ACCRUAL])


CURRENT = summary(
    [
        ("NSW", "ELECTRICITY", "2026-09", 10_000.004),
        ("NSW", "ELECTRICITY", "2026-10", 23_616.6),
        ("VIC", "GAS", "2026-10", 404.6),
        ("SA", "ELECTRICITY", "2026-10", -12.5),  # a net credit (corrections) stays negative
    ]
)
PREVIOUS = summary([("NSW", "ELECTRICITY", "2026-09", 30_000.0), ("QLD", "GAS", "2026-09", 250.0)])


def test_cells_from_either_month_sum_over_unbilled_months_and_compare():
    g = month_at_a_glance(CURRENT, PREVIOUS).set_index(["state", "fuel"])
    assert g.loc[("NSW", "ELECTRICITY")].tolist() == [33_616.6, 30_000.0, 3_616.6, 12.1]
    assert g.loc[("QLD", "GAS"), ["accrual", "last_month", "movement", "movement_pct"]].tolist() == [
        0.0,
        250.0,
        -250.0,
        -100.0,
    ]
    assert g.loc[("SA", "ELECTRICITY"), "accrual"] == -12.5
    assert math.isnan(g.loc[("VIC", "GAS"), "movement_pct"])  # nothing last month: no base for a percentage


def test_total_row_last_and_equal_to_the_cells():
    g = month_at_a_glance(CURRENT, PREVIOUS)
    total, cells = g.iloc[-1], g.iloc[:-1]
    assert total["state"] == "Total" and (g["state"] == "Total").sum() == 1
    assert total["accrual"] == pytest.approx(cells["accrual"].sum(), abs=0.005)
    assert total["last_month"] == pytest.approx(30_250.0)
    assert total["movement"] == pytest.approx(total["accrual"] - total["last_month"], abs=0.005)
    assert list(cells["state"]) == sorted(cells["state"])


def test_without_last_months_accrual_the_comparison_is_unknown_not_zero():
    g = month_at_a_glance(CURRENT, None)
    assert g[["last_month", "movement", "movement_pct"]].isna().all().all()
    assert g["accrual"].iloc[-1] == pytest.approx(CURRENT[ACCRUAL].sum(), abs=0.005)
    assert glance_display(g, "2026-10", "2026-09").iloc[-1].tolist() == ["Total", "", "34,008.70", "n/a", "n/a", "n/a"]


def test_money_has_separators_and_two_decimals():
    assert [money(v) for v in (33616.6, 404.6, -1250, 0.0, 1234567.891, float("nan"))] == [
        "33,616.60",
        "404.60",
        "-1,250.00",
        "0.00",
        "1,234,567.89",
        "n/a",
    ]
    assert [percent(v) for v in (12.06, -100.0, float("nan"))] == ["+12.1%", "-100.0%", "n/a"]


def test_display_and_text_name_the_months_and_align_money_right():
    g = month_at_a_glance(CURRENT, PREVIOUS)
    shown = glance_display(g, "2026-10", "2026-09")
    assert list(shown.columns) == ["state", "fuel", "accrual 2026-10", "last month 2026-09", "movement", "movement %"]
    assert shown.iloc[0].tolist() == ["NSW", "electricity", "33,616.60", "30,000.00", "3,616.60", "+12.1%"]
    lines = glance_text(g, "2026-10", "2026-09").splitlines()
    assert len(lines) == len(g) + 1 and lines[-1].startswith("Total")
    assert len({len(line) for line in lines[1:]}) == 1  # right-aligned: every row ends in the same column
