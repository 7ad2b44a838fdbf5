"""Supplementary lines on the real tables (DESIGN §5.6): compare and cancel for every charge item
of a billed period, columnar from end to end.

The supply points of flagged versions are taken whole: every non-DRAFT version on them, of any
billing account, and every issued transaction billed for them (daily supply, usage per time
class, controlled load, solar feed-in; discounts ride on their lines). Then:

1. previous transactions are cleansed: each credit cancels one matching debit;
2. the billed periods are the periods of the remaining debits, each with the quantities as
   billed per charge item and time class (the latest invoice's, summed over its step blocks);
3. each billed period is re-priced for every APPROVED version overlapping it, over the overlap,
   quantities pro-rated by days, by the accrual's own tariff engine (``tariff.price``: 1 July
   splits, step blocks pro-rated by days, TOU rates, conditional/guaranteed discounts with the
   pay-on-time propensity, GST beside);
4. ``compare_and_cancel``: each calculated line cancels one remaining debit with the same
   charge item, time class, start, days, quantity, rate and discount; what is left is billed,
   unmatched debits are reversed.

A billed quantity the new plan rates by other time classes is re-rated first (``rerating``: time
of use summed onto a flat plan; a flat figure split onto time of use by the interval data of
those days, or the load profile, flagged estimated). A billed period the engine still cannot
re-price (no rate on the new plan) is not reopened at all, and an exception says why; so is one
starting before the lookback horizon. Nothing is matched row by row in Python: joins, sorts and group numbering.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from bua_assets.billing.charges import CHARGE_TYPES, CREDIT_CHARGES, SUPPLY_CHARGE
from bua_assets.billing.history import ISSUED
from bua_assets.billing.money import gst, round_cents
from bua_assets.billing.rerating import HalfHours, measured_demand, rerate
from bua_assets.billing.supplementary import (
    EXCEPTION_COLUMNS,
    cleanse,
    compare_and_cancel,
    match_values,
    period_exceptions,
)
from bua_assets.billing.tariff import PRICED_COLUMNS, price, with_terms
from bua_assets.estimation.consumption import TOU_CLASSES, TimeOfUse

GROUP = ["account_id", "utility_id"]
KEY = ["charge_type", "time_class", "period_start", "days", "q_key", "rate_key", "discount_key"]
PERIOD = ["utility_id", "billed_start", "billed_end"]
OUT_COLUMNS = [
    "account_id",
    "utility_id",
    "period_start",
    "period_end",
    "plan_id",
    "charge_type",
    "time_class",
    "days",
    "block_order",
    "quantity",
    "uom",
    "rate",
    "net_amount",
    "discount_net",
    "discount_net_propensity",
    "discount_state",
    "gst",
    "is_credit",
]
DISCOUNT_COLUMNS = ["plan_id", "discount_type", "method", "rate", "effective_from", "effective_to"]
FAR = pd.Timestamp("2262-04-01")


def flagged_line_items(line_items: pa.Table, account_plans: pd.DataFrame) -> pd.DataFrame:
    """The line items of supply points with a version flagged for supplementary processing
    (filtered in Arrow: the rest of InvoiceLineItem never becomes a DataFrame)."""
    flagged = account_plans.loc[account_plans["include_in_supplementary"] == 1, "utility_id"].unique()
    keep = pc.is_in(line_items["utility_id"], value_set=pa.array(flagged).cast(line_items["utility_id"].type))
    return line_items.filter(pc.fill_null(keep, False)).to_pandas()


def _keys(frame: pd.DataFrame) -> pd.DataFrame:
    q, r, d = match_values(
        frame["quantity"].to_numpy(dtype=float),
        frame["rate"].to_numpy(dtype=float),
        frame["discount_net"].to_numpy(dtype=float),
    )
    return frame.assign(q_key=q, rate_key=r, discount_key=d)


def previous_transactions(invoices: pd.DataFrame, line_items: pd.DataFrame) -> pd.DataFrame:
    """Issued line items as transactions: is_credit and issue_date from the invoice, dates as
    datetimes, absolute quantity, billable days and the match key columns."""
    issued = invoices[invoices["status"] == ISSUED].set_index("id")
    b = line_items[line_items["invoice_id"].isin(issued.index)].copy()
    b["is_credit"] = b["invoice_id"].map(issued["is_credit"].astype(bool)).to_numpy(dtype=bool)
    b["issue_date"] = pd.to_datetime(b["invoice_id"].map(issued["issue_date"]))
    if "uom" not in b:
        b["uom"] = np.where(b["plan_item_type_name"] == SUPPLY_CHARGE, "DAY", "KWH")
    if "discount_net" not in b:
        b["discount_net"] = 0.0
    b = b.rename(columns={"plan_item_type_name": "charge_type", "time_class_name": "time_class"})
    b["period_start"] = pd.to_datetime(b["period_start"])
    b["period_end"] = pd.to_datetime(b["period_end"])
    b["days"] = (b["period_end"] - b["period_start"]).dt.days + 1
    for col in ("quantity", "rate", "net_amount", "discount_net"):
        b[col] = b[col].astype(float)
    b["quantity"] = b["quantity"].abs()
    return _keys(b.reset_index(drop=True))


def billed_periods(billed: pd.DataFrame, remaining: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the remaining debits with their billed period, billed_start/billed_end; the quantities as
    billed per billed period, charge item and time class).

    A billed period is a period an issued debit line covered that no other debit line of the
    supply point strictly contains: the bill's own period, never the parts a correction split it
    into. So a correction replaced back re-prices the whole period again and mirrors the first
    correction (the parts reversed, the period billed whole), instead of leaving it split. Its
    quantities are those of the latest invoice that billed the whole period (credited or not: a
    correction moves money, never quantities), summed over step blocks, in the kind of time classes
    (time of use or flat) of the latest invoice that billed the charge whole (a charge re-rated onto
    other classes is not counted twice); a remaining debit belongs to the billed period that
    contains it."""
    debits = billed.loc[~billed["is_credit"].to_numpy(dtype=bool)]
    spans = debits[["utility_id", "period_start", "period_end"]].drop_duplicates()
    pairs = spans.merge(spans, on="utility_id", suffixes=("", "_outer"))
    inside = (
        (pairs["period_start_outer"] <= pairs["period_start"])
        & (pairs["period_end"] <= pairs["period_end_outer"])
        & ((pairs["period_start_outer"] != pairs["period_start"]) | (pairs["period_end_outer"] != pairs["period_end"]))
    )
    contained = pairs.loc[inside, ["utility_id", "period_start", "period_end"]].drop_duplicates()
    outer = spans.merge(contained.assign(_inner=True), how="left", on=["utility_id", "period_start", "period_end"])
    outer = outer.loc[outer["_inner"].isna(), ["utility_id", "period_start", "period_end"]]
    outer = outer.rename(columns={"period_start": "billed_start", "period_end": "billed_end"})
    r = remaining.reset_index(drop=True).assign(_row=lambda f: np.arange(len(f)))
    home = r[["_row", "utility_id", "period_start", "period_end"]].merge(outer, on="utility_id")
    home = home[(home["billed_start"] <= home["period_start"]) & (home["period_end"] <= home["billed_end"])]
    home = home.sort_values(["_row", "billed_start"], kind="stable").drop_duplicates("_row")
    r = r.merge(home[["_row", "billed_start", "billed_end"]], on="_row").drop(columns="_row")
    whole = debits.rename(columns={"period_start": "billed_start", "period_end": "billed_end"}).merge(
        r[PERIOD].drop_duplicates(), on=PERIOD
    )
    q = whole.groupby([*PERIOD, "charge_type", "time_class", "uom", "invoice_id"], as_index=False)["quantity"].sum()
    q = q.sort_values("invoice_id", kind="stable").drop_duplicates([*PERIOD, "charge_type", "time_class"], keep="last")
    # A charge re-rated onto other time classes (a correction billed PEAK and OFF_PEAK for ANYTIME)
    # counts in the kind of classes (time of use or flat) of the latest invoice that billed it
    # whole, each class at its latest figure: the figures it replaced are not counted again.
    by_tou = q["time_class"].isin(TOU_CLASSES)
    latest_kind = by_tou.groupby([q[c] for c in (*PERIOD, "charge_type")]).transform("last")
    q = q[(by_tou == latest_kind).to_numpy()]
    return r, q.drop(columns="invoice_id")


def supplementary_lines(
    account_plans: pd.DataFrame,
    rates: pd.DataFrame,
    invoices: pd.DataFrame,
    line_items: pd.DataFrame,
    horizon_start,
    discounts: pd.DataFrame | None = None,
    propensity: pd.Series | pd.DataFrame | None = None,
    tou: TimeOfUse | None = None,
    half_hours: HalfHours | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(SUPPLEMENTARY lines: OUT_COLUMNS, credits with negative money and positive quantity;
    exceptions: account_id, utility_id, period_start, code, reason for what was not reopened).

    ``line_items``: InvoiceLineItem rows (at least those of flagged supply points); ``discounts``:
    PlanDiscount (none when omitted); ``propensity``: pay-on-time propensity by account id (0 when
    omitted), or accrual.customer_terms() (with bill length and GST registration); ``tou`` (the
    plans' time-of-use windows) and ``half_hours`` (the interval data or load profile of billed
    days) re-rate a flat billed figure onto a time-of-use plan (``rerating.rerate``; without them
    such a period is left as billed, with an exception). Billed periods starting before
    ``horizon_start`` are not reopened."""
    discounts = pd.DataFrame(columns=DISCOUNT_COLUMNS) if discounts is None else discounts
    terms = with_terms(pd.DataFrame({"account_id": account_plans["account_id"].unique()}), propensity).set_index(
        "account_id"
    )
    versions, billed, exceptions = _billed_in_play(account_plans, invoices, line_items, horizon_start)
    remaining = cleanse(billed, [*GROUP, *KEY])
    remaining, q = billed_periods(billed, remaining)
    approved = versions.loc[
        versions["status"] == "APPROVED", ["account_id", "utility_id", "plan_id", "start_date", "end_date"]
    ]
    c, found, unmeasured = _recalculation_candidates(q, approved, versions, rates, terms, tou, half_hours)
    c, remaining, overlapping = _without_overlapping_versions(c, remaining, approved)
    calculated, remaining, unpriced = _recalculated(c, remaining, unmeasured, rates, discounts)
    lines = _correction_lines(calculated, remaining, versions, discounts, terms)
    exceptions += [*found, overlapping, unpriced]
    return lines, pd.concat(exceptions, ignore_index=True)[EXCEPTION_COLUMNS]


def _billed_in_play(
    account_plans: pd.DataFrame, invoices: pd.DataFrame, line_items: pd.DataFrame, horizon_start
) -> tuple[pd.DataFrame, pd.DataFrame, list[pd.DataFrame]]:
    """(the flagged supply points' plan versions but DRAFT; their billed transactions that compare
    and cancel reopens; exceptions for those it does not: before the horizon, unsupported charges)."""
    flagged = account_plans.loc[account_plans["include_in_supplementary"] == 1, "utility_id"].unique()
    versions = account_plans[account_plans["utility_id"].isin(flagged) & (account_plans["status"] != "DRAFT")].copy()
    versions["start_date"] = pd.to_datetime(versions["start_date"])
    versions["end_date"] = pd.to_datetime(versions["end_date"]).fillna(FAR)
    billed = previous_transactions(invoices, line_items[line_items["utility_id"].isin(flagged)])

    old = billed["period_start"] < pd.Timestamp(horizon_start)
    first_old = billed[old].drop_duplicates(["utility_id", "period_start"])
    exceptions = [
        period_exceptions(
            first_old,
            "beyond_horizon",
            "billed period from "
            + first_old["period_start"].dt.date.astype(str)
            + f" starts before the lookback horizon ({horizon_start}): not recalculated",
        )
    ]
    unknown = ~billed["charge_type"].isin(list(CHARGE_TYPES)) & ~old
    other = billed[unknown].drop_duplicates(["utility_id", "period_start", "charge_type"])
    exceptions.append(
        period_exceptions(
            other,
            "unsupported_charge",
            "charge item "
            + other["charge_type"].astype(str)
            + " is not one compare and cancel re-prices: left as billed",
        )
    )
    # Only the groups of non-DRAFT versions are in play (DESIGN §5.6 step 3).
    return versions, billed[~old & ~unknown].merge(versions[GROUP].drop_duplicates(), on=GROUP), exceptions


def _recalculation_candidates(
    q: pd.DataFrame,
    approved: pd.DataFrame,
    versions: pd.DataFrame,
    rates: pd.DataFrame,
    terms: pd.DataFrame,
    tou: TimeOfUse | None,
    half_hours: HalfHours | None,
) -> tuple[pd.DataFrame, list[pd.DataFrame], pd.DataFrame]:
    """(the billed quantities cut by the APPROVED versions' days, re-rated onto each plan's classes
    and with measured demand added, as lines to price; exceptions of the re-rating and the demand;
    the periods whose demand could not be measured)."""
    c = q.merge(approved, on="utility_id")
    c["period_start"] = c[["billed_start", "start_date"]].max(axis=1)
    c["period_end"] = c[["billed_end", "end_date"]].min(axis=1)
    c = c[c["period_start"] <= c["period_end"]].reset_index(drop=True)
    share = ((c["period_end"] - c["period_start"]).dt.days + 1) / ((c["billed_end"] - c["billed_start"]).dt.days + 1)
    # Usage pro-rated by the overlap's days (the engine counts a per-day item's days itself; a
    # demand, the period's maximum kW, holds on every part of it).
    c["quantity"] = c["quantity"] * np.where(c["uom"].astype(str).str.upper() == "KW", 1.0, share)
    # Billed by time of use under a flat plan, or flat under a time-of-use one: onto the plan's classes.
    c, rerated = rerate(c, rates, tou, half_hours)
    # A demand charge of the new plan that the bill has no quantity for: measured from those days.
    replaced = versions[versions["status"] == "REPLACED"]
    demand, demand_exceptions = measured_demand(c, rates, replaced, tou, half_hours)
    c = pd.concat([c, demand], ignore_index=True)
    unmeasured = demand_exceptions.loc[demand_exceptions["code"] == "missing_tariff", ["utility_id", "period_start"]]
    c = with_terms(c, terms)
    c["bill_key"] = c.groupby(PERIOD, sort=False).ngroup()  # a billed period is one bill
    c["line_id"] = np.arange(len(c))
    return c, [rerated, demand_exceptions], unmeasured


def _without_overlapping_versions(
    c: pd.DataFrame, remaining: pd.DataFrame, approved: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Two APPROVED versions on the same days would bill them twice: such a billed period is left as
    it is (out of the candidates and the remaining transactions), with an exception."""
    a = approved.sort_values(["utility_id", "start_date"], kind="stable")
    reach_v = a.groupby("utility_id")["end_date"].cummax().groupby(a["utility_id"]).shift(1)
    suspects = a.loc[(a["start_date"] <= reach_v).to_numpy(), "utility_id"].unique()  # usually none
    o = c[c["utility_id"].isin(suspects)].sort_values(
        [*PERIOD, "charge_type", "time_class", "period_start"], kind="stable"
    )
    same = o.duplicated([*PERIOD, "charge_type", "time_class"])
    reach = o.groupby([*PERIOD, "charge_type", "time_class"], sort=False)["period_end"].cummax()
    overlap = same.to_numpy() & (
        o["period_start"].to_numpy()
        <= reach.groupby([o[k] for k in (*PERIOD, "charge_type", "time_class")], sort=False).shift(1).to_numpy()
    )
    doubled = o[overlap].drop_duplicates(PERIOD)
    overlapping = period_exceptions(
        doubled.assign(period_start=doubled["billed_start"]),
        "overlapping_charge_versions",
        "APPROVED versions overlap inside the billed period from "
        + doubled["billed_start"].dt.date.astype(str)
        + ": not recalculated",
    )
    c = c.merge(doubled[PERIOD].assign(_doubled=True), on=PERIOD, how="left")
    c = c[c["_doubled"].isna()].drop(columns="_doubled")
    remaining = remaining.merge(doubled[PERIOD].assign(_doubled=True), on=PERIOD, how="left")
    remaining = remaining[remaining["_doubled"].isna()].drop(columns="_doubled")
    return c, remaining, overlapping


def _recalculated(
    c: pd.DataFrame, remaining: pd.DataFrame, unmeasured: pd.DataFrame, rates: pd.DataFrame, discounts: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The candidates priced (keyed for compare and cancel); a billed period the engine cannot
    re-price, or whose demand was not measured, is left as it is, whole (out of both sides), with
    an exception."""
    if len(c):
        priced = price(c, rates, discounts)
        calculated = priced.lines.join(c[PERIOD], on="line_id")
        bad = priced.exceptions.join(c[PERIOD], on="line_id")
    else:
        calculated = pd.DataFrame(columns=[*PERIOD, *PRICED_COLUMNS])
        bad = pd.DataFrame(columns=["account_id", "code", "reason", *PERIOD])
    # A billed period the engine cannot re-price is left as it is, whole: no partial re-billing.
    unpriced = period_exceptions(
        bad.assign(period_start=bad["billed_start"]),
        "missing_tariff",
        bad["reason"].astype(str) + ": billed period not recalculated",
    )
    unmeasured = unmeasured.assign(billed_start=pd.to_datetime(unmeasured["period_start"]))
    unmeasured = c[PERIOD].drop_duplicates().merge(unmeasured[["utility_id", "billed_start"]], on=PERIOD[:2])
    if len(bad) or len(unmeasured):
        skip = pd.concat([bad[PERIOD], unmeasured[PERIOD]]).drop_duplicates().assign(_skip=True)
        calculated = calculated.merge(skip, on=PERIOD, how="left")
        calculated = calculated[calculated["_skip"].isna()].drop(columns="_skip")
        remaining = remaining.merge(skip, on=PERIOD, how="left")
        remaining = remaining[remaining["_skip"].isna()].drop(columns="_skip")
    calculated = calculated.rename(columns={"part_start": "period_start", "part_end": "period_end"})
    return _keys(calculated.reset_index(drop=True)), remaining, unpriced


def _correction_lines(
    calculated: pd.DataFrame,
    remaining: pd.DataFrame,
    versions: pd.DataFrame,
    discounts: pd.DataFrame,
    terms: pd.DataFrame,
) -> pd.DataFrame:
    """Compare and cancel: the new debits and the credits reversing what nothing matched, but lines
    that move nothing, in account and period order."""
    new, reverse = compare_and_cancel(calculated, remaining.assign(is_credit=False), GROUP, KEY)
    new = new.assign(is_credit=False)
    lines = pd.concat(
        [new[[c for c in OUT_COLUMNS if c in new]], _reversals(reverse, versions, discounts, terms)],
        ignore_index=True,
    )
    # A line that moves nothing (no quantity, no money: a zero feed-in re-rated) is not a correction.
    moves = (lines["quantity"] != 0) | (lines["net_amount"] != 0) | (lines["discount_net"] != 0)
    lines = lines[moves.to_numpy(dtype=bool)]
    lines = lines.sort_values(["account_id", "utility_id", "period_start", "is_credit"], kind="stable")
    lines["period_start"] = pd.to_datetime(lines["period_start"]).dt.date
    lines["period_end"] = pd.to_datetime(lines["period_end"]).dt.date
    lines["is_credit"] = lines["is_credit"].astype(bool)
    return lines[OUT_COLUMNS].reset_index(drop=True)


def _reversals(
    debits: pd.DataFrame, versions: pd.DataFrame, discounts: pd.DataFrame, terms: pd.DataFrame
) -> pd.DataFrame:
    """Credits for previous debits nothing matched: the money negated, at the plan that billed
    them (the group's version covering the period that was in force when the invoice was issued).
    The discount reversed counts with the pay-on-time propensity when that plan had a CONDITIONAL
    discount then."""
    d = debits.reset_index(drop=True).assign(_row=lambda f: np.arange(len(f)))
    cover = d[["_row", *GROUP, "period_start", "issue_date"]].merge(
        versions[[*GROUP, "plan_id", "start_date", "end_date", "created_at"]], on=GROUP
    )
    cover = cover[(cover["start_date"] <= cover["period_start"]) & (cover["period_start"] <= cover["end_date"])]
    created = pd.to_datetime(cover["created_at"])
    # The version in force when the invoice was issued: created before the issue date, the latest
    # such. A history with no version that old (records re-created since) takes the oldest one.
    late = (created.dt.normalize() >= cover["issue_date"]).to_numpy()
    cover = cover.assign(_created=created)
    cover = pd.concat(
        [
            cover[~late].sort_values(["_row", "_created"], ascending=[True, False], kind="stable"),
            cover[late].sort_values(["_row", "_created"], kind="stable"),
        ]
    )
    plan = cover.drop_duplicates("_row").set_index("_row")["plan_id"]
    d["plan_id"] = d["_row"].map(plan).fillna(-1).astype(int)
    disc = discounts[discounts["discount_type"] == "CONDITIONAL"]
    cond = d[["_row", "plan_id", "period_start"]].merge(
        disc[["plan_id", "effective_from", "effective_to"]], on="plan_id"
    )
    cond = cond[
        (pd.to_datetime(cond["effective_from"]) <= cond["period_start"])
        & (cond["period_start"] <= pd.to_datetime(cond["effective_to"]).fillna(FAR))
    ]
    conditional = d["_row"].isin(cond["_row"]).to_numpy()
    propensity = terms["pay_on_time_propensity"]
    share = np.where(conditional, d["account_id"].map(propensity).astype(float).fillna(0.0).to_numpy(), 1.0)
    registered = (
        d["account_id"].map(terms["gst_registered"]).astype(float).fillna(1.0).to_numpy()
        if "gst_registered" in terms
        else np.ones(len(d))
    )
    gst_free = d["charge_type"].isin(CREDIT_CHARGES).to_numpy() & (registered == 0)
    has_discount = d["discount_net"].to_numpy() != 0
    return pd.DataFrame(
        {
            "account_id": d["account_id"],
            "utility_id": d["utility_id"],
            "period_start": d["period_start"],
            "period_end": d["period_end"],
            "plan_id": d["plan_id"],
            "charge_type": d["charge_type"],
            "time_class": d["time_class"],
            "days": d["days"],
            "block_order": d.groupby(
                ["invoice_id", "utility_id", "period_start", "charge_type", "time_class"]
            ).cumcount()
            + 1
            if len(d)
            else pd.Series(dtype=int),
            "quantity": d["quantity"],
            "uom": d["uom"],
            "rate": d["rate"],
            "net_amount": -d["net_amount"],
            "discount_net": -d["discount_net"],
            "discount_net_propensity": -round_cents(d["discount_net"].to_numpy() * share),
            "discount_state": np.where(has_discount, np.where(conditional, "CONDITIONAL", "GUARANTEED"), "NONE"),
            "gst": np.where(gst_free, 0.0, -gst(d["net_amount"].to_numpy())),
            "is_credit": True,
        }
    )
