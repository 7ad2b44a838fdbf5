"""One cent rule for every amount (billing/money.py): half away from zero, as invoices round."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bua_assets.billing.money import GST_RATE, gst, round_cents


def test_halves_round_away_from_zero_where_numpy_and_pandas_round_to_even():
    halves = [0.125, -0.125, 0.005, 2.675, 1.005, -1.005]
    assert [round_cents(x) for x in halves] == [0.13, -0.13, 0.01, 2.68, 1.01, -1.01]
    # the rule this module replaces: numpy/pandas round half to even, and binary floats
    assert list(np.round(halves[:3], 2)) == [0.12, -0.12, 0.0] and list(pd.Series(halves[:3]).round(2)) == [
        0.12,
        -0.12,
        0.0,
    ]
    assert round_cents(12.344999) == 12.34 and round_cents(-0.004) == 0.0


def test_arrays_series_and_frames_keep_their_shape_and_index():
    s = pd.Series([0.125, 10.0049], index=[7, 9], name="net_amount")
    r = round_cents(s)
    assert list(r) == [0.13, 10.0] and list(r.index) == [7, 9] and r.name == "net_amount"
    f = round_cents(pd.DataFrame({"a": [0.005], "b": [-2.675]}))
    assert f.to_dict("list") == {"a": [0.01], "b": [-2.68]}
    assert round_cents(np.array([[0.015, 0.025]])).tolist() == [[0.02, 0.03]]


def test_gst_is_ten_percent_of_the_net_to_the_cent():
    assert GST_RATE == 0.10
    assert gst(10.05) == 1.01 and gst(-10.05) == -1.01 and gst(0.04) == 0.0
    assert gst(np.array([123.45, 0.05])).tolist() == [12.35, 0.01]
    assert list(gst(pd.Series([99.95]))) == [10.0]
