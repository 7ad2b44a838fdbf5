"""Compare and cancel at scale (issue 15): supplementary lines for every charge item.

    python bench/corrections.py --supply-points 10000 [--flagged 0.05] [--seed 3] [--repeat 1]

Builds, in memory, a year of monthly bills (cycle day 15, so one period spans 1 July) for every
supply point on the generator's tariffs (time of use, step blocks, controlled load, feed-in,
conditional and guaranteed discounts), billed by the tariff engine. A share of the supply points
(``--flagged``) had their plan replaced after billing: from the start, or from a day inside the
billed year (a third of them); 2% of their bills were credited and re-issued. Times the asset's
work: the Arrow filter of InvoiceLineItem to flagged supply points, then ``supplementary_lines``.
Set-up is not timed. Prints one JSON line: wall seconds and the process's CPU seconds (all
threads) per repeat, and the load average at the end (the box is shared: wall time stretches
with the load, CPU time much less).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bua_assets.billing.corrections import flagged_line_items, supplementary_lines
from bua_assets.billing.tariff import price
from bua_synth.world import build_tariffs

FIRST = pd.Timestamp("2025-10-15")
PERIODS = 12


def build(n: int, flagged_share: float, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    t = build_tariffs(np.random.default_rng(seed), date(2024, 7, 1), date(2027, 6, 30))
    plans = t.plans[t.plans["service_type_id"] == 1]
    key = plans.set_index(["jurisdiction_id", "customer_type", "pricing_model", plans["plan_code"].str[-4:]])["id"]
    state = rng.choice(plans["jurisdiction_id"].unique(), n)
    customer = np.where(rng.random(n) < 0.8, "RESIDENTIAL", "BUSINESS")
    tou, cl, solar = rng.random(n) < 0.4, rng.random(n) < 0.2, rng.random(n) < 0.3
    model = np.where(tou, "TIME_OF_USE", "SINGLE_RATE") + np.where(cl, "_CONT_LOAD", "")
    variant = np.where(rng.random(n) < 0.5, "AVER", "FLEX")  # SAVER / FLEX by the code's last 4 letters
    sibling = np.where(variant == "AVER", "FLEX", "AVER")
    plan = key.reindex(pd.MultiIndex.from_arrays([state, customer, model, variant])).to_numpy()
    new_plan = key.reindex(pd.MultiIndex.from_arrays([state, customer, model, sibling])).to_numpy()
    sp = np.arange(1, n + 1)  # supply point = account id
    flagged = rng.random(n) < flagged_share
    switch = flagged & (rng.random(n) < 1 / 3)
    switch_day = FIRST + pd.to_timedelta(rng.integers(40, 330, n), unit="D")

    # Charge versions: the billed one REPLACED on flagged supply points; the new plan from the
    # start, or the billed plan until a day in the year and the new one after it.
    start = pd.Timestamp("2024-01-01")
    v = [
        pd.DataFrame(
            {
                "account_id": sp,
                "utility_id": sp,
                "plan_id": plan,
                "start_date": start,
                "end_date": pd.NaT,
                "status": np.where(flagged, "REPLACED", "APPROVED"),
                "include_in_supplementary": 0,
            }
        )
    ]
    f, s = sp[flagged & ~switch], sp[switch]
    v.append(
        pd.DataFrame(
            {
                "account_id": f,
                "utility_id": f,
                "plan_id": new_plan[f - 1],
                "start_date": start,
                "end_date": pd.NaT,
                "status": "APPROVED",
                "include_in_supplementary": 1,
            }
        )
    )
    v.append(
        pd.DataFrame(
            {
                "account_id": s,
                "utility_id": s,
                "plan_id": plan[s - 1],
                "start_date": start,
                "end_date": switch_day[s - 1] - pd.Timedelta(days=1),
                "status": "APPROVED",
                "include_in_supplementary": 0,
            }
        )
    )
    v.append(
        pd.DataFrame(
            {
                "account_id": s,
                "utility_id": s,
                "plan_id": new_plan[s - 1],
                "start_date": switch_day[s - 1],
                "end_date": pd.NaT,
                "status": "APPROVED",
                "include_in_supplementary": 1,
            }
        )
    )
    versions = pd.concat(v, ignore_index=True)
    versions.insert(0, "id", np.arange(1, len(versions) + 1))
    # The billed versions were created before the bills were issued, their replacements after.
    versions["created_at"] = np.where(
        versions["status"] == "REPLACED", pd.Timestamp("2024-01-01"), pd.Timestamp("2026-10-20")
    )

    # Bills: monthly from the 15th, split at 1 July; one line per charge x time class.
    starts = FIRST + pd.DateOffset(months=1) * np.arange(PERIODS)
    bounds = sorted({*starts, FIRST + pd.DateOffset(months=PERIODS), pd.Timestamp("2026-07-01")})
    parts = pd.DataFrame({"period_start": bounds[:-1], "period_end": [b - pd.Timedelta(days=1) for b in bounds[1:]]})
    parts["invoice_no"] = (
        np.searchsorted(np.array(starts, dtype="datetime64[ns]"), parts["period_start"].to_numpy(), side="right") - 1
    )
    charges = [
        ("DAILY_RETAIL", "ANYTIME", "DAY", np.ones(n, bool), 0.0),
        ("USAGE_RETAIL", "PEAK", "KWH", tou, 4.0),
        ("USAGE_RETAIL", "SHOULDER", "KWH", tou, 5.0),
        ("USAGE_RETAIL", "OFF_PEAK", "KWH", tou, 7.0),
        ("USAGE_RETAIL", "ANYTIME", "KWH", ~tou, 16.0),
        ("CONTROLLED_LOAD", "CONTROLLED_LOAD", "KWH", cl, 6.0),
        ("FEED_IN", "SOLAR", "KWH", solar, 8.0),
    ]
    frames = []
    for charge, cls, uom, has, per_day in charges:
        who = sp[has]
        c = pd.DataFrame({"utility_id": np.repeat(who, len(parts)), "part": np.tile(np.arange(len(parts)), len(who))})
        c = c.join(parts, on="part")
        days = (c["period_end"] - c["period_start"]).dt.days + 1
        scale = rng.lognormal(0, 0.4, len(c))
        c = c.assign(
            charge_type=charge,
            time_class=cls,
            uom=uom,
            quantity=np.where(charge == "DAILY_RETAIL", days, np.round(per_day * days * scale, 3)),
        )
        frames.append(c)
    lines = pd.concat(frames, ignore_index=True)
    lines["account_id"] = lines["utility_id"]
    lines["plan_id"] = plan[lines["utility_id"] - 1]
    lines["invoice_id"] = (lines["utility_id"] - 1) * PERIODS + lines["invoice_no"] + 1
    lines["line_id"] = np.arange(len(lines))
    lines["pay_on_time_propensity"] = rng.random(n)[lines["utility_id"] - 1]
    # Price the flagged supply points' bills with the engine (the rest only need to be filtered out).
    on_flagged = flagged[lines["utility_id"] - 1]
    priced = price(lines[on_flagged], t.rates, t.discounts).lines.join(
        lines.set_index("line_id")[["utility_id", "invoice_id"]], on="line_id"
    )
    priced = priced.rename(columns={"part_start": "period_start", "part_end": "period_end"})
    rest = lines[~on_flagged].assign(rate=0.3, net_amount=lambda f: np.round(f["quantity"] * 0.3, 2), discount_net=0.0)
    items = pd.concat([priced, rest], ignore_index=True)[
        [
            "invoice_id",
            "account_id",
            "utility_id",
            "period_start",
            "period_end",
            "charge_type",
            "time_class",
            "quantity",
            "uom",
            "rate",
            "net_amount",
            "discount_net",
        ]
    ].rename(columns={"charge_type": "plan_item_type_name", "time_class": "time_class_name"})
    invoices = pd.DataFrame(
        {
            "id": np.arange(1, n * PERIODS + 1),
            "account_id": np.repeat(sp, PERIODS),
            "status": "ISSUED",
            "is_credit": 0,
            "issue_date": pd.Timestamp("2026-10-05"),
        }
    )
    # 2% of the flagged supply points' bills credited and issued again.
    redo = invoices[flagged[invoices["account_id"] - 1] & (rng.random(len(invoices)) < 0.02)]["id"].to_numpy()
    copies = []
    for k, is_credit in ((1, 1), (2, 0)):
        ids = dict(zip(redo, len(invoices) + k + 2 * np.arange(len(redo))))
        copies.append(
            (
                pd.DataFrame(
                    {
                        "id": list(ids.values()),
                        "account_id": invoices.set_index("id").loc[redo, "account_id"].to_numpy(),
                        "status": "ISSUED",
                        "is_credit": is_credit,
                        "issue_date": pd.Timestamp("2026-10-10"),
                    }
                ),
                items[items["invoice_id"].isin(redo)].assign(invoice_id=lambda f, m=ids: f["invoice_id"].map(m)),
            )
        )
    invoices = pd.concat([invoices, *(c[0] for c in copies)], ignore_index=True)
    items = pd.concat([items, *(c[1] for c in copies)], ignore_index=True)
    items["period_start"] = items["period_start"].dt.date
    items["period_end"] = items["period_end"].dt.date
    propensity = pd.Series(rng.random(n), index=sp)
    return {
        "versions": versions,
        "rates": t.rates,
        "discounts": t.discounts,
        "invoices": invoices,
        "line_items": pa.Table.from_pandas(items, preserve_index=False),
        "propensity": propensity,
        "flagged": int(flagged.sum()),
    }


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--supply-points", type=int, required=True)
    p.add_argument("--flagged", type=float, default=0.05)
    p.add_argument("--seed", type=int, default=3)
    p.add_argument("--repeat", type=int, default=1)
    args = p.parse_args()
    t0 = time.perf_counter()
    w = build(args.supply_points, args.flagged, args.seed)
    setup = time.perf_counter() - t0
    times, cpu = [], []
    for _ in range(args.repeat):
        t, c = time.perf_counter(), time.process_time()
        billed = flagged_line_items(w["line_items"], w["versions"])
        lines, exceptions = supplementary_lines(
            w["versions"], w["rates"], w["invoices"], billed, date(2024, 11, 1), w["discounts"], w["propensity"]
        )
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    print(
        json.dumps(
            {
                "supply_points": args.supply_points,
                "flagged": w["flagged"],
                "invoice_line_items": w["line_items"].num_rows,
                "flagged_line_items": len(billed),
                "supplementary_lines": len(lines),
                "credits": int(lines["is_credit"].sum()),
                "charge_items": sorted(lines["charge_type"].unique()),
                "exceptions": len(exceptions),
                "net_amount": round(float(lines["net_amount"].sum()), 2),
                "seconds": [round(x, 2) for x in times],
                "cpu_seconds": [round(x, 2) for x in cpu],
                "setup_seconds": round(setup, 1),
                "load_average": [round(x, 2) for x in os.getloadavg()],
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
