"""The accrual true-up (issue 26, DESIGN §5.7): each earlier month's accrual against the bills
issued since for the same days, on the retailer's own data (CORE and the lake only).

Grain: account x supply point x usage charge (USAGE_RETAIL, CONTROLLED_LOAD, FEED_IN) x day. A
bill is a supply point's line items per charge and period; it is apportioned to its days by a
weight per day: the meter data of the supply point's interval registers of that stream (its
kWh that day), else the load profile a basic register's accrual used (its micro scalar x its
macro daily weight with its own base share, scalars.register_weights); a day of an interval bill
without meter data takes the mean weight of the bill's days with data; a bill with no weight at
all is spread flat (``basis`` says which). The accrued side is the month's register-days as the
estimation wrote them (unbilled_consumption/register_days), with their method, summed per
stream; accrued dollars are each accrual line's average rate (net / quantity per account x
supply point x calendar month x charge) times the day's quantity, and billed dollars the bill
line's, so dollars carry the same apportioning. Bias = accrued - billed, in per cent of billed
(the backtest's sign: positive = over-accrued). Pure pandas, no Dagster, no per-row loops.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bua_assets.billing.charges import CHARGE_OF_STREAM, CREDIT_CHARGES
from bua_assets.billing.history import ISSUED
from bua_assets.estimation.basic import expand_days

USAGE_CHARGES = tuple(sorted(set(CHARGE_OF_STREAM.values())))
DAY_KEYS = ["account_id", "utility_id", "charge", "date"]
CELL_KEYS = ["accrual_month", "state", "fuel", "meter_kind", "method", "flow"]
# When registers of one stream differ, the day counts under the least measured of their methods.
METHOD_ORDER = ("actual_reads", "interval_gap", "basic_profile", "class_average", "move_in_prior")
RANK = {m: i for i, m in enumerate(METHOD_ORDER)}
BASES = ("meter_data", "meter_data_filled", "profile", "flat")
LARGEST_MISSES = 20


def _days(values) -> np.ndarray:
    """Dates as midnight datetime64[ns] (one unit everywhere, so joins on the day match)."""
    return pd.to_datetime(pd.Series(values)).to_numpy().astype("datetime64[D]").astype("datetime64[ns]")


def effective_bills(invoices: pd.DataFrame, line_items: pd.DataFrame) -> pd.DataFrame:
    """The usage lines that bill a period now: of ISSUED debit invoices not reversed by an issued
    credit note (``reverses_invoice_id``); a credit note naming no invoice cancels one debit of the
    same account x supply point x period, the latest (DESIGN §5.1's vote: the period stays billed
    while debits outnumber credits); of the debits left, the latest invoice's figures stand. One row per invoice x supply point x charge x period:
    account_id, utility_id, invoice_id, issue_date, charge, period_start, period_end, quantity,
    net_amount (the invoice's time classes and step blocks summed)."""
    inv = invoices[invoices["status"] == ISSUED]
    credit = inv["is_credit"].fillna(0).astype(int) == 1
    reverses = inv["reverses_invoice_id"] if "reverses_invoice_id" in inv else pd.Series(np.nan, index=inv.index)
    reversed_ids = set(reverses[credit].dropna().astype("int64"))
    debit_ids = inv.loc[~credit & ~inv["id"].isin(reversed_ids), ["id", "issue_date"]]
    unnamed_credits = inv.loc[credit & reverses.isna(), "id"]
    # dropna=False throughout: a line without a period is kept, for usable_bills to name
    period = ["account_id", "utility_id", "period_start", "period_end"]
    li = line_items[line_items["plan_item_type_name"].isin(USAGE_CHARGES)]
    bills = (
        li[li["invoice_id"].isin(debit_ids["id"])]
        .groupby(["invoice_id", *period, "plan_item_type_name"], sort=False, dropna=False)[["quantity", "net_amount"]]
        .sum()
        .reset_index()
        .rename(columns={"plan_item_type_name": "charge"})
        .merge(debit_ids.rename(columns={"id": "invoice_id"}), on="invoice_id")
    )
    bills["quantity"] = bills["quantity"].astype(float)
    bills["net_amount"] = bills["net_amount"].astype(float)
    # a credit note naming no invoice: one vote against the period's debits, the latest first
    votes = (
        line_items[line_items["invoice_id"].isin(unnamed_credits)][["invoice_id", *period]]
        .drop_duplicates()
        .groupby(period, dropna=False)
        .size()
        .rename("credits")
    )
    order = bills[["invoice_id", *period, "issue_date"]].drop_duplicates(["invoice_id", *period])
    order = order.sort_values([*period, "issue_date", "invoice_id"], ascending=[True] * 4 + [False, False])
    order["rank"] = order.groupby(period, dropna=False).cumcount()  # 0: the latest debit
    order = order.join(votes, on=period).fillna({"credits": 0})
    # k credits cancel the k latest debits; the latest one left stands
    stands = order[order["rank"] == order["credits"]]
    out = bills.merge(stands[["invoice_id", *period]], on=["invoice_id", *period])
    cols = ["account_id", "utility_id", "invoice_id", "issue_date", "charge", "period_start", "period_end"]
    return out[[*cols, "quantity", "net_amount"]].reset_index(drop=True)


EXCEPTION_COLUMNS = ["account_id", "utility_id", "invoice_id", "charge", "code", "reason"]


def usable_bills(bills: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the bills whose period can be spread over days, an exception per bill that cannot: a
    period without a start or end, or ending before it starts; its days are then not trued up,
    and this says why)."""
    start, end = pd.to_datetime(bills["period_start"]), pd.to_datetime(bills["period_end"])
    missing = (start.isna() | end.isna()).to_numpy()
    inverted = (~missing) & (end < start).to_numpy()
    bad = bills[missing | inverted]
    reason = np.where(
        missing[missing | inverted],
        "the bill's period has no start or end",
        "the bill's period ends before it starts",
    )
    exceptions = bad[["account_id", "utility_id", "invoice_id", "charge"]].assign(
        code="unusable_bill_period",
        reason=pd.Series(reason, index=bad.index)
        + " ("
        + bad["period_start"].astype(object).fillna("none").astype(str)
        + " to "
        + bad["period_end"].astype(object).fillna("none").astype(str)
        + "): its days are not trued up",
    )
    return bills[~(missing | inverted)].reset_index(drop=True), exceptions[EXCEPTION_COLUMNS].reset_index(drop=True)


def bill_days(bills: pd.DataFrame) -> pd.DataFrame:
    """Every day of every bill (effective_bills): bill (its row), account_id, utility_id, charge, date."""
    owner, dates = expand_days(
        _days(bills["period_start"]).astype("datetime64[D]"), _days(bills["period_end"]).astype("datetime64[D]")
    )
    return pd.DataFrame(
        {
            "bill": owner,
            "account_id": bills["account_id"].to_numpy()[owner],
            "utility_id": bills["utility_id"].to_numpy(dtype="int64")[owner],
            "charge": bills["charge"].to_numpy()[owner],
            "date": dates.astype("datetime64[ns]"),
        }
    )


def interval_weights(metered: pd.DataFrame, registers: pd.DataFrame) -> pd.DataFrame:
    """Per supply point x charge x day, the meter data's kWh of its interval registers of that
    stream (``metered``: register_id, read_date, kwh, from interval_statistics' register_days):
    utility_id, charge, date, weight."""
    reg = registers.drop_duplicates("register_id").set_index("register_id")
    d = pd.DataFrame(
        {
            "utility_id": metered["register_id"].map(reg["utility_id"]),
            "charge": metered["register_id"].map(reg["stream_type"]).map(CHARGE_OF_STREAM),
            "date": _days(metered["read_date"]),
            "weight": metered["kwh"].astype(float).to_numpy(),
        }
    ).dropna(subset=["utility_id", "charge"])
    d["utility_id"] = d["utility_id"].astype("int64")
    return d.groupby(["utility_id", "charge", "date"], sort=False)["weight"].sum().reset_index()


def profile_weights(days: pd.DataFrame, registers: pd.DataFrame, weigh) -> pd.DataFrame:
    """Per supply point x charge x day of ``days`` (bill_days), the daily weight of its basic
    registers of that stream: ``weigh(register_ids, dates)`` gives each register's expected use
    that day (its micro scalar x scalars.register_weights). utility_id, charge, date, weight."""
    basic = registers[registers["read_kind"] == "BASIC"][["register_id", "utility_id", "stream_type"]]
    basic = basic.assign(charge=basic["stream_type"].map(CHARGE_OF_STREAM)).drop(columns="stream_type")
    wanted = days[["utility_id", "charge", "date"]].drop_duplicates()
    d = wanted.merge(basic, on=["utility_id", "charge"])
    if d.empty:
        return pd.DataFrame({"utility_id": [], "charge": [], "date": [], "weight": []})
    d["weight"] = weigh(d["register_id"].to_numpy(), d["date"].to_numpy(dtype="datetime64[D]"))
    # a register the profiles cannot weigh (NaN) leaves the day unknown, not zero
    return d.groupby(["utility_id", "charge", "date"], sort=False)["weight"].sum(min_count=1).reset_index()


def _weights(frame: pd.DataFrame) -> pd.DataFrame:
    """A weight frame in the key types bill_days has (an empty one included)."""
    return pd.DataFrame(
        {
            "utility_id": frame["utility_id"].to_numpy(dtype="int64"),
            "charge": frame["charge"].to_numpy(dtype=object),
            "date": _days(frame["date"]) if len(frame) else np.array([], dtype="datetime64[ns]"),
            "weight": frame["weight"].to_numpy(dtype=float),
        }
    )


def apportion(bills: pd.DataFrame, metered: pd.DataFrame, profiled: pd.DataFrame) -> pd.DataFrame:
    """Each bill's quantity and net amount over its days (bill_days) by the day weights: meter
    data first (interval_weights; a day without it takes the mean of the bill's metered days),
    else the profile (profile_weights), else flat. DAY_KEYS + invoice_id, bill_days (the bill's
    length), billed_quantity, billed_dollars, basis (BASES)."""
    days = bill_days(bills)
    keys = ["utility_id", "charge", "date"]
    days = days.merge(_weights(metered).rename(columns={"weight": "_meter"}), on=keys, how="left")
    days = days.merge(_weights(profiled).rename(columns={"weight": "_profile"}), on=keys, how="left")
    by_bill = days.groupby("bill")
    metered_days = by_bill["_meter"].transform("count").to_numpy()
    meter_mean = by_bill["_meter"].transform("mean").to_numpy()
    profile_days = by_bill["_profile"].transform("count").to_numpy()
    profile_mean = by_bill["_profile"].transform("mean").to_numpy()
    meter, profile = days["_meter"].to_numpy(), days["_profile"].to_numpy()
    use_meter, use_profile = metered_days > 0, (metered_days == 0) & (profile_days > 0)
    weight = np.where(
        use_meter,
        np.where(np.isnan(meter), meter_mean, meter),
        np.where(use_profile, np.where(np.isnan(profile), profile_mean, profile), 1.0),
    )
    weight = np.clip(weight, 0.0, None)
    total = pd.Series(weight).groupby(days["bill"].to_numpy()).transform("sum").to_numpy()
    length = by_bill["date"].transform("size").to_numpy()
    flat = total <= 0  # nothing measured or expected in the whole period (an export register's winter): flat
    share = np.where(flat, 1.0 / length, weight / np.where(flat, 1.0, total))
    basis = np.select(
        [use_meter & ~np.isnan(meter) & ~flat, use_meter & ~flat, use_profile & ~flat],
        ["meter_data", "meter_data_filled", "profile"],
        "flat",
    )
    b = days["bill"].to_numpy()
    return pd.DataFrame(
        {
            "account_id": days["account_id"].to_numpy(),
            "utility_id": days["utility_id"].to_numpy(),
            "charge": days["charge"].to_numpy(),
            "date": days["date"].to_numpy(),
            "invoice_id": bills["invoice_id"].to_numpy()[b],
            "bill_days": length,
            "billed_quantity": bills["quantity"].to_numpy(dtype=float)[b] * share,
            "billed_dollars": bills["net_amount"].to_numpy(dtype=float)[b] * share,
            "basis": basis,
        }
    )


def accrued_days(register_days: pd.DataFrame, accrual_lines: pd.DataFrame, sites: pd.DataFrame) -> pd.DataFrame:
    """The accrual's register-days per account x supply point x charge x day.

    ``register_days``: accrual_month + unbilled_consumption/register_days (account_id, utility_id,
    register_id, date, read_kind, stream_type, quantity, method); ``accrual_lines``: accrual_month
    + the month's invoice_line_items (account_id, utility_id, year_mnth, plan_item_type_name,
    ili_state, quantity, net_amount), whose usage lines not SUPPLEMENTARY give each day its dollars
    at the line's average rate; ``sites``: utility_id, site_state, site_fuel. Returns
    accrual_month, DAY_KEYS, quantity, dollars, method, meter_kind, state, fuel, flow."""
    d = register_days.assign(charge=register_days["stream_type"].map(CHARGE_OF_STREAM)).dropna(subset=["charge"])
    d = d.assign(
        date=_days(d["date"]),
        _rank=d["method"].map(RANK).fillna(len(METHOD_ORDER)),
    )
    keys = ["accrual_month", *DAY_KEYS]
    g = d.groupby(keys, sort=False)
    out = g["quantity"].sum().to_frame()
    worst = d.loc[g["_rank"].idxmax(), [*keys, "method", "read_kind"]].set_index(keys)
    out = out.join(worst).reset_index().rename(columns={"read_kind": "meter_kind"})
    out["year_mnth"] = out["date"].to_numpy().astype("datetime64[M]").astype("datetime64[ns]")
    # dollars: each accrual line's average rate over the month's accrued quantity of its charge
    lines = accrual_lines[
        (accrual_lines["ili_state"] != "SUPPLEMENTARY") & accrual_lines["plan_item_type_name"].isin(USAGE_CHARGES)
    ]
    month_keys = ["accrual_month", "account_id", "utility_id", "year_mnth", "charge"]
    net = (
        lines.assign(
            year_mnth=pd.to_datetime(lines["year_mnth"]).to_numpy().astype("datetime64[M]").astype("datetime64[ns]"),
            charge=lines["plan_item_type_name"],
            net_amount=lines["net_amount"].astype(float),
        )
        .groupby(month_keys)["net_amount"]
        .sum()
        .rename("_month_net")
    )
    quantity = out.groupby(month_keys)["quantity"].transform("sum").to_numpy()
    month_net = out.join(net, on=month_keys)["_month_net"].fillna(0.0).to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        out["dollars"] = np.where(quantity != 0, month_net * out["quantity"].to_numpy() / quantity, 0.0)
    site = sites.drop_duplicates("utility_id").set_index("utility_id")
    out["state"] = out["utility_id"].map(site["site_state"]).fillna("?")
    out["fuel"] = out["utility_id"].map(site["site_fuel"]).fillna("?")
    out["flow"] = np.where(out["charge"].isin(CREDIT_CHARGES), "export", "import")
    return out.drop(columns="year_mnth")


@dataclass
class TrueUp:
    cells: pd.DataFrame  # per CELL_KEYS
    months: pd.DataFrame  # per accrual_month x fuel x meter_kind x flow: what the chart shows
    misses: pd.DataFrame  # the largest account-level misses
    days: pd.DataFrame  # every accrued day with its billed figures (NaN when not billed yet), whole_bill


def _pct(numerator, denominator):
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(np.abs(denominator) > 0, 100.0 * numerator / np.abs(denominator), np.nan)


def _summarise(days: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Per ``keys``: accrued and billed figures, bias, MAE, share trued up."""
    billed = days["billed_quantity"].notna()
    d = days.assign(
        _acc_billed=np.where(billed, days["quantity"], 0.0),
        _dol_billed=np.where(billed, days["dollars"], 0.0),
        _abs_acc=days["quantity"].abs(),
        _abs_billed_acc=np.where(billed, days["quantity"].abs(), 0.0),
        _billed_day=billed.astype(int),
        _whole=days["whole_bill"].astype(int),
    )
    sums = d.groupby(keys, sort=True).agg(
        accrued_days=("date", "size"),
        days_trued_up=("_billed_day", "sum"),
        days_of_whole_bills=("_whole", "sum"),
        accrued_quantity=("quantity", "sum"),
        accrued_quantity_trued_up=("_acc_billed", "sum"),
        billed_quantity=("billed_quantity", "sum"),
        accrued_dollars_trued_up=("_dol_billed", "sum"),
        billed_dollars=("billed_dollars", "sum"),
        _abs_acc=("_abs_acc", "sum"),
        _abs_billed_acc=("_abs_billed_acc", "sum"),
        accounts=("account_id", "nunique"),
    )
    # mean absolute error: each account x supply point x charge's own miss over its billed days
    per_account = (
        d[billed]
        .assign(_miss=lambda f: f["quantity"] - f["billed_quantity"])
        .groupby([*keys, "account_id", "utility_id", "charge"], sort=False)["_miss"]
        .sum()
        .abs()
        .groupby(level=list(range(len(keys))))
        .sum()
    )
    sums["_abs_miss"] = per_account.reindex(sums.index).fillna(0.0)
    out = sums.reset_index()
    out["trued_up_share"] = np.round(_pct(out["_abs_billed_acc"], out["_abs_acc"]) / 100, 4)
    out["quantity_bias_pct"] = np.round(
        _pct(out["accrued_quantity_trued_up"] - out["billed_quantity"], out["billed_quantity"]), 3
    )
    out["dollar_bias_pct"] = np.round(
        _pct(out["accrued_dollars_trued_up"] - out["billed_dollars"], out["billed_dollars"]), 3
    )
    out["mae_pct"] = np.round(_pct(out["_abs_miss"], out["billed_quantity"]), 3)
    for c in ("accrued_quantity", "accrued_quantity_trued_up", "billed_quantity"):
        out[c] = np.round(out[c], 3)
    for c in ("accrued_dollars_trued_up", "billed_dollars"):
        out[c] = np.round(out[c], 2)
    return out.drop(columns=["_abs_acc", "_abs_billed_acc", "_abs_miss"])


def true_up(accrued: pd.DataFrame, billed: pd.DataFrame, largest: int = LARGEST_MISSES) -> TrueUp:
    """Each accrued day (accrued_days) against the bills' days (apportion, summed per DAY_KEYS):
    the cells (per CELL_KEYS: accrued_days, days_trued_up, accrued and billed quantity and
    dollars over the trued-up days, quantity_bias_pct, dollar_bias_pct, mae_pct (the accounts'
    absolute misses over billed quantity), trued_up_share (of the accrued quantity), accounts),
    the same per month x fuel x meter kind x flow, and the ``largest`` account-level misses by
    dollars (per accrual month x account x supply point x charge)."""
    per_day = billed.groupby(DAY_KEYS, sort=False).agg(
        billed_quantity=("billed_quantity", "sum"),
        billed_dollars=("billed_dollars", "sum"),
        invoice_id=("invoice_id", "max"),
        bill_days=("bill_days", "max"),
    )
    days = accrued.join(per_day, on=DAY_KEYS)
    # a day of a bill the accrual held whole: its figures need no apportioning in sum
    held = days.groupby(["accrual_month", "utility_id", "charge", "invoice_id"])["date"].transform("size")
    days["whole_bill"] = (held == days["bill_days"]).to_numpy()
    cells = _summarise(days, CELL_KEYS)
    months = _summarise(days, ["accrual_month", "fuel", "meter_kind", "flow"])
    done = days[days["billed_quantity"].notna()]
    done = done.assign(_rank=done["method"].map(RANK).fillna(len(METHOD_ORDER)).astype(int))
    miss_keys = ["accrual_month", "account_id", "utility_id", "charge", "state", "fuel", "meter_kind"]
    misses = (
        done.groupby(miss_keys, sort=False)
        .agg(
            days=("date", "size"),
            first_day=("date", "min"),
            last_day=("date", "max"),
            accrued_quantity=("quantity", "sum"),
            billed_quantity=("billed_quantity", "sum"),
            accrued_dollars=("dollars", "sum"),
            billed_dollars=("billed_dollars", "sum"),
            _rank=("_rank", "max"),
        )
        .reset_index()
    )
    # the least measured of its days' methods
    misses["method"] = np.asarray((*METHOD_ORDER, "?"), dtype=object)[misses.pop("_rank").to_numpy(dtype=int)]
    misses["quantity_miss"] = np.round(misses["accrued_quantity"] - misses["billed_quantity"], 3)
    misses["dollar_miss"] = np.round(misses["accrued_dollars"] - misses["billed_dollars"], 2)
    for c, places in (("accrued_quantity", 3), ("billed_quantity", 3), ("accrued_dollars", 2), ("billed_dollars", 2)):
        misses[c] = np.round(misses[c], places)
    misses = (
        misses.assign(_size=misses["dollar_miss"].abs())
        .sort_values(["_size", "accrual_month", "account_id"], ascending=[False, True, True], kind="stable")
        .head(largest)
        .drop(columns="_size")
        .reset_index(drop=True)
    )
    return TrueUp(cells, months, misses, days)


def flagged_cells(cells: pd.DataFrame, threshold_pct: float, min_days: int) -> pd.DataFrame:
    """The cells whose quantity or dollar bias is beyond ``threshold_pct`` (either way), over at
    least ``min_days`` trued-up days (a cell of a few days says little)."""
    enough = cells["days_trued_up"] >= min_days
    beyond = (cells["quantity_bias_pct"].abs() > threshold_pct) | (cells["dollar_bias_pct"].abs() > threshold_pct)
    return cells[enough & beyond.fillna(False)]


def bias_chart(months: pd.DataFrame, partition: str) -> bytes:
    """Quantity bias (accrued - billed, % of billed) per accrual month, one line per fuel x meter
    kind of imported energy, the share trued up under each point: a PNG."""
    import matplotlib

    matplotlib.use("Agg")  # no display: render to bytes
    import matplotlib.pyplot as plt

    from bua_assets.billing.chart import month_colours

    imports = months[(months["flow"] == "import") & (months["days_trued_up"] > 0)]
    fig, ax = plt.subplots(figsize=(12, 5.5), dpi=100)
    # the accrual months as categories: one month alone is a point, not a year-wide axis
    order = sorted(pd.to_datetime(imports["accrual_month"]).unique())
    position = {m: i for i, m in enumerate(order)}
    ax.set_xticks(range(len(order)), [f"{pd.Timestamp(m):%b %Y}" for m in order])
    ax.set_xlim(-0.5, max(len(order) - 0.5, 0.5))
    series = sorted(imports.groupby(["fuel", "meter_kind"]).groups)
    for (fuel, kind), colour in zip(series, month_colours(len(series))):
        s = imports[(imports["fuel"] == fuel) & (imports["meter_kind"] == kind)].sort_values("accrual_month")
        x = [position[m] for m in pd.to_datetime(s["accrual_month"])]
        ax.plot(x, s["quantity_bias_pct"], marker="o", color=colour, label=f"{fuel.lower()} {kind.lower()}")
        for xi, yi, share in zip(x, s["quantity_bias_pct"], s["trued_up_share"]):
            ax.annotate(f"{share:.0%}", (xi, yi), xytext=(0, -12), textcoords="offset points", ha="center", fontsize=7)
    ax.axhline(0.0, color="black", linewidth=0.8)
    ax.set_title(f"Accrual true-up as at {partition[:7]}: each month's accrual against the bills issued since")
    ax.set_ylabel("quantity bias (accrued - billed, % of billed)")
    ax.set_xlabel("accrual month (labels: share of its accrued quantity billed since)")
    if series:
        ax.legend(title="fuel and meter kind (imports)", fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png")
    plt.close(fig)
    return out.getvalue()
