"""The dataset registry (bua_assets/datasets.py): one declaration per lake dataset, each written by
an asset of the graph, and the registries derived from it."""

from __future__ import annotations

import dagster as dg
import pytest

from bua_assets.datasets import ACCOUNT_EXCEPTIONS, DATASETS, ERROR_SOURCES, Dataset, Kind
from bua_assets.definitions import ALL_ASSETS, defs


def test_each_dataset_is_declared_once_by_an_asset_of_the_graph():
    pairs = [(d.asset, d.name) for d in DATASETS]
    assert len(pairs) == len(set(pairs))
    assets = {a.key.to_user_string() for a in ALL_ASSETS}
    assert {d.asset for d in DATASETS} <= assets


def test_errors_collects_the_exception_and_quarantine_datasets_and_depends_on_their_assets():
    assert [d.label for d in ERROR_SOURCES] == [
        "interval_reads.quarantine",
        "interval_statistics.meter_data_exceptions",
        "unbilled_window.exceptions",
        "micro_scalars.exceptions",
        "basic_reads.exceptions",
        "nem12_estimates.exceptions",
        "unbilled_consumption.exceptions",
        "invoice_line_items.exceptions",
        "accrual_true_up.exceptions",
    ]  # the order of the errors table's sources
    parents = {k.to_user_string() for k in defs.resolve_asset_graph().get(dg.AssetKey("errors")).parent_keys}
    assert {d.asset for d in ERROR_SOURCES} <= parents
    assert {d.label for d in ACCOUNT_EXCEPTIONS} == {
        "unbilled_window.exceptions",
        "unbilled_consumption.exceptions",
        "invoice_line_items.exceptions",
    }


def test_only_exception_or_quarantine_datasets_can_feed_errors():
    with pytest.raises(ValueError, match=r"x\.y: only exceptions or quarantine"):
        Dataset("x", "y", Kind.OUTPUT, in_errors=True)
    assert Dataset("x", "y", Kind.QUARANTINE, in_errors=True).label == "x.y"
