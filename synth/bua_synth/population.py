"""The population of the synthetic retailer: supply points (sites) and their meters, accounts
(tenancies, move-ins and move-outs), registers, occupancy, and the tariffs they are offered.

Everything is drawn from the world's one numpy Generator, vectorised over supply points; the
steps below draw in a fixed order (each seed's world depends on it), so they run in that order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pandas as pd

from bua_synth import load
from bua_synth.config import GeneratorConfig
from bua_synth.world import NETWORKS, STATE_SHARE, build_tariffs

NMI_PREFIX = {"NSW": "41", "VIC": "61", "QLD": "31", "SA": "20", "ACT": "70", "TAS": "80"}
MIRN_PREFIX = {"NSW": "52", "VIC": "53", "QLD": "54", "SA": "55", "ACT": "52"}
SURNAMES = [
    "Nguyen",
    "Smith",
    "Williams",
    "Brown",
    "Jones",
    "Wilson",
    "Taylor",
    "Martin",
    "Anderson",
    "Thompson",
    "White",
    "Walker",
    "Harris",
    "Lee",
    "Ryan",
    "Kelly",
    "King",
    "Chen",
    "Singh",
    "Patel",
    "Murphy",
    "Roberts",
]


def build_world(rng: np.random.Generator, config: GeneratorConfig) -> dict:
    """accounts, utilities (supply points), registers, occupied (register x day) and tariffs."""
    sites = _sites(rng, config.accounts)
    tenancies = _tenancies(rng, sites, config)
    scale, gas_scale = _consumption_scales(rng, sites)
    accounts = _accounts(rng, sites, tenancies)
    utilities = _utilities(rng, sites)
    registers = _registers(rng, sites, utilities, scale, gas_scale)
    occupied = _occupancy(accounts, config, len(utilities))
    return {
        "accounts": accounts,
        "utilities": utilities,
        "registers": registers,
        "occupied": occupied[registers["utility_index"].to_numpy()],
        "tariffs": build_tariffs(rng, config.start - timedelta(days=400), config.as_at),
    }


@dataclass(frozen=True)
class _Sites:
    """Per supply point: where it is, what it buys, its network and meter, its extra registers."""

    state: np.ndarray
    gas: np.ndarray
    segment: np.ndarray  # 0 RESIDENTIAL, 1 SME, 2 C&I
    network_id: np.ndarray
    mdp: np.ndarray
    meter_type: np.ndarray
    interval_length: np.ndarray  # minutes; 0 for a basic meter
    controlled: np.ndarray
    solar: np.ndarray

    @property
    def business(self) -> np.ndarray:
        return self.segment > 0

    @property
    def interval_meter(self) -> np.ndarray:
        return self.meter_type != "BASIC"


def _sites(rng: np.random.Generator, n: int) -> _Sites:
    states = np.array(list(STATE_SHARE))
    state = rng.choice(states, size=n, p=np.array(list(STATE_SHARE.values())))
    gas = (rng.random(n) < 0.24) & (state != "TAS")
    segment = rng.choice(3, size=n, p=[0.85, 0.12, 0.03])  # RESIDENTIAL, SME, C&I
    business = segment > 0

    # Networks
    net_ids = np.empty(n, dtype=np.int64)
    for s in states:
        for fuel_is_gas in (False, True):
            mask = (state == s) & (gas == fuel_is_gas)
            options = [i + 1 for i, nw in enumerate(NETWORKS) if nw[1] == s and (nw[2] == "GAS") == fuel_is_gas]
            if mask.any():
                net_ids[mask] = rng.choice(options, size=mask.sum())
    mdp = np.array([NETWORKS[i - 1][3] or "" for i in net_ids])

    # Meters: VIC is all smart; elsewhere a mix of smart, manually read interval and basic.
    u = rng.random(n)
    meter_type = np.where(u < 0.62, "COMMS4", np.where(u < 0.67, "MRIM", "BASIC"))
    meter_type = np.where((state == "VIC") | (segment == 2), np.where(u < 0.95, "COMMS4", "MRIM"), meter_type)
    meter_type = np.where(gas, "BASIC", meter_type)
    interval_meter = meter_type != "BASIC"
    u = rng.random(n)
    interval_length = np.where(interval_meter, np.where(u < 0.05, 5, np.where(u < 0.11, 15, 30)), 0)
    interval_length = np.where(meter_type == "MRIM", 30, interval_length)

    controlled = ~gas & ~business & np.isin(state, ["NSW", "QLD"]) & (rng.random(n) < 0.3)
    solar = ~gas & interval_meter & (rng.random(n) < np.where(business, 0.08, 0.24))
    return _Sites(state, gas, segment, net_ids, mdp, meter_type, interval_length, controlled, solar)


@dataclass(frozen=True)
class _Tenancies:
    """Per supply point: its first account's tenancy and billing frequency."""

    open_date: np.ndarray
    close_date: np.ndarray  # None: still open at the run date
    move: np.ndarray  # closed by a move-out: a successor moves in the next day
    bill_frequency: np.ndarray


def _tenancies(rng: np.random.Generator, sites: _Sites, config: GeneratorConfig) -> _Tenancies:
    """4% of supply points change hands during the history (move-out and move-in), 2% close with
    no successor, 12% of accounts are new customers."""
    n = len(sites.state)
    start, end = config.start, config.end
    history_days = (end - start).days + 1
    u = rng.random(n)
    move = u < 0.04
    closes = (u >= 0.04) & (u < 0.06)
    new_customer = (u >= 0.06) & (u < 0.18)
    # Offsets are drawn from ranges that stay valid for a one-month history too.
    open_offset = np.where(new_customer, rng.integers(0, max(history_days - 20, 1), n), -rng.integers(60, 3000, n))
    open_date = np.array([start + timedelta(days=int(o)) for o in open_offset])
    earliest_close = min(30, history_days // 2)
    close_offset = rng.integers(earliest_close, max(history_days - 5, earliest_close + 1), n)
    close_offset = np.maximum(close_offset, np.where(new_customer, open_offset + 30, 0))
    close_offset = np.minimum(close_offset, history_days - 2)
    close_date = np.array(
        [start + timedelta(days=int(c)) if (mv or cl) else None for c, mv, cl in zip(close_offset, move, closes)],
        dtype=object,
    )

    freq = np.where(
        sites.gas,
        rng.choice(["BIMONTHLY", "QUARTERLY"], n),
        np.where(
            sites.interval_meter,
            rng.choice(["MONTHLY", "BIMONTHLY", "QUARTERLY"], n, p=[0.45, 0.15, 0.40]),
            "QUARTERLY",
        ),
    )
    return _Tenancies(open_date, close_date, move, freq)


def _consumption_scales(rng: np.random.Generator, sites: _Sites) -> tuple[np.ndarray, np.ndarray]:
    """Per supply point: electricity (kWh/day) by segment, and gas (m3/day)."""
    n, segment = len(sites.state), sites.segment
    scale = np.where(
        segment == 0,
        rng.lognormal(np.log(14), 0.45, n),
        np.where(segment == 1, rng.lognormal(np.log(70), 0.6, n), rng.lognormal(np.log(900), 0.5, n)),
    )
    gas_scale = np.where(sites.business, rng.lognormal(np.log(9), 0.6, n), rng.lognormal(np.log(1.9), 0.45, n))
    return scale, gas_scale


def _accounts(rng: np.random.Generator, sites: _Sites, tenancies: _Tenancies) -> pd.DataFrame:
    """One account per supply point, then the successors of moved-out tenancies."""
    n = len(sites.state)
    accounts = pd.DataFrame(
        {
            "utility_index": np.arange(n),
            "state": sites.state,
            "gas": sites.gas,
            "segment": sites.segment,
            "open_date": tenancies.open_date,
            "close_date": tenancies.close_date,
            "bill_frequency": tenancies.bill_frequency,
            "bill_cycle_day": rng.integers(1, 29, n),
            "pay_on_time_propensity": np.round(rng.beta(6, 2, n), 4),
            "late": rng.random(n) < 0.06,
        }
    )
    # Successors of moved-out tenancies: a new account on the same supply point the day after.
    succ = accounts[tenancies.move].copy()
    succ["open_date"] = [c + timedelta(days=1) for c in succ["close_date"]]
    succ["close_date"] = None
    succ["pay_on_time_propensity"] = np.round(rng.beta(6, 2, len(succ)), 4)
    succ["late"] = rng.random(len(succ)) < 0.06
    accounts = pd.concat([accounts, succ], ignore_index=True)
    accounts["id"] = np.arange(1, len(accounts) + 1)
    accounts["account_number"] = [f"{3000000000 + 7919 * i:010d}" for i in accounts["id"]]
    accounts["customer_name"] = [f"{SURNAMES[i % len(SURNAMES)]} {chr(65 + (i * 7) % 26)}." for i in accounts["id"]]
    return accounts


def _utilities(rng: np.random.Generator, sites: _Sites) -> pd.DataFrame:
    """The supply points with their identifier (NMI or MIRN), meter serial and gas pressure factor."""
    n, state, gas = len(sites.state), sites.state, sites.gas
    return pd.DataFrame(
        {
            "id": np.arange(1, n + 1),
            "state": state,
            "gas": gas,
            "segment": sites.segment,
            "network_id": sites.network_id,
            "mdp": sites.mdp,
            "meter_type": sites.meter_type,
            "interval_length": sites.interval_length,
            "identifier": [
                (MIRN_PREFIX.get(s, "52") if g else NMI_PREFIX[s]) + f"{(i * 104729) % 10**8:08d}"
                for i, (s, g) in enumerate(zip(state, gas), start=1)
            ],
            "serial": [f"{'G' if g else 'M'}{(i * 7907) % 10**7:07d}" for i, g in enumerate(gas, start=1)],
            "pcf": np.where(gas, np.round(rng.uniform(1.0, 1.03, n), 5), np.nan),
        }
    )


def _registers(
    rng: np.random.Generator, sites: _Sites, utilities: pd.DataFrame, scale: np.ndarray, gas_scale: np.ndarray
) -> pd.DataFrame:
    """One row per register, grouped by supply point; ``kind`` drives the load model."""
    registers = pd.DataFrame(_register_rows(rng, sites, scale, gas_scale))
    registers["id"] = np.arange(1, len(registers) + 1)
    ui = registers["utility_index"].to_numpy()
    registers["nmi"] = utilities["identifier"].to_numpy()[ui]
    registers["mdp"] = utilities["mdp"].to_numpy()[ui]
    registers["serial"] = utilities["serial"].to_numpy()[ui]
    # NMI configuration: the suffixes of the supply point's registers (rows are grouped by supply point).
    starts = np.flatnonzero(np.r_[True, ui[1:] != ui[:-1]])
    suffixes = registers["suffix"].tolist()
    configs = ["".join(suffixes[s:e]) for s, e in zip(starts, np.r_[starts[1:], len(ui)])]
    registers["nmi_config"] = np.repeat(np.array(configs, dtype=object), np.diff(np.r_[starts, len(ui)]))
    return registers


def _register_rows(rng: np.random.Generator, sites: _Sites, scale: np.ndarray, gas_scale: np.ndarray) -> list[dict]:
    """Gas: one register. Electricity: the import register, a controlled-load one, a solar export one."""
    n, state, gas, business = len(sites.state), sites.state, sites.gas, sites.business
    interval_meter, interval_length = sites.interval_meter, sites.interval_length
    rows = []
    interval_controlled = 0  # every third interval controlled-load register, from the first, is not flagged
    winter = np.array([load.SEASON[s][0] for s in state]) * rng.uniform(0.6, 1.4, n)
    summer = np.array([load.SEASON[s][1] for s in state]) * rng.uniform(0.6, 1.4, n)
    for i in range(n):
        base = dict(
            utility_index=i,
            state=state[i],
            interval_length=int(interval_length[i]),
            winter_w=winter[i],
            summer_w=summer[i],
            digits=5 if rng.random() < 0.7 else 6,
        )
        if gas[i]:
            rows.append(
                {
                    **base,
                    "suffix": "G1",
                    "register_id": "1",
                    "kind": load.GAS,
                    "scale": gas_scale[i],
                    "uom": "M3",
                    "time_class": "ANYTIME",
                    "direction": "I",
                    "controlled": 0,
                }
            )
            continue
        basic = not interval_meter[i]
        rows.append(
            {
                **base,
                "suffix": "11" if basic else "E1",
                "register_id": "1",
                "kind": load.BUS if business[i] else load.RES,
                "scale": scale[i],
                "uom": "KWH",
                "time_class": "ANYTIME",
                "direction": "I",
                "controlled": 0,
            }
        )
        if sites.controlled[i]:
            # Some interval meters' E2 channel is not flagged controlled load in the market data: the
            # legacy profile rules put it in PRIMARY although its suffix says controlled load.
            rows.append(
                {
                    **base,
                    "suffix": "41" if basic else "E2",
                    "register_id": "2",
                    "kind": load.CONTROLLED,
                    "scale": rng.lognormal(np.log(5.5), 0.35),
                    "uom": "KWH",
                    "time_class": "CONTROLLED_LOAD",
                    "direction": "I",
                    "controlled": 1,
                    "market_controlled": 0 if not basic and interval_controlled % 3 == 0 else 1,
                }
            )
            interval_controlled += not basic
        if sites.solar[i]:
            rows.append(
                {
                    **base,
                    "suffix": "B1",
                    "register_id": "3",
                    "kind": load.SOLAR,
                    "scale": rng.lognormal(np.log(9 if not business[i] else 40), 0.35),
                    "uom": "KWH",
                    "time_class": "SOLAR",
                    "direction": "E",
                    "controlled": 0,
                }
            )
    return rows


def _occupancy(accounts: pd.DataFrame, config: GeneratorConfig, n: int) -> np.ndarray:
    """Per supply point per day: vacant between a move-out and the successor, or after a close."""
    start = config.start
    days = (config.as_at - start).days
    occupied = np.zeros((n, days), dtype=bool)
    for a in accounts.itertuples():
        lo = max((a.open_date - start).days, 0)
        hi = days if a.close_date is None else min((a.close_date - start).days + 1, days)
        if hi > lo:
            occupied[a.utility_index, lo:hi] = True
    return occupied
