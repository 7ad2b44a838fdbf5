"""The finance outputs (DESIGN §5.7) from the priced accrual lines. Pure pandas."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from bua_assets.billing.charges import CONSUMPTION_CHARGES, SUPPLY_CHARGE, VOLUME_CHARGES
from bua_assets.billing.history import billed_through
from bua_assets.billing.money import round_cents

MONTHLY_KEY = [
    "account_id",
    "utility_id",
    "year_mnth",
    "ili_state",
    "discount_state",
    "feature_type_name",
    "plan_item_type_name",
    "time_class_name",
    "uom",
]
MONEY = ["net_amount", "discount_net", "discount_net_propensity", "gst"]
SUMMARY_KEY = [
    "ili_state",
    "discount_state",
    "feature_type_name",
    "state",
    "fuel",
    "segment",
    "year_mnth",
    "time_class_name",
]


def line_item_monthly(lines: pd.DataFrame) -> pd.DataFrame:
    """One row per account x supply point x month x line item key; rate = net / quantity."""
    m = (
        lines.groupby(MONTHLY_KEY, dropna=False)
        .agg(
            quantity=("quantity", "sum"),
            days=("days", "sum"),
            net_amount=("net_amount", "sum"),
            discount_net=("discount_net", "sum"),
            discount_net_propensity=("discount_net_propensity", "sum"),
            gst=("gst", "sum"),
        )
        .reset_index()
    )
    for col in MONEY:
        m[col] = round_cents(m[col])
    m["quantity"] = m["quantity"].round(3)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(m["quantity"] != 0, m["net_amount"] / m["quantity"], 0.0)
    m["rate"] = np.round(np.abs(rate), 6)
    return m


def open_during(accounts: pd.DataFrame, month_start, month_end) -> pd.Index:
    """Ids of the accounts open at any time in the month (opened by its end, not closed before it)."""
    opened = np.array(accounts["open_date"].tolist(), dtype="datetime64[D]") <= np.datetime64(month_end, "D")
    close = np.array(accounts["close_date"].tolist(), dtype="datetime64[D]")  # NaT: open-ended (9999 fits too)
    still_open = np.isnat(close) | (close >= np.datetime64(month_start, "D"))
    return pd.Index(accounts.loc[opened & still_open, "id"].unique())


def account_summary(
    lines: pd.DataFrame,
    window: pd.DataFrame,
    accounts: pd.DataFrame,
    attributes: pd.DataFrame,
    consumption: pd.DataFrame,
    exceptions: pd.DataFrame,
    billed_through: pd.Series,
    open_accounts: pd.Index | None = None,
) -> pd.DataFrame:
    """One row per account with unbilled days or accrual lines, and per account open in the month
    (``open_accounts``) that is fully billed (zero unbilled days, bill status BILLED) unless it is
    in the exceptions: fuel, state, segment, billed-through date, window, bill frequency and
    status, quantities, amounts, discounts, share estimated, exception flags.
    ``attributes``: account_id, fuel, state, segment."""
    w = window.groupby("account_id").agg(
        window_start=("first_day", "min"),
        window_end=("last_day", "max"),
        unbilled_days=("unbilled_days", "sum"),
        bill_status=("bill_status", "first"),
    )
    usage = lines[lines["plan_item_type_name"].isin(CONSUMPTION_CHARGES)]
    q = usage.groupby(["account_id", "uom"])["quantity"].sum().unstack(fill_value=0.0)
    money = lines.groupby("account_id")[MONEY].sum()
    imports = consumption[consumption["stream_type"] != "SOLAR"]
    est = imports.groupby("account_id")[["quantity", "estimated_quantity"]].sum()
    flags = exceptions.groupby("account_id")["code"].agg(lambda c: ",".join(sorted(set(c))))
    a = accounts.set_index("id")
    # Accounts with lines but no unbilled days (a correction to a fully billed account) count too.
    w = w.reindex(w.index.union(money.index))
    if open_accounts is not None:  # fully billed: open, nothing unbilled, nothing excepted
        w = w.reindex(w.index.union(open_accounts.difference(pd.Index(exceptions["account_id"].dropna()))))
        w.index.name = "account_id"
    w["unbilled_days"] = w["unbilled_days"].fillna(0).astype(int)
    w["bill_status"] = w["bill_status"].fillna("BILLED")
    out = w.join(attributes.set_index("account_id"), how="left")
    out["account_number"] = a["account_number"].reindex(out.index)
    out["bill_frequency"] = a["bill_frequency"].reindex(out.index)
    out["billed_through"] = billed_through.reindex(out.index)
    out["usage_kwh"] = q["KWH"].reindex(out.index).fillna(0.0).round(3) if "KWH" in q else 0.0
    out["usage_mj"] = q["MJ"].reindex(out.index).fillna(0.0).round(3) if "MJ" in q else 0.0
    out = out.join(round_cents(money), how="left").fillna({c: 0.0 for c in MONEY})
    out["net_amount_less_discount"] = round_cents(out["net_amount"] - out["discount_net_propensity"])
    with np.errstate(invalid="ignore", divide="ignore"):
        share = est["estimated_quantity"] / est["quantity"]
    out["share_estimated"] = share.reindex(out.index).fillna(0.0).round(4)
    out["exception_codes"] = flags.reindex(out.index).fillna("")
    out["has_exceptions"] = out["exception_codes"] != ""
    return out.reset_index()[
        [
            "account_id",
            "account_number",
            "fuel",
            "state",
            "segment",
            "billed_through",
            "window_start",
            "window_end",
            "unbilled_days",
            "bill_frequency",
            "bill_status",
            "usage_kwh",
            "usage_mj",
            *MONEY,
            "net_amount_less_discount",
            "share_estimated",
            "has_exceptions",
            "exception_codes",
        ]
    ]


def month_account_summary(
    lines: pd.DataFrame,
    window: pd.DataFrame,
    accounts: pd.DataFrame,
    attributes: pd.DataFrame,
    consumption: pd.DataFrame,
    exceptions: pd.DataFrame,
    invoices: pa.Table,
    billed: pa.Table,
    month_start,
    month_end,
) -> pd.DataFrame:
    """account_summary for the month: each account billed through the latest period end of its
    issued non-credit invoices (``invoices``: Invoice id, status, is_credit; ``billed``:
    InvoiceLineItem invoice_id, account_id, period_end), the accounts open in the month
    (``accounts``: Account) included when fully billed."""
    return account_summary(
        lines,
        window,
        accounts,
        attributes,
        consumption,
        exceptions,
        billed_through(invoices, billed),
        open_during(accounts, month_start, month_end),
    )


def with_attributes(lines: pd.DataFrame, attributes: pd.DataFrame, sites: pd.DataFrame | None = None) -> pd.DataFrame:
    """``lines`` with fuel, state and segment: the account's segment, and the state and fuel of
    the line's own supply point (``sites``: site_attributes), so a multi-site account's lines fall
    in each site's state; the account's where the site is unknown."""
    d = lines.merge(attributes, on="account_id", how="left")
    if sites is not None:
        s = d[["utility_id"]].merge(sites, on="utility_id", how="left")
        d["state"] = s["site_state"].fillna(d["state"]).to_numpy()
        d["fuel"] = s["site_fuel"].fillna(d["fuel"]).to_numpy()
    return d


def site_attributes(utilities: pd.DataFrame, jurisdictions: pd.DataFrame, service_types: pd.DataFrame) -> pd.DataFrame:
    """utility_id, site_state, site_fuel: each supply point's own state and fuel."""
    return pd.DataFrame(
        {
            "utility_id": utilities["id"].to_numpy(),
            "site_state": utilities["jurisdiction_id"].map(jurisdictions.set_index("id")["name"]).to_numpy(),
            "site_fuel": utilities["service_type_id"].map(service_types.set_index("id")["name"]).to_numpy(),
        }
    )


def accrual_summary(lines: pd.DataFrame, attributes: pd.DataFrame, sites: pd.DataFrame | None = None) -> pd.DataFrame:
    """The finance summary: DESIGN §5.7's grouping with volume (USAGE_RETAIL quantity), days
    (DAILY_RETAIL quantity), distinct accounts and net_amount_less_discount; state and fuel per
    supply point (with_attributes)."""
    d = with_attributes(lines, attributes, sites)
    d["volume"] = np.where(d["plan_item_type_name"].isin(VOLUME_CHARGES), d["quantity"], 0.0)
    d["supply_days"] = np.where(d["plan_item_type_name"] == SUPPLY_CHARGE, d["quantity"], 0.0)
    s = (
        d.groupby(SUMMARY_KEY, dropna=False)
        .agg(
            net_amount=("net_amount", "sum"),
            volume=("volume", "sum"),
            days=("supply_days", "sum"),
            accounts=("account_id", "nunique"),
            discount_net_propensity=("discount_net_propensity", "sum"),
            discount_net=("discount_net", "sum"),
        )
        .reset_index()
    )
    for col in ("net_amount", "discount_net_propensity", "discount_net"):
        s[col] = round_cents(s[col])
    s["volume"] = s["volume"].round(3)
    s["net_amount_less_discount"] = round_cents(s["net_amount"] - s["discount_net_propensity"])
    return s


def state_fuel_totals(lines: pd.DataFrame, attributes: pd.DataFrame, sites: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per state x fuel (of each line's supply point): net amount and net less discount to the
    cent, and distinct accounts (an account accrued over several months or charges counts once)."""
    d = with_attributes(lines, attributes, sites)
    d["net_amount_less_discount"] = d["net_amount"] - d["discount_net_propensity"]
    t = (
        d.groupby(["state", "fuel"], dropna=False)
        .agg(
            net_amount=("net_amount", "sum"),
            net_amount_less_discount=("net_amount_less_discount", "sum"),
            accounts=("account_id", "nunique"),
        )
        .reset_index()
    )
    for col in ("net_amount", "net_amount_less_discount"):
        t[col] = round_cents(t[col])
    return t


def account_attributes(
    accounts: pd.DataFrame,
    segments: pd.DataFrame,
    service_types: pd.DataFrame,
    account_utility: pd.DataFrame,
    sites: pd.DataFrame,
) -> pd.DataFrame:
    """account_id, fuel, state (of its latest supply point: ``sites`` is site_attributes), segment
    (finance journal segment)."""
    a = accounts[["id", "service_type_id", "journal_segment_id"]].rename(columns={"id": "account_id"})
    a["fuel"] = a["service_type_id"].map(service_types.set_index("id")["name"])
    a["segment"] = a["journal_segment_id"].map(segments.set_index("id")["name"])
    latest = account_utility.sort_values("start_date").groupby("account_id")["utility_id"].last()
    a["state"] = a["account_id"].map(latest).map(sites.set_index("utility_id")["site_state"])
    return a[["account_id", "fuel", "state", "segment"]]
