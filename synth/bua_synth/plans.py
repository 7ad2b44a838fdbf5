"""The accounts' plans (AccountPlan charge versions): the plan catalogue by what each plan is for,
each account's billed versions (switches, drafts), and the plans found wrong after billing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd

from bua_synth.config import GeneratorConfig
from bua_synth.world import JURISDICTION_ID


@dataclass(frozen=True)
class PlanCatalogue:
    """The plans by what they are for: each (fuel, state, customer type, pricing model) has one
    plan per variant, SAVER and FLEX; a plan's sibling is the other variant."""

    key: dict[int, tuple]  # plan id -> (service type, jurisdiction, customer type, pricing model)
    variant: dict[int, str]
    index: dict[tuple, int]  # (*key, variant) -> plan id
    sibling: dict[int, int]

    @classmethod
    def of(cls, plans: pd.DataFrame) -> PlanCatalogue:
        key = {
            p.id: (p.service_type_id, p.jurisdiction_id, p.customer_type, p.pricing_model) for p in plans.itertuples()
        }
        variant = {p.id: p.plan_code.rsplit("-", 1)[-1] for p in plans.itertuples()}
        index = {(*key[pid], variant[pid]): pid for pid in key}
        sibling = {pid: index[(*k, "FLEX" if variant[pid] == "SAVER" else "SAVER")] for pid, k in key.items()}
        return cls(key, variant, index, sibling)

    def pick(self, u, controlled_load: bool, tou: bool, variant: str) -> int:
        """The plan for supply point ``u`` (a utilities row)."""
        fuel = 2 if u.gas else 1
        ctype = "BUSINESS" if u.segment > 0 else "RESIDENTIAL"
        model = (
            "SINGLE_RATE"
            if u.gas
            else ("TIME_OF_USE" if tou else "SINGLE_RATE") + ("_CONT_LOAD" if controlled_load else "")
        )
        return int(self.index[(fuel, JURISDICTION_ID[u.state], ctype, model, variant)])


@dataclass
class ChargeVersions:
    """AccountPlan rows as they are built, each account's billed versions and the accounts whose
    billed plan will be found wrong."""

    rows: list[list]
    plan_of_account: dict[int, list[tuple[date, date | None, int]]]
    supplementary_accounts: set[int]


def assign_plans(
    accounts: pd.DataFrame,
    utilities: pd.DataFrame,
    registers: pd.DataFrame,
    catalogue: PlanCatalogue,
    config: GeneratorConfig,
    rng: np.random.Generator,
) -> ChargeVersions:
    """Each account's charge versions: a plan (40% of electricity interval meters on time of use,
    half SAVER), 5% switching variant in the history, 1% with a DRAFT version besides, 2% to be
    found wrong after billing (see :func:`replace_wrong_plans`)."""
    start, as_at = config.start, config.as_at
    has_cl = registers.groupby("utility_index")["controlled"].max()
    has_cl = has_cl.reindex(range(len(utilities)), fill_value=0).to_numpy()
    util_rows = list(utilities.itertuples())
    ap_rows: list[list] = []
    plan_of_account: dict[int, list[tuple[date, date | None, int]]] = {}
    supplementary_accounts = set()
    for a in accounts.itertuples():
        u = util_rows[a.utility_index]
        tou = u.meter_type != "BASIC" and not u.gas and rng.random() < 0.4
        variant = "SAVER" if rng.random() < 0.5 else "FLEX"
        p1 = catalogue.pick(u, has_cl[a.utility_index], tou, variant)
        s0 = a.open_date
        created = datetime.combine(max(s0, start - timedelta(days=1)), datetime.min.time())
        versions = [(s0, a.close_date, p1)]
        if rng.random() < 0.05 and a.close_date is None and (config.end - start).days > 120:  # a plan switch
            sw = start + timedelta(days=int(rng.integers(60, (config.end - start).days - 30)))
            if sw > s0 + timedelta(days=30):
                p2 = catalogue.pick(u, has_cl[a.utility_index], tou, "FLEX" if variant == "SAVER" else "SAVER")
                versions = [(s0, sw - timedelta(days=1), p1), (sw, None, p2)]
        for vs, ve, pid in versions:
            ap_rows.append(
                [
                    len(ap_rows) + 1,
                    a.id,
                    a.utility_index + 1,
                    pid,
                    vs,
                    ve,
                    "APPROVED",
                    max(created, datetime.combine(min(vs, as_at - timedelta(days=1)), datetime.min.time())),
                    0,
                ]
            )
        plan_of_account[a.id] = versions
        if rng.random() < 0.01:
            ap_rows.append(
                [
                    len(ap_rows) + 1,
                    a.id,
                    a.utility_index + 1,
                    p1,
                    s0,
                    a.close_date,
                    "DRAFT",
                    datetime.combine(as_at - timedelta(days=3), datetime.min.time()),
                    0,
                ]
            )
        if rng.random() < 0.02 and len(versions) == 1:
            supplementary_accounts.add(a.id)
    return ChargeVersions(ap_rows, plan_of_account, supplementary_accounts)


def replace_wrong_plans(
    versions: ChargeVersions, catalogue: PlanCatalogue, config: GeneratorConfig, rng: np.random.Generator
) -> None:
    """Charge versions replaced after billing: the billed plan was wrong; a new APPROVED version
    (the sibling plan) is flagged for supplementary processing, the billed one becomes REPLACED.
    Half of them are a backdated product change instead: the billed plan stays up to a day inside
    the billed history and the other plan applies from it, so the correction re-rates part of a
    billed period (usage, discounts and feed-in with it)."""
    start, as_at = config.start, config.as_at
    ap_rows, sibling_plan = versions.rows, catalogue.sibling
    for row in list(ap_rows):
        if row[1] in versions.supplementary_accounts and row[6] == "APPROVED":
            row[6] = "REPLACED"
            # Found after the last bill (issued the day before the run at the latest): the billed
            # version was in force at every issue date. The draw keeps each seed's world as it was.
            rng.integers(2, 20)
            created = datetime.combine(as_at - timedelta(days=1), datetime.min.time())
            lo, hi = max(row[4], start) + timedelta(days=30), min(row[5] or as_at, as_at) - timedelta(days=45)
            switch = lo + timedelta(days=int(rng.integers(0, max(1, (hi - lo).days)))) if hi > lo else None
            if switch is not None and rng.random() < 0.5:
                ap_rows.append(
                    [
                        len(ap_rows) + 1,
                        row[1],
                        row[2],
                        row[3],
                        row[4],
                        switch - timedelta(days=1),
                        "APPROVED",
                        created,
                        0,
                    ]
                )
                ap_rows.append(
                    [len(ap_rows) + 1, row[1], row[2], sibling_plan[row[3]], switch, row[5], "APPROVED", created, 1]
                )
            else:
                ap_rows.append(
                    [len(ap_rows) + 1, row[1], row[2], sibling_plan[row[3]], row[4], row[5], "APPROVED", created, 1]
                )
