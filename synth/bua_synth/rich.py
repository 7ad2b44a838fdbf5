"""The rich synthetic load model: a world the estimator was not designed on (DESIGN §4).

Per household: its own intraday timing and shape, heating and cooling responses to the state's
weather, trips (vacancy), an EV or a pool (some arriving mid-history), a household change that
moves its level, and an efficiency trend. Per state: weather with persistence (AR(1) daily
temperature around the climate, heatwaves in summer), public holidays (``holidays`` package),
school holidays and daylight saving (behaviour an hour earlier in NEM time). Rooftop solar is
netted against the household's load half-hour by half-hour (the import register gets the net
import, the export register the surplus). Gas is cooking and hot water plus heating-degree-day
heating with a heating share per household (some none at all). Gas networks' daily volumes come
from a separately simulated population of the network's households: none of our customers'
consumption, and no truth, is in any input.

Everything is vectorised numpy over registers x days x 48; household attributes are drawn once
per seed (``prepare``), so every month and chunk of registers sees the same households.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bua_assets.calendar import DST_STATES, daylight_saving, public_holidays
from bua_synth.load import BUS, CONTROLLED, GAS, RES, SOLAR

HOURS = (np.arange(48) + 0.5) / 2
# Climate per state: annual mean daily temperature (deg C), half the summer-winter swing.
CLIMATE = {
    "NSW": (18.3, 5.0),
    "VIC": (15.2, 5.0),
    "QLD": (21.2, 4.3),
    "SA": (17.3, 5.8),
    "ACT": (13.2, 7.3),
    "TAS": (12.0, 4.2),
    "WA": (18.6, 5.6),
}
HEATING_BASE, COOLING_BASE = 18.0, 22.0  # degree-day bases (daily mean temperature)
# Residential electricity levels (x the world's scale) and heating/cooling sensitivity by state.
ELEC_LEVEL = {"NSW": 1.05, "VIC": 0.85, "QLD": 1.1, "SA": 0.95, "ACT": 1.05, "TAS": 1.3, "WA": 1.0}
ELEC_HEAT = {"NSW": 0.025, "VIC": 0.02, "QLD": 0.02, "SA": 0.025, "ACT": 0.03, "TAS": 0.035, "WA": 0.02}  # per HDD
ELEC_COOL = {"NSW": 0.07, "VIC": 0.06, "QLD": 0.06, "SA": 0.07, "ACT": 0.05, "TAS": 0.03, "WA": 0.07}  # per CDD
# Gas (m3/day x the world's scale): level and mean heating share by state (VIC and ACT heat with gas).
GAS_LEVEL = {"NSW": 0.8, "VIC": 1.9, "QLD": 0.35, "SA": 0.75, "ACT": 1.6, "TAS": 1.0, "WA": 0.8}
GAS_HEATING_SHARE = {"NSW": 0.4, "VIC": 0.62, "QLD": 0.08, "SA": 0.42, "ACT": 0.6, "TAS": 0.5, "WA": 0.3}
# School holidays (approximate, month-day spans shared by the states): families are home more.
SCHOOL_HOLIDAYS = [((1, 1), (1, 28)), ((4, 5), (4, 20)), ((6, 29), (7, 14)), ((9, 21), (10, 6)), ((12, 18), (12, 31))]


@dataclass
class WeatherYear:
    """Daily weather per state: mean temperature, degree days and sunshine (0-1)."""

    states: list[str]
    dates: np.ndarray
    temperature: np.ndarray  # (states, days)
    hdd: np.ndarray
    cdd: np.ndarray
    sunshine: np.ndarray


def _doy(dates: np.ndarray) -> np.ndarray:
    d = np.asarray(dates, dtype="datetime64[D]")
    return (d - d.astype("datetime64[Y]")).astype(np.int64) + 1


def simulate_weather(seed: int, states: list[str], dates: np.ndarray) -> WeatherYear:
    """AR(1) temperature anomalies (persistence 0.75, sd 2.6 C) around each state's climate, with
    summer heatwaves (3-6 days, +6 to +10 C) and cloud that follows cool, wet spells."""
    rng = np.random.default_rng([seed, 4242])
    S, D = len(states), len(dates)
    doy = _doy(dates)
    mean = np.array([CLIMATE.get(s, (17.0, 5.0))[0] for s in states])[:, None]
    swing = np.array([CLIMATE.get(s, (17.0, 5.0))[1] for s in states])[:, None]
    clim = mean + swing * np.cos(2 * np.pi * (doy[None, :] - 20) / 365.25)
    shocks = rng.normal(0, 2.6 * np.sqrt(1 - 0.75**2), (S, D))
    anomaly = np.zeros((S, D))
    a = rng.normal(0, 2.6, S)
    for d in range(D):  # a loop over days, vectorised over states: persistence needs yesterday
        a = 0.75 * a + shocks[:, d]
        anomaly[:, d] = a
    summer = np.cos(2 * np.pi * (doy - 20) / 365.25) > 0.55
    starts = (rng.random((S, D)) < 0.02) & summer[None, :]
    length = rng.integers(3, 7, (S, D))
    boost = rng.uniform(6, 10, (S, D))
    heat = np.zeros((S, D))
    for k in range(7):  # a heatwave covers its start day and up to 6 days after
        on = starts & (k < length)
        shifted = np.zeros((S, D))
        shifted[:, k:] = np.where(on, boost, 0.0)[:, : D - k]
        heat = np.maximum(heat, shifted)
    temperature = clim + anomaly + heat
    cloud = np.clip(0.35 - 0.05 * anomaly + rng.normal(0, 0.18, (S, D)), 0.0, 0.9)
    return WeatherYear(
        list(states),
        np.asarray(dates, dtype="datetime64[D]"),
        temperature,
        np.clip(HEATING_BASE - temperature, 0, None),
        np.clip(temperature - COOLING_BASE, 0, None),
        1 - cloud,
    )


def school_holidays(dates: np.ndarray) -> np.ndarray:
    d = np.asarray(dates, dtype="datetime64[D]")
    month = d.astype("datetime64[M]").astype(np.int64) % 12 + 1
    day = (d - d.astype("datetime64[M]")).astype(np.int64) + 1
    md = month * 100 + day
    return np.any([(md >= a[0] * 100 + a[1]) & (md <= b[0] * 100 + b[1]) for a, b in SCHOOL_HOLIDAYS], axis=0)


def _bumps(centre: np.ndarray, width: float | np.ndarray) -> np.ndarray:
    """(n, 48) Gaussian bumps around per-row centres (hours), wrapping at midnight."""
    diff = (HOURS[None, :] - np.asarray(centre)[:, None] + 12) % 24 - 12
    return np.exp(-0.5 * (diff / np.asarray(width).reshape(-1, 1)) ** 2)


def _norm(x: np.ndarray) -> np.ndarray:
    return x / x.sum(axis=-1, keepdims=True)


@dataclass
class RichState:
    """What ``prepare`` draws once per seed: weather, calendar and every register's household."""

    weather: WeatherYear
    state_index: np.ndarray  # (R,) row in weather
    day_code: np.ndarray  # (states, days): 0 weekday, 1 weekend / public holiday
    school: np.ndarray  # (days,)
    dst: np.ndarray  # (states, days) bool
    shapes: np.ndarray  # (R, 2 day codes, 48) household base shapes (NEM time without DST)
    level: np.ndarray  # (R,) mean daily units before weather
    heat: np.ndarray  # (R,) share of level per heating degree day (gas: absolute m3 per HDD)
    cool: np.ndarray  # (R,) per cooling degree day
    noise: np.ndarray  # (R,) day-to-day sd (log)
    trend: np.ndarray  # (R,) yearly efficiency trend (log)
    change_day: np.ndarray  # (R,) day index of a household change (beyond the end: none)
    change_factor: np.ndarray
    trips: np.ndarray  # (R, 3, 2) start day, length
    ev_from: np.ndarray  # (R,) day the household has an EV from (beyond the end: never)
    ev_kwh: np.ndarray
    ev_hour: np.ndarray
    pool: np.ndarray  # (R,) kWh/day in summer (0: no pool)
    partner: np.ndarray  # (R,) for a solar register, the row of its supply point's import register; else -1
    business: np.ndarray  # (R,) bool


class RichLoad:
    """The default load model of the synthetic world (see the module docstring)."""

    name = "rich"

    def prepare(self, seed: int, registers: pd.DataFrame, days: np.ndarray) -> RichState:
        states = sorted(set(registers["state"]) | {"NSW", "VIC", "QLD", "SA", "ACT", "TAS"})
        weather = simulate_weather(seed, states, days)
        code = np.array([public_holidays(s, days) for s in states]) | ((days.astype(np.int64) + 3) % 7 >= 5)[None, :]
        dst = np.array([daylight_saving(days) & (s in DST_STATES) for s in states])
        rng = np.random.default_rng([seed, 31337])
        R = len(registers)
        kind = registers["kind"].to_numpy()
        state = registers["state"].to_numpy()
        scale = registers["scale"].to_numpy(dtype=float)
        business = kind == BUS
        # Household timing and shape: weekday and weekend / holiday (wake later, home at midday).
        wake = rng.normal(7.0, 0.8, R)
        evening = rng.normal(18.8, 1.0, R)
        ev_w, mid_w, base_w = rng.uniform(1.2, 3.0, R), rng.uniform(0.0, 0.9, R), rng.uniform(0.25, 0.7, R)
        weekday = (
            base_w[:, None]
            + 1.0 * _bumps(wake, 1.1)
            + mid_w[:, None] * _bumps(np.full(R, 13.0), 2.5)
            + ev_w[:, None] * _bumps(evening, 2.0)
        )
        weekend = (
            base_w[:, None]
            + 1.0 * _bumps(wake + 1.7, 1.6)
            + (mid_w + 0.5)[:, None] * _bumps(np.full(R, 13.0), 2.8)
            + ev_w[:, None] * _bumps(evening - 0.3, 2.2)
        )
        opens, closes = rng.uniform(6.5, 9.0, R), rng.uniform(16.5, 19.5, R)
        open_hours = ((HOURS[None, :] > opens[:, None]) & (HOURS[None, :] < closes[:, None])).astype(float)
        bus_wd = rng.uniform(0.2, 0.5, R)[:, None] + 2.5 * open_hours + 0.4 * _bumps(np.full(R, 12.5), 3.0)
        bus_we = rng.uniform(0.2, 0.5, R)[:, None] + rng.uniform(0, 1.2, R)[:, None] * open_hours
        night = ((HOURS > 22) | (HOURS < 6.5)).astype(float)
        hot_water = np.broadcast_to(0.02 + night * (1 + 0.3 * np.sin((HOURS - 22) % 24 / 8.5 * np.pi)), (R, 48))
        gas_wd = 0.25 + 1.0 * _bumps(wake, 1.2) + 1.3 * _bumps(evening - 0.5, 1.6)
        gas_we = 0.3 + 1.0 * _bumps(wake + 1.5, 1.6) + 1.2 * _bumps(evening - 0.5, 1.8)
        shapes = np.stack([weekday, weekend], axis=1)
        shapes = np.where(business[:, None, None], np.stack([bus_wd, bus_we], axis=1), shapes)
        shapes = np.where((kind == CONTROLLED)[:, None, None], hot_water[:, None, :], shapes)
        shapes = np.where((kind == GAS)[:, None, None], np.stack([gas_wd, gas_we], axis=1), shapes)
        shapes = _norm(shapes)

        sget = lambda table: np.array([table.get(s, 1.0) for s in state])  # noqa: E731
        heat_share = np.clip(rng.beta(2, 2, R) * 2 * sget(GAS_HEATING_SHARE), 0, 0.95)
        heat_share = np.where(rng.random(R) < 0.2, 0.0, heat_share)  # base-load gas: no gas heating
        mean_hdd = weather.hdd.mean(axis=1)[[states.index(s) for s in state]]
        level = np.where(kind == GAS, scale * sget(GAS_LEVEL), scale * np.where(business, 1.0, sget(ELEC_LEVEL)))
        heat = np.where(
            kind == GAS, level * heat_share / np.maximum(mean_hdd, 0.5), sget(ELEC_HEAT) * rng.lognormal(0, 0.6, R)
        )
        heat = np.where(kind == CONTROLLED, 0.02, heat)
        cool = np.where(np.isin(kind, [RES, BUS]), sget(ELEC_COOL) * rng.lognormal(0, 0.6, R), 0.0)
        level = np.where(kind == GAS, level * (1 - heat_share), level)  # the rest is heating, added per HDD
        D = len(days)
        household_change = rng.random(R) < 0.12
        trips = np.stack(
            [rng.integers(0, D, (R, 3)), np.where(rng.random((R, 3)) < 0.5, rng.integers(3, 17, (R, 3)), 0)], axis=2
        )
        trips[business] = 0
        has_ev = (kind == RES) & (rng.random(R) < 0.07)
        pool = np.where((kind == RES) & (rng.random(R) < 0.09), rng.uniform(4, 9, R), 0.0)
        utility = registers["utility_index"].to_numpy()
        importer = np.flatnonzero(np.isin(kind, [RES, BUS]))
        pos = np.searchsorted(utility[importer], utility)
        pos = np.clip(pos, 0, max(len(importer) - 1, 0))
        partner = np.where(
            (kind == SOLAR) & (len(importer) > 0) & (utility[importer[pos]] == utility),
            importer[pos] if len(importer) else -1,
            -1,
        )
        return RichState(
            weather=weather,
            state_index=np.array([states.index(s) for s in state]),
            day_code=code.astype(np.int8),
            school=school_holidays(days),
            dst=dst,
            shapes=shapes.astype(np.float32),
            level=level,
            heat=heat,
            cool=cool,
            noise=np.where(kind == SOLAR, 0.0, rng.uniform(0.1, 0.28, R)),
            trend=rng.normal(-0.02, 0.03, R),
            change_day=np.where(household_change, rng.integers(30, D + 30, R), 10**6),
            change_factor=rng.lognormal(0, 0.3, R),
            trips=trips,
            ev_from=np.where(has_ev, np.where(rng.random(R) < 0.5, 0, rng.integers(0, D, R)), 10**6),
            ev_kwh=rng.uniform(7, 16, R),
            ev_hour=np.where(rng.random(R) < 0.6, rng.uniform(21.5, 24, R), rng.uniform(17.5, 19.5, R)),
            pool=pool,
            partner=partner,
            business=business,
        )

    def half_hourly(
        self, st: RichState, rng: np.random.Generator, rows: np.ndarray, kind: np.ndarray, d0: int, d1: int
    ) -> np.ndarray:
        """True consumption (R, D, 48) of registers ``rows`` over days [d0, d1), rounded to Wh.
        ``rows`` must hold each solar register's import register (chunks end at supply points)."""
        R, D = len(rows), d1 - d0
        w = st.weather
        si = st.state_index[rows]
        day = np.arange(d0, d1)
        hdd, cdd, sun = w.hdd[si][:, d0:d1], w.cdd[si][:, d0:d1], w.sunshine[si][:, d0:d1]
        doy = _doy(w.dates[d0:d1])
        off = st.day_code[si][:, d0:d1].astype(np.int64)  # (R, D) 1: weekend or public holiday
        years = (day - 0)[None, :] / 365.25
        level = st.level[rows][:, None] * np.exp(st.trend[rows][:, None] * years)
        level = level * np.where(day[None, :] >= st.change_day[rows][:, None], st.change_factor[rows][:, None], 1.0)
        is_gas = (kind == GAS)[:, None]
        res = (kind == RES)[:, None]
        weather_factor = np.where(is_gas, 1.0, 1 + st.heat[rows][:, None] * hdd + st.cool[rows][:, None] * cdd)
        daily = level * weather_factor
        # Gas: base (cooking, hot water a little higher in winter) plus heating per degree day.
        daily = np.where(is_gas, daily * (1 + 0.012 * hdd) + st.heat[rows][:, None] * hdd, daily)
        bus = st.business[rows][:, None]
        daily *= np.where(bus, np.where(off == 1, 0.45, 1.0), np.where(off == 1, 1.07, 1.0))
        daily *= np.where(res & st.school[None, d0:d1], 1.05, 1.0)
        away = np.zeros((R, D), dtype=bool)
        for k in range(st.trips.shape[1]):
            s0, ln = st.trips[rows, k, 0][:, None], st.trips[rows, k, 1][:, None]
            away |= (day[None, :] >= s0) & (day[None, :] < s0 + ln)
        daily *= np.where(away, np.where(is_gas, 0.12, 0.3), 1.0)
        daily *= rng.lognormal(0, 1, (R, D)) ** st.noise[rows][:, None]
        # Intraday: the household's shape for the day type, an hour earlier in NEM time under DST.
        shape = st.shapes[rows][np.arange(R)[:, None], off]  # (R, D, 48)
        dst = st.dst[si][:, d0:d1]
        shape = np.where(dst[..., None], np.roll(shape, -2, axis=2), shape)
        values = shape * daily[..., None].astype(np.float32)
        # Cooling load in the afternoon and evening of hot days (on top of the daily shape's share).
        cool_shape = _norm(_bumps(np.array([17.0]), 2.5))[0].astype(np.float32)
        cool_kwh = (level * st.cool[rows][:, None] * cdd * np.where(away, 0.0, 1.0)).astype(np.float32)
        values += 0.6 * cool_kwh[..., None] * (cool_shape - shape)
        # EVs and pools.
        has_ev = day[None, :] >= st.ev_from[rows][:, None]
        charge = has_ev & (rng.random((R, D)) < 0.4) & ~away
        ev_shape = _norm(_bumps(st.ev_hour[rows], 1.0)).astype(np.float32)
        values += (charge * st.ev_kwh[rows][:, None]).astype(np.float32)[..., None] * ev_shape[:, None, :]
        season = np.cos(2 * np.pi * (doy - 20) / 365.25)
        pool_kwh = st.pool[rows][:, None] * (0.6 + 0.4 * season)[None, :]
        pool_shape = _norm(_bumps(np.array([12.0]), 2.5))[0].astype(np.float32)
        values += pool_kwh.astype(np.float32)[..., None] * pool_shape
        values *= np.exp(rng.standard_normal(values.shape, dtype=np.float32) * np.float32(0.25) - np.float32(0.031))
        np.clip(values, 0, None, out=values)
        # Solar: generation by season and sunshine, netted against the import register's load.
        solar = np.flatnonzero(kind == SOLAR)
        if len(solar):
            position = pd.Index(rows).get_indexer(st.partner[rows[solar]])
            daylen = 12.2 - 2.2 * np.cos(2 * np.pi * (doy - 20) / 365.25 + np.pi)  # hours
            gen_shape = np.clip(np.cos((HOURS[None, :] - 12.25) / (daylen[:, None] / 2) * np.pi / 2), 0, None) ** 1.5
            gen_shape = _norm(gen_shape + 1e-12)
            gen_daily = (
                1.6
                * st.level[rows[solar]][:, None]
                * (0.75 + 0.35 * season)[None, :]
                * sun[solar]
                * rng.lognormal(0, 0.05, (len(solar), D))
            )
            gen = gen_daily[..., None] * gen_shape[None, :, :] * rng.lognormal(0, 0.08, (len(solar), D, 48))
            gen = gen.astype(np.float32)
            has = position >= 0
            load = np.zeros_like(gen)
            load[has] = values[position[has]]
            net = load - gen
            values[solar] = np.clip(-net, 0, None)
            values[position[has]] = np.clip(net[has], 0, None)
        values = values.astype(np.float64)
        values *= 1000.0
        np.rint(values, out=values)
        values /= 1000.0
        return values

    def gas_network_daily(
        self, st: RichState, seed: int, network_state: str, network: int, customers: int
    ) -> np.ndarray:
        """A gas network's daily volume (m3) from its own simulated population (``customers``
        households like ours in distribution, none of them ours)."""
        rng = np.random.default_rng([seed, 8800, network])
        n = 3000
        si = st.weather.states.index(network_state)
        hdd = st.weather.hdd[si]
        share = np.clip(rng.beta(2, 2, n) * 2 * GAS_HEATING_SHARE.get(network_state, 0.4), 0, 0.95)
        share = np.where(rng.random(n) < 0.2, 0.0, share)
        level = rng.lognormal(np.log(1.9), 0.45, n) * GAS_LEVEL.get(network_state, 1.0)
        daily = (level * (1 - share))[:, None] * (1 + 0.012 * hdd)[None, :] + (level * share / max(hdd.mean(), 0.5))[
            :, None
        ] * hdd[None, :]
        total = (daily * rng.lognormal(0, 0.2, daily.shape)).sum(axis=0)
        return total * customers / n
