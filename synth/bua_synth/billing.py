"""The billing history: each account's bill periods on its cycle, priced by the generator's own
engine (``Pricer``), invoices and their line items with reversals, re-issues and cancellations,
basic meter reads (actual, estimated, move-in), and the truth of what was billed.

The supply points fall into BILLING_PARTS parts by index, each billed with its own seed (in
parallel when there are workers), so the result does not depend on the worker count.
"""

from __future__ import annotations

import itertools
import multiprocessing as mp
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from bua_assets.billing.charges import (
    BILL_DAYS,
    CREDIT_CHARGES,
    DEMAND_CHARGES,
    OPTIONAL_CHARGES,
    PERCENT_OF_BILL_CHARGES,
    USAGE_DISCOUNT_CHARGES,
    daily_rates,
)
from bua_assets.billing.money import gst, round_cents
from bua_synth.config import GeneratorConfig, add_months
from bua_synth.pool import terminable_worker
from bua_synth.world import TIME_CLASSES

BILL_STEP = {"MONTHLY": 1, "BIMONTHLY": 2, "QUARTERLY": 3}  # months per billing period


def _bill_periods(a, start: date, end: date) -> list[tuple[date, date]]:
    """Billing periods of one account: cycle ends every 1, 2 or 3 months on its cycle day."""
    step = BILL_STEP[a.bill_frequency]
    first = max(a.open_date, start)
    last = end if a.close_date is None else min(a.close_date, end)
    periods, s = [], first
    k = (a.id % step) + 1
    cycle_end = add_months(date(first.year, first.month, 1), k - 1, a.bill_cycle_day)
    while cycle_end < s + timedelta(days=14):
        cycle_end = add_months(cycle_end, step, a.bill_cycle_day)
    while s <= last:
        e = min(cycle_end, last) if a.close_date is not None else cycle_end
        if e > end:
            break
        periods.append((s, e))
        s = e + timedelta(days=1)
        cycle_end = add_months(cycle_end, step, a.bill_cycle_day)
    return periods


BILLING_PARTS = 8  # small parts: a worker holds one part's rows as Python objects at a time
_BILL_PART: Callable | None = None  # set by Billing.run for the billing workers (inherited by fork)


def _bill_part_entry(part: int):
    assert _BILL_PART is not None, "Billing.run sets the part function before the workers start"
    return _BILL_PART(part)


INVOICE_COLUMNS = [
    "id",
    "invoice_number",
    "account_id",
    "issue_date",
    "due_date",
    "period_start",
    "period_end",
    "status",
    "is_credit",
    "reverses_invoice_id",
    "total_net",
    "total_gst",
]
LINE_COLUMNS = [
    "id",
    "invoice_id",
    "account_id",
    "utility_id",
    "period_start",
    "period_end",
    "plan_item_type_name",
    "time_class_name",
    "quantity",
    "uom",
    "rate",
    "net_amount",
    "discount_net",
    "is_credit",
]


def _bill_frames(invoices: list, lines: list, reads: list) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Row lists -> column frames (dates as datetime64[D]: compact to pass between processes)."""

    def frame(rows: list, columns: list[str], dates: set[str]) -> pd.DataFrame:
        cols: list[Sequence[Any]] = list(zip(*rows)) if rows else [[] for _ in columns]
        return pd.DataFrame(
            {
                c: np.array(v, dtype="datetime64[D]")
                if c in dates
                else (np.array(v, dtype=np.float64) if c == "reverses_invoice_id" else list(v))
                for c, v in zip(columns, cols)
            }
        )

    inv = frame(invoices, INVOICE_COLUMNS, {"issue_date", "due_date", "period_start", "period_end"})
    inv["reverses_invoice_id"] = inv["reverses_invoice_id"].astype(np.float64)
    ln = frame(lines, LINE_COLUMNS, {"period_start", "period_end"})
    rd = frame(reads, ["register_index", "read_date", "reading", "read_type"], {"read_date"})
    return inv, ln, rd


@dataclass(frozen=True)
class Pricer:
    """The generator's own billing engine, line by line: the same step-block rule as
    billing/tariff.py's vectorised ``price`` (block k takes what is left above the earlier blocks,
    up to its daily volume x days; a negative quantity goes to block 1), but rates looked up by
    (plan, financial year) with the plan's first year's rates before it."""

    rate_map: dict[tuple, list]  # (plan, fy, charge, class) -> sorted [(block_order, daily volume, price)]
    first_fy: dict[int, int]
    discount: dict[int, Any]  # plan -> PlanDiscount row (a named tuple: method, rate, amount, ...)
    model: dict[int, str]  # plan -> pricing model
    optional: dict[int, list[tuple[str, str, str]]]  # plan -> its optional items (charge, class, basis)
    tou_feed_in: set[int]  # plans whose feed-in is rated by time-of-use class

    @classmethod
    def of(cls, tariffs) -> Pricer:
        rates = daily_rates(tariffs.rates)  # a monthly fee at its daily equivalent, as the engine prices it
        rates["fy"] = pd.to_datetime(rates["effective_from"]).dt.year
        rate_map: dict[tuple, list] = {}
        for r in rates.itertuples():
            rate_map.setdefault((int(r.plan_id), int(r.fy), r.charge_type, r.time_class), []).append(
                (
                    int(r.block_order),
                    None if pd.isna(r.block_daily_volume) else float(r.block_daily_volume),
                    float(r.unit_price),
                )
            )
        rate_map = {k: sorted(v) for k, v in rate_map.items()}
        first_fy: dict[int, int] = {}
        for plan_id, fy, _, _ in rate_map:
            first_fy[plan_id] = min(fy, first_fy.get(plan_id, fy))
        disc = {d.plan_id: d for d in tariffs.discounts.itertuples()}
        optional: dict[int, list[tuple[str, str, str]]] = {}
        extra = rates[rates["charge_type"].isin(OPTIONAL_CHARGES)]
        for plan_id, charge, cls_, basis in (
            extra[["plan_id", "charge_type", "time_class", "basis"]].drop_duplicates().itertuples(index=False)
        ):
            optional.setdefault(int(plan_id), []).append((charge, cls_, basis))
        tou_feed_in = {int(p) for p, _, c, tc in rate_map if c == "FEED_IN" and tc in TIME_CLASSES}
        return cls(
            rate_map,
            first_fy,
            disc,
            dict(zip(tariffs.plans["id"], tariffs.plans["pricing_model"])),
            optional,
            tou_feed_in,
        )

    def price(self, plan: int, fy: int, charge: str, cls: str, qty: float, ndays: int) -> list[tuple]:
        """[(quantity, rate, amount)] for one charge, with step blocks pro-rated by days."""
        tiers = self.rate_map.get((plan, fy, charge, cls)) or self.rate_map.get(
            (plan, self.first_fy[plan], charge, cls), []
        )
        out: list[tuple] = []
        left = float(qty)
        per_kw = charge in DEMAND_CHARGES  # kW x rate x days; blocks in kW
        for order, volume, unit in tiers:
            q = left if volume is None else min(left, volume * (1 if per_kw else ndays))
            if q > 0 or (not out and order == 1):
                out.append((round(q, 3), unit, round_cents(round(q, 3) * unit * (ndays if per_kw else 1))))
            left -= q
            if left <= 1e-9:
                break
        return out

    def discount_of(self, plan: int, charge: str, amount: float, ndays: int, bill_days: float) -> float:
        """The plan's discount on one priced amount, by the engine's rules (charges.py): a
        percentage of the bill or of usage on the charges each applies to; a fixed amount per
        bill accrued by day on the supply line."""
        d = self.discount.get(plan)
        if d is None:
            return 0.0
        if d.method == "fixedAmount":
            return round_cents(float(d.amount) * ndays / bill_days) if charge == "DAILY_RETAIL" else 0.0
        applies = PERCENT_OF_BILL_CHARGES if d.method == "percentOfBill" else USAGE_DISCOUNT_CHARGES
        return round_cents(amount * d.rate) if charge in applies else 0.0


def first_readings(registers: pd.DataFrame, rng: np.random.Generator) -> dict[int, float]:
    """Each register's reading the day before the history (basic meters are read from it): 10%
    near the top of the dial, so some roll over."""
    dials = 10 ** registers["digits"].to_numpy(dtype=np.int64)
    r0 = np.where(rng.random(len(dials)) < 0.9, rng.integers(0, dials), dials - rng.integers(50, 400, len(dials)))
    return dict(enumerate(r0.astype(np.float64).tolist()))


class Billing:
    """Invoices, line items and basic meter reads. The supply points fall into BILLING_PARTS parts
    by index, each billed with its own seed (in parallel when there are workers), so the result
    does not depend on the worker count."""

    def __init__(
        self,
        config: GeneratorConfig,
        accounts: pd.DataFrame,
        utilities: pd.DataFrame,
        registers: pd.DataFrame,
        plan_of_account: dict,
        pricer: Pricer,
        heating_values: dict[tuple[int, date], float],
        reading0: dict[int, float],
        billed_daily: np.ndarray,
        true_daily: np.ndarray,
    ):
        self.config, self.accounts, self.pricer, self.hv = config, accounts, pricer, heating_values
        self.plan_of_account, self.reading0 = plan_of_account, reading0
        self.util_rows = list(utilities.itertuples())
        # billed_daily holds the interval registers, true_daily the basic ones (in register order).
        self.billed_daily, self.true_daily = billed_daily, true_daily
        interval_reg = (registers["interval_length"] > 0).to_numpy()
        self.reg_pos = np.where(interval_reg, np.cumsum(interval_reg) - 1, np.cumsum(~interval_reg) - 1)
        self.day0 = np.datetime64(config.start)
        # Registers are grouped by supply point (rows of one supply point are contiguous).
        ui = registers["utility_index"].to_numpy()
        bounds = np.r_[np.flatnonzero(np.r_[True, ui[1:] != ui[:-1]]), len(ui)]
        self.regs_of_util = {int(ui[b0]): np.arange(b0, b1) for b0, b1 in itertools.pairwise(bounds)}
        self.reg_basic = (registers["interval_length"] == 0).to_numpy()
        self.reg_suffix, self.reg_digits = registers["suffix"].tolist(), registers["digits"].tolist()
        self.reg_util = registers["utility_index"].to_numpy()
        self.part_of_account = accounts["utility_index"].to_numpy() % BILLING_PARTS

    def run(self, workers: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """(invoices, line items, reads) of every part, ids running on from part to part. Frees
        the daily arrays."""
        global _BILL_PART
        _BILL_PART = self.bill_part
        try:
            if workers > 1 and "fork" in mp.get_all_start_methods():
                pool = mp.get_context("fork").Pool(min(workers, BILLING_PARTS), initializer=terminable_worker)
                try:
                    parts = pool.map(_bill_part_entry, range(BILLING_PARTS), chunksize=1)
                    pool.close()  # the workers finish on the pool's sentinels, no signal needed
                except BaseException:
                    pool.terminate()  # SIGTERM, at its default action in the workers (terminable_worker)
                    raise
                finally:
                    pool.join()
            else:
                parts = [self.bill_part(k) for k in range(BILLING_PARTS)]
        finally:
            _BILL_PART = None
        self.billed_daily = self.true_daily = np.empty((0, 0))  # free them
        return _join_parts(parts)

    def true_to(self, reg: int, k: int) -> float:
        """True consumption of a basic register over the first k days (float64, summed in order)."""
        return float(np.cumsum(self.true_daily[self.reg_pos[reg], :k], dtype=np.float64)[-1]) if k else 0.0

    def cs_billed(self, reg: int) -> np.ndarray:
        """Cumulative billed sums of one interval register: (days + 1, 4), float64."""
        out = np.zeros((self.billed_daily.shape[1] + 1, 4))
        np.cumsum(self.billed_daily[self.reg_pos[reg], :, :4], axis=0, dtype=np.float64, out=out[1:])
        return out

    def peak_demand(self, regs: np.ndarray, i0: int, i1: int) -> float | None:
        """The largest PEAK half hour of days i0..i1-1 in kW, over the import registers ``regs``
        (one import register per site in this world, so the largest is the coincident one); None
        when one of them is basic (no half hours to measure)."""
        if self.reg_basic[regs].any():
            return None
        pos = self.reg_pos[regs]
        return float(self.billed_daily[pos, i0:i1, 4].max()) * 2.0 if len(pos) and i1 > i0 else 0.0

    def bill_part(self, part: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """Bill the accounts of one part, in account order."""
        ledger = _PartLedger(self, np.random.default_rng([self.config.seed, 7919, part]))
        for reg in np.flatnonzero(self.reg_basic & (self.reg_util % BILLING_PARTS == part)):
            ledger.first_read(int(reg))
        for a in self.accounts[self.part_of_account == part].itertuples():
            self.bill_account(ledger, a)
        return _bill_frames(ledger.invoices, ledger.lines, ledger.reads)

    def bill_account(self, ledger: _PartLedger, a) -> None:
        """One account's migration invoice and bills (with reversals, re-issues and cancellations)."""
        start, as_at = self.config.start, self.config.as_at
        rng = ledger.rng
        regs = self.regs_of_util[a.utility_index]
        basic = regs[self.reg_basic[regs]]
        versions = self.plan_of_account[a.id]
        cs_of: dict[int, np.ndarray] = {}
        # A move-in is a special read: the new tenant's consumption starts from it.
        if a.open_date > start:
            move_in = a.open_date - timedelta(days=1)
            for reg in basic:
                if ledger.reads[ledger.last_read_at[reg]][1] != move_in:
                    ledger.take_read(reg, move_in, False)
        # Cut-over: a migration invoice for everything before the history starts.
        if a.open_date < start:
            ledger.invoice(
                a,
                a.open_date,
                start - timedelta(days=1),
                start - timedelta(days=1),
                self.migration_lines(a, versions[0][2]),
            )
            ledger.invoices[-1][1] = "MIG"
        periods = _bill_periods(a, start, self.config.end)
        for pi, (s, e) in enumerate(periods):
            delay = int(rng.integers(1, 5)) + (int(rng.integers(20, 45)) if a.late and pi == len(periods) - 1 else 0)
            issue = e + timedelta(days=delay)
            # Reads for basic registers at the period end (4% estimated). The read arrives even
            # when the bill is late, so a period can be read but not yet billed at the run date.
            basic_q = {reg: ledger.period_read(reg, e) for reg in basic}
            if issue >= as_at:
                break
            sub_lines = self.period_lines(a, s, e, regs, versions, basic_q, cs_of)
            inv = ledger.invoice(a, s, e, issue, sub_lines)
            # 2% reversed (credit note) and re-issued; 0.5% cancelled before sending and re-issued.
            u_rev = rng.random()
            if pi < len(periods) - 1 and u_rev < 0.02:
                ri = issue + timedelta(days=int(rng.integers(5, 25)))
                if ri < as_at:
                    ledger.invoice(a, s, e, ri, sub_lines, credit_of=inv)
                    ledger.invoice(a, s, e, ri, sub_lines)
            elif u_rev > 0.995:
                ledger.invoices[inv - 1][7] = "CANCELLED"
                ledger.invoice(a, s, e, issue + timedelta(days=2), sub_lines)

    def migration_lines(self, a, plan: int) -> list[list]:
        """Supply only (usage before the history is not known), split at 1 July and priced like
        any bill: that year's prices, the plan's discount on the bill."""
        start = self.config.start
        cuts = [
            a.open_date,
            *(date(y, 7, 1) for y in range(a.open_date.year, start.year + 1) if a.open_date < date(y, 7, 1) < start),
            start,
        ]
        mig = []
        for ss, ee1 in itertools.pairwise(cuts):
            nd = (ee1 - ss).days
            fy = ss.year if ss.month >= 7 else ss.year - 1
            for q, r, amt in self.pricer.price(plan, fy, "DAILY_RETAIL", "ANYTIME", nd, nd):
                dn = self.pricer.discount_of(plan, "DAILY_RETAIL", amt, nd, BILL_DAYS[a.bill_frequency])
                mig.append(
                    [
                        a.id,
                        a.utility_index + 1,
                        ss,
                        ee1 - timedelta(days=1),
                        "DAILY_RETAIL",
                        "ANYTIME",
                        q,
                        "DAY",
                        r,
                        amt,
                        dn,
                    ]
                )
        return mig

    def period_lines(
        self, a, s: date, e: date, regs: np.ndarray, versions: list, basic_q: dict, cs_of: dict[int, np.ndarray]
    ) -> list[list]:
        """The line items of one billing period, split at 1 July and at plan version boundaries;
        a basic register's usage is spread over the pieces by days."""
        cuts = sorted(
            {s, e + timedelta(days=1)}
            | {date(y, 7, 1) for y in range(s.year, e.year + 1) if s < date(y, 7, 1) <= e}
            | {vs for vs, _, _ in versions if s < vs <= e}
        )
        total_days = (e - s).days + 1
        sub_lines = []
        for ss, ee1 in itertools.pairwise(cuts):
            ee = ee1 - timedelta(days=1)
            nd = (ee - ss).days + 1
            fy = ss.year if ss.month >= 7 else ss.year - 1
            plan = next(p for vs, ve, p in versions if vs <= ss and (ve is None or ss <= ve))
            for charge, cls, qty, uom in self.charges(a, ss, ee, nd, total_days, regs, plan, basic_q, cs_of):
                for q, rate, amt in self.pricer.price(plan, fy, charge, cls, qty, nd):
                    if charge == "FEED_IN":
                        amt = -amt
                    dn = self.pricer.discount_of(plan, charge, amt, nd, BILL_DAYS[a.bill_frequency])
                    sub_lines.append([a.id, a.utility_index + 1, ss, ee, charge, cls, q, uom, rate, amt, dn])
        return sub_lines

    def charges(  # noqa: C901 - one branch per plan charge type, as the tariff lists them
        self,
        a,
        ss: date,
        ee: date,
        nd: int,
        total_days: int,
        regs: np.ndarray,
        plan: int,
        basic_q: dict,
        cs_of: dict[int, np.ndarray],
    ) -> list[tuple[str, str, float, str]]:
        """(charge type, time class, quantity, unit) of one piece of a period: the daily supply
        charge, then each register's usage by its suffix (gas in MJ, controlled load, feed-in,
        time-of-use classes on a time-of-use plan, else anytime)."""
        u = self.util_rows[a.utility_index]
        model = self.pricer.model[plan]
        i0 = int((np.datetime64(ss) - self.day0).astype(int))
        i1 = int((np.datetime64(ee) - self.day0).astype(int)) + 1
        charges = [("DAILY_RETAIL", "ANYTIME", float(nd), "DAY")]
        bought = 0.0
        for reg in regs:
            suffix = self.reg_suffix[reg]
            if self.reg_basic[reg]:
                q = basic_q[reg] * nd / total_days
                qs = {"ANYTIME": q}
            else:
                if reg not in cs_of:
                    cs_of[reg] = self.cs_billed(reg)
                agg = cs_of[reg][i1] - cs_of[reg][i0]
                qs = {"ANYTIME": agg[0], **{c: agg[1 + k] for k, c in enumerate(TIME_CLASSES)}}
            if suffix == "G1":
                mj = qs["ANYTIME"] * self.hv[(u.network_id, date(ee.year, ee.month, 1))] * u.pcf
                charges.append(("USAGE_RETAIL", "ANYTIME", mj, "MJ"))
            elif suffix in ("E2", "41"):
                charges.append(("CONTROLLED_LOAD", "CONTROLLED_LOAD", qs["ANYTIME"], "KWH"))
            elif suffix == "B1" and plan in self.pricer.tou_feed_in and not self.reg_basic[reg]:
                charges += [("FEED_IN", c, qs[c], "KWH") for c in TIME_CLASSES]
            elif suffix == "B1":
                charges.append(("FEED_IN", "SOLAR", qs["ANYTIME"], "KWH"))
            elif model.startswith("TIME_OF_USE") and not self.reg_basic[reg]:
                charges += [("USAGE_RETAIL", c, qs[c], "KWH") for c in TIME_CLASSES]
            else:
                charges.append(("USAGE_RETAIL", "ANYTIME", qs["ANYTIME"], "KWH"))
            if suffix not in ("G1", "B1"):
                bought += qs["ANYTIME"]
        # The plan's optional items: per day of supply, per kWh bought (general and controlled
        # load), or per kW of the part's largest PEAK half hour (demand).
        imports = np.array([r for r in regs if self.reg_suffix[r] not in ("G1", "B1")], dtype=np.int64)
        for charge, cls, basis in self.pricer.optional.get(plan, []):
            if basis == "DAY":
                charges.append((charge, cls, float(nd), "DAY"))
            elif basis == "DEMAND":
                kw = self.peak_demand(imports, i0, i1)
                if kw is not None:
                    charges.append((charge, cls, round(kw, 3), "KW"))
            else:
                charges.append((charge, cls, bought, "KWH"))
        return charges


class _PartLedger:
    """What one billing part writes: basic meter reads (and each register's last one), invoices
    and line items as row lists, with the part's own random stream."""

    def __init__(self, billing: Billing, rng: np.random.Generator):
        self.billing, self.rng = billing, rng
        self.reads: list = []
        self.invoices: list = []
        self.lines: list = []
        self.last_reading: dict[int, float] = {}
        self.last_read_at: dict[int, int] = {}  # per register: its last row in reads

    def read_at(self, reg: int, d: date, est: bool, prev: float) -> float:
        """The register's reading at the end of ``d``; an estimated read gets the consumption since
        the previous read wrong by a typical 15% (never backwards)."""
        b = self.billing
        k = (d - b.config.start).days + 1
        dial = 10 ** b.reg_digits[reg]
        actual = float(np.floor(b.reading0[reg] + b.true_to(reg, k)) % dial)
        if not est:
            return actual
        used = (actual - prev) % dial
        return float(np.floor(prev + used * max(0.0, 1.0 + self.rng.normal(0, 0.15))) % dial)

    def first_read(self, reg: int) -> None:
        """The cut-over read, the day before the history starts."""
        self.last_reading[reg] = float(np.floor(self.billing.reading0[reg]) % 10 ** self.billing.reg_digits[reg])
        self.last_read_at[reg] = len(self.reads)
        self.reads.append((reg, self.billing.config.start - timedelta(days=1), self.last_reading[reg], "ACTUAL"))

    def take_read(self, reg: int, d: date, est: bool) -> float:
        """Read the register at the end of ``d`` and record it; returns the reading."""
        cur = self.read_at(reg, d, est, self.last_reading[reg])
        self.last_reading[reg] = cur
        self.last_read_at[reg] = len(self.reads)
        self.reads.append((reg, d, cur, "ESTIMATE" if est else "ACTUAL"))
        return cur

    def period_read(self, reg: int, e: date) -> float:
        """The read at a period end (4% estimated) and the usage since the previous read. An
        actual read below an over-estimate corrects it (negative usage); below an actual read it
        can only be the dial rolling over."""
        est = self.rng.random() < 0.04
        prev = self.last_reading[reg]
        prev_estimated = self.reads[self.last_read_at[reg]][3] == "ESTIMATE"
        cur = self.take_read(reg, e, est)
        dial = 10 ** self.billing.reg_digits[reg]
        correction = prev_estimated and cur < prev and prev - cur <= 0.2 * dial
        return cur - prev if correction else (cur - prev) % dial

    def invoice(self, a, s: date, e: date, issue: date, sub_lines: list, credit_of: int | None = None) -> int:
        """An ISSUED invoice (a credit note of ``credit_of`` if given) with its lines; its id."""
        inv_id = len(self.invoices) + 1
        sign = -1 if credit_of else 1
        net = round_cents(sum(line[9] for line in sub_lines) * sign)
        # No GST on a feed-in credit to a household (not registered for GST).
        gst_free = (
            0.0 if a.segment else round_cents(sum(line[9] for line in sub_lines if line[4] in CREDIT_CHARGES) * sign)
        )
        self.invoices.append(
            [
                inv_id,
                "INV",
                a.id,
                issue,
                issue + timedelta(days=14),
                s,
                e,
                "ISSUED",
                1 if credit_of else 0,
                credit_of,
                net,
                gst(net - gst_free),
            ]
        )
        for line in sub_lines:
            self.lines.append([len(self.lines) + 1, inv_id, *line, 1 if credit_of else 0])
        return inv_id


def _join_parts(parts: list) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The parts' (invoices, lines, reads) as one of each; ids run on from the previous part and
    invoice numbers are their prefix and id."""
    inv_frames, line_frames, read_frames = [], [], []
    n_inv = n_lines = 0
    for inv, ln, rd in parts:  # ids run on from the previous part
        inv["id"] += n_inv
        inv["reverses_invoice_id"] += n_inv
        ln["id"] += n_lines
        ln["invoice_id"] += n_inv
        n_inv, n_lines = n_inv + len(inv), n_lines + len(ln)
        inv_frames.append(inv)
        line_frames.append(ln)
        read_frames.append(rd)
    del parts[:]
    invoices = pd.concat(inv_frames, ignore_index=True)
    invoices["id"] = invoices["id"].astype(np.int64)  # a part with no bills (a tiny world) has untyped columns
    invoices["invoice_number"] = invoices["invoice_number"].astype(str) + invoices["id"].map("{:09d}".format)
    lines = pd.concat(line_frames, ignore_index=True).astype({"id": np.int64, "invoice_id": np.int64})
    reads = pd.concat(read_frames, ignore_index=True)
    return invoices, lines, reads


def write_billing_truth(path: Path, invoices: pd.DataFrame, tenancies: pd.DataFrame) -> None:
    """What the generator billed, kept with the truth: per account x supply point its tenancy and
    the last day covered by an issued, unreversed invoice (None: never billed). An accuracy
    backtest takes the unbilled days from here, not from the pipeline it is checking."""
    reversed_ids = invoices.loc[(invoices["is_credit"] == 1) & (invoices["status"] == "ISSUED"), "reverses_invoice_id"]
    good = invoices[
        (invoices["status"] == "ISSUED") & (invoices["is_credit"] == 0) & ~invoices["id"].isin(reversed_ids)
    ]
    billed = pd.to_datetime(good["period_end"]).groupby(good["account_id"]).max()
    frame = pd.DataFrame(
        {
            "account_id": tenancies["account_id"].to_numpy(),
            "utility_id": tenancies["utility_id"].to_numpy(),
            "open_date": pd.to_datetime(tenancies["start_date"]).to_numpy().astype("datetime64[D]"),
            "close_date": pd.to_datetime(tenancies["end_date"]).to_numpy().astype("datetime64[D]"),
            "billed_through": billed.reindex(tenancies["account_id"].to_numpy()).to_numpy().astype("datetime64[D]"),
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)
