"""Compare and cancel (DESIGN §5.6): supplementary lines for charge versions changed after billing.

    run_supplementary(versions, previous, period_start, period_end) -> list[Transaction]
    compare_and_cancel(calculated, previous, group, key) -> (new debits, reversed debits)

One pass over every non-DRAFT version, grouped by billing account x supply point. Lines are
calculated only for APPROVED versions, but groups that hold only REPLACED versions are finalised
in the same pass: their previous debits, once cleansed of the credits that cancelled them, find
nothing to match and are reversed. A calculated line that matches a remaining previous debit
cancels it (nothing to bill again); the rest is billed. A group with nothing left yields nothing,
so a run in which nothing changed comes out empty.

The matching is columnar (``compare_and_cancel``): "each credit cancels one matching debit" is a
multiset difference, done as an anti-join on (group, match key, occurrence number within the
key), so it costs a sort and a join whatever the number of groups. ``run_supplementary`` is the
object-level interface for daily charges; ``billing/corrections.py`` runs every charge item of
the real tables (usage, controlled load, feed-in, discounts) through the same function.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date

import numpy as np
import pandas as pd

from bua_assets.billing.money import round_cents

# What a correction did not do, per billed period: the corrections' and the re-rating's exceptions.
EXCEPTION_COLUMNS = ["account_id", "utility_id", "period_start", "code", "reason"]


def period_exceptions(frame: pd.DataFrame, code: str, reason, start: str = "period_start") -> pd.DataFrame:
    """EXCEPTION_COLUMNS rows for ``frame``'s rows (account_id, utility_id and the period start in
    column ``start``), with ``code`` and ``reason`` (one text, or one per row)."""
    return pd.DataFrame(
        {
            "account_id": frame["account_id"].to_numpy(),
            "utility_id": frame["utility_id"].to_numpy(),
            "period_start": pd.to_datetime(frame[start]).dt.date.to_numpy(),
            "code": code,
            "reason": np.asarray(reason, dtype=object),
        },
        columns=EXCEPTION_COLUMNS,
    )


STATUSES = ("APPROVED", "REPLACED", "DRAFT")


@dataclass(frozen=True)
class ChargeVersion:
    id: int
    billing_account: int | str
    supply_point: int | str
    start: date
    end: date | None  # None: open-ended
    status: str  # APPROVED | REPLACED | DRAFT
    charge_item: str  # a daily charge item, e.g. DAILY_RETAIL
    rate: float  # $ per day, ex-GST
    time_class: str = "ANYTIME"

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"charge version {self.id}: status {self.status!r} is not one of {', '.join(STATUSES)}")
        if self.end is not None and self.end < self.start:
            raise ValueError(f"charge version {self.id}: ends ({self.end}) before it starts ({self.start})")


@dataclass(frozen=True)
class Transaction:
    """One line of an invoice. Usage lines also carry the day their (part) period starts, since
    two parts of a billed period can have the same length, and their discount, since a plan
    replaced by one with the same rates but another discount is a different charge."""

    billing_account: int | str
    supply_point: int | str
    charge_item: str
    time_class: str
    billable_days: int
    quantity: float
    rate: float
    amount: float
    is_credit: bool
    period_start: date | None = None
    discount_net: float = 0.0

    def match_key(self) -> tuple:
        """What makes two lines the same charge: item, time class, start, days, quantity, rate, discount."""
        return (
            self.charge_item,
            self.time_class,
            self.period_start,
            self.billable_days,
            *match_values(self.quantity, self.rate, self.discount_net),
        )


def match_values(quantity, rate, discount) -> tuple:
    """Quantity to 0.001, rate to 0.000001 and discount to the cent, as integers (exact keys)."""
    return (
        (
            np.rint(np.abs(np.asarray(quantity, dtype=float)) * 1e3).astype(np.int64),
            np.rint(np.asarray(rate, dtype=float) * 1e6).astype(np.int64),
            np.rint(np.abs(np.asarray(discount, dtype=float)) * 1e2).astype(np.int64),
        )
        if np.ndim(quantity)
        else (
            int(round(abs(float(quantity)) * 1e3)),
            int(round(float(rate) * 1e6)),
            int(round(abs(float(discount)) * 1e2)),
        )
    )


def calculate(version: ChargeVersion, period_start: date, period_end: date) -> Transaction | None:
    """A daily charge over the version's overlap with the period (inclusive); None without overlap."""
    first = max(version.start, period_start)
    last = period_end if version.end is None else min(version.end, period_end)
    days = (last - first).days + 1
    if days <= 0:
        return None
    return Transaction(
        version.billing_account,
        version.supply_point,
        version.charge_item,
        version.time_class,
        days,
        float(days),
        version.rate,
        round_cents(days * version.rate),
        False,
    )


def _pair_keys(left: pd.DataFrame, right: pd.DataFrame, cols: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Per row: a 64-bit hash of (``cols`` values, occurrence number among the rows of its own
    frame with the same values, in row order). Equal pairs are equal keys; different pairs
    collide with probability ~n²/2⁶⁴."""
    out = []
    for frame in (left, right):
        h = pd.util.hash_pandas_object(frame[cols], index=False).to_numpy()
        order = np.argsort(h, kind="stable")
        sorted_h = h[order]
        first = np.r_[True, sorted_h[1:] != sorted_h[:-1]] if len(h) else np.zeros(0, dtype=bool)
        start = np.maximum.accumulate(np.where(first, np.arange(len(h)), 0))
        n = np.empty(len(h), dtype=np.uint64)
        n[order] = (np.arange(len(h)) - start).astype(np.uint64)
        with np.errstate(over="ignore"):
            out.append(h ^ ((n + np.uint64(1)) * np.uint64(0x9E3779B97F4A7C15)))
    return out[0], out[1]


def _without(left: pd.DataFrame, right: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    """Rows of ``left`` not cancelled one-for-one by a row of ``right`` with the same ``cols``
    (a multiset difference: the k-th repeat on the left meets the k-th repeat on the right)."""
    if left.empty or right.empty:
        return left
    a, b = _pair_keys(left, right, cols)
    return left[~np.isin(a, b)]


def cleanse(previous: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    """The previous debits left after each credit (``is_credit``) cancels one debit with the same ``cols``."""
    credit = previous["is_credit"].to_numpy(dtype=bool)
    return _without(previous[~credit], previous[credit], cols)


def compare_and_cancel(
    calculated: pd.DataFrame, previous: pd.DataFrame, group: list[str], key: list[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(calculated lines left to bill, previous debits to reverse) — DESIGN §5.6 steps 3-5.

    Previous transactions are cleansed (each credit cancels one debit with the same ``group`` +
    ``key``), then each calculated line cancels one remaining debit. The caller passes only the
    previous transactions of the groups in play (those of every non-DRAFT version); rows keep
    their order and columns."""
    cols = [*group, *key]
    remaining = cleanse(previous, cols)
    return _without(calculated, remaining, cols), _without(remaining, calculated, cols)


MATCH = ["charge_item", "time_class", "period_start", "billable_days", "q_key", "rate_key", "discount_key"]


def _frame(transactions: list[Transaction]) -> pd.DataFrame:
    f = pd.DataFrame(
        {
            "billing_account": [t.billing_account for t in transactions],
            "supply_point": [t.supply_point for t in transactions],
            "charge_item": [t.charge_item for t in transactions],
            "time_class": [t.time_class for t in transactions],
            "period_start": [t.period_start for t in transactions],
            "billable_days": [t.billable_days for t in transactions],
            "is_credit": [t.is_credit for t in transactions],
            "_i": np.arange(len(transactions)),
        },
        dtype=object,
    )
    q, r, d = match_values(
        np.array([t.quantity for t in transactions], dtype=float),
        np.array([t.rate for t in transactions], dtype=float),
        np.array([t.discount_net for t in transactions], dtype=float),
    )
    return f.assign(q_key=q, rate_key=r, discount_key=d)


def run_supplementary(
    versions: Iterable[ChargeVersion], previous: Iterable[Transaction], period_start: date, period_end: date
) -> list[Transaction]:
    """Supplementary transactions for the period: new debits and reversing credits, per group
    (groups in billing account x supply point order; in a group, new debits then reversals)."""
    live = sorted((v for v in versions if v.status != "DRAFT"), key=lambda v: (v.start, v.id))
    groups = sorted({(v.billing_account, v.supply_point) for v in live})
    rank = {g: i for i, g in enumerate(groups)}
    calculated = [
        t for v in live if v.status == "APPROVED" for t in [calculate(v, period_start, period_end)] if t is not None
    ]
    history = [t for t in previous if (t.billing_account, t.supply_point) in rank]
    new, reversed_ = compare_and_cancel(_frame(calculated), _frame(history), ["billing_account", "supply_point"], MATCH)
    out = [(rank[(calculated[i].billing_account, calculated[i].supply_point)], 0, calculated[i]) for i in new["_i"]]
    out += [
        (rank[(history[i].billing_account, history[i].supply_point)], 1, replace(history[i], is_credit=True))
        for i in reversed_["_i"]
    ]
    return [t for _, _, t in sorted(out, key=lambda x: (x[0], x[1]))]
