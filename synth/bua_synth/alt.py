"""The held-out synthetic world ("alt"): written apart from the estimator and from the rich world
(synth/rich.py), to check the estimator on behaviour it was not designed on. Not to be tuned on.

Its own modelling choices, vectorised over registers x days x 48:

- Weather per capital city: a climatology of daily mean temperature, anomalies from a three-regime
  Markov chain (normal, hot spell, cold snap) on top of an AR(1) process, a cool change after a hot
  spell, and cloud that goes with cold fronts and clears in hot spells.
- Households are simulated in local clock time and shifted into the meter's clock: AEST for the
  NEM (so daylight saving moves behaviour an hour earlier, and South Australia lives half an hour
  behind AEST in winter), AWST in WA. Occupancy archetypes, heating/cooling above thresholds with
  the house's thermal mass (yesterday's temperature counts), hot water following the inlet
  temperature, pools, EVs (some bought mid-history), trips away, a household change, an efficiency
  upgrade, a slow trend.
- Rooftop PV from sun position (latitude, tilt, orientation) x clearness, netted half-hour by
  half-hour against the household's own load: the import register gets the net import, the export
  register the surplus.
- Controlled load is an off-peak storage element refilling yesterday's hot water use.
- Gas: cooking, hot water and space heating over a balance point, the heating share drawn from
  near nothing to most of the year; gas businesses of their own kinds.
- Each register is calibrated so its mean over the history is its ``scale`` (the world's bills
  assume it); solar homes solve for load and PV size together so both registers hit their scale.

Everything random is a function of the seed and the register/day: household attributes and
per-day draws are made once in ``prepare``; half-hour noise is a counter-based hash of (seed,
supply point, day, half-hour), so neither the worker count nor how months and registers are
chunked changes a value (the ``rng`` ``half_hourly`` is handed is not used).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from bua_assets.calendar import daylight_saving, public_holidays
from bua_synth.load import BUS, CONTROLLED, GAS, RES, SOLAR

STATES = ("NSW", "VIC", "QLD", "SA", "ACT", "TAS", "WA")
_KEY = 0xA17  # separates this world's random streams from the generator's
HOURS = (np.arange(48) + 0.5) / 2  # half-hour centres, hours

# Capital city climate: annual mean and half-range of the daily mean temperature (°C), the warmest
# day of year, anomaly spread in summer/winter, hot spells and cold snaps per season and how hot/
# cold, latitude/longitude and the meter clock's meridian, mean cloud and how it leans with season
# (+: cloudier in summer).
CLIMATE = {
    "NSW": dict(mean=18.3, amp=5.2, peak=35, sd_s=2.4, sd_w=1.7, hot=2.0, hot_c=6.0, cold=1.5, cold_c=3.0,
                lat=-33.9, lon=151.2, meridian=150, cloud=0.46, cloud_tilt=0.04),
    "VIC": dict(mean=15.6, amp=5.4, peak=40, sd_s=3.0, sd_w=1.6, hot=3.0, hot_c=7.0, cold=2.0, cold_c=3.0,
                lat=-37.8, lon=145.0, meridian=150, cloud=0.52, cloud_tilt=-0.10),
    "QLD": dict(mean=20.7, amp=5.1, peak=30, sd_s=1.6, sd_w=1.9, hot=2.0, hot_c=4.5, cold=1.5, cold_c=3.5,
                lat=-27.5, lon=153.0, meridian=150, cloud=0.40, cloud_tilt=0.12),
    "SA": dict(mean=17.2, amp=5.8, peak=35, sd_s=3.2, sd_w=1.6, hot=4.0, hot_c=8.0, cold=1.5, cold_c=3.0,
               lat=-34.9, lon=138.6, meridian=150, cloud=0.40, cloud_tilt=-0.16),
    "ACT": dict(mean=13.4, amp=7.7, peak=28, sd_s=2.6, sd_w=2.0, hot=2.5, hot_c=7.0, cold=2.5, cold_c=4.0,
                lat=-35.3, lon=149.1, meridian=150, cloud=0.44, cloud_tilt=-0.02),
    "TAS": dict(mean=12.8, amp=4.5, peak=38, sd_s=2.3, sd_w=1.5, hot=1.0, hot_c=6.0, cold=2.0, cold_c=3.0,
                lat=-42.9, lon=147.3, meridian=150, cloud=0.58, cloud_tilt=-0.08),
    "WA": dict(mean=19.0, amp=5.5, peak=40, sd_s=2.6, sd_w=1.8, hot=3.0, hot_c=7.0, cold=1.5, cold_c=3.0,
               lat=-31.95, lon=115.9, meridian=120, cloud=0.36, cloud_tilt=-0.20),
}  # fmt: skip
# Share of homes with electric space heating / air conditioning / a pool, per state.
ELECTRIC_HEATING = {"NSW": 0.6, "VIC": 0.35, "QLD": 0.4, "SA": 0.55, "ACT": 0.5, "TAS": 0.9, "WA": 0.45}
AIR_CON = {"NSW": 0.7, "VIC": 0.6, "QLD": 0.8, "SA": 0.85, "ACT": 0.55, "TAS": 0.3, "WA": 0.8}
POOL = {"NSW": 0.12, "VIC": 0.07, "QLD": 0.2, "SA": 0.1, "ACT": 0.05, "TAS": 0.02, "WA": 0.18}

# Residential occupancy archetypes: probability, wake, leave, return, bed (local hours).
COMMUTER, WFH, RETIREE, FAMILY, SHIFT = range(5)
RES_ARCHETYPES = np.array(
    [
        [0.32, 6.3, 7.8, 18.0, 22.8],
        [0.18, 7.0, 12.0, 12.0, 23.0],  # home all day (leave == return)
        [0.22, 6.8, 10.0, 10.0, 21.8],
        [0.20, 6.5, 8.5, 15.5, 22.0],
        [0.08, 5.0, 6.0, 15.5, 21.5],
    ]
)
# Day profiles (index into a home's profiles): a day out, a day at home (weekend, public holiday),
# a weekday at home (working from home, school holidays), a night shift.
OUT, HOME, HOME_WEEKDAY, NIGHT = range(4)
# Business archetypes: open, close (weekday), Saturday open/close, Sunday open/close, share of the
# day's energy that runs around the clock.
OFFICE, RETAIL, HOSPITALITY, ALWAYS_ON, FACTORY, SCHOOL = range(6)
BUS_HOURS = np.array(
    [
        [7.5, 18.0, 9.0, 12.0, 0.0, 0.0, 0.25],
        [8.5, 18.0, 8.5, 17.0, 10.0, 16.0, 0.20],
        [11.0, 23.0, 10.0, 23.5, 10.0, 22.0, 0.25],
        [0.0, 24.0, 0.0, 24.0, 0.0, 24.0, 0.70],
        [6.0, 22.0, 7.0, 13.0, 0.0, 0.0, 0.20],
        [7.5, 16.5, 0.0, 0.0, 0.0, 0.0, 0.15],
    ]
)
BUS_MIX_SMALL = np.array([0.28, 0.25, 0.17, 0.12, 0.10, 0.08])
BUS_MIX_LARGE = np.array([0.35, 0.10, 0.0, 0.30, 0.25, 0.0])
# Business day profiles: weekday, Saturday, Sunday, closed, reduced (a public holiday), Friday.
B_WEEKDAY, B_SAT, B_SUN, B_CLOSED, B_REDUCED, B_FRIDAY = range(6)
# Gas businesses: restaurant, heated offices and schools, process heat, hotel/laundry (hot water).
RESTAURANT, HEATED_BUILDING, PROCESS, HOT_WATER_USER = range(4)


def _sig(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _bump(centre: np.ndarray, width: float | np.ndarray) -> np.ndarray:
    """(n, 48) Gaussian bumps at per-row centres (hours)."""
    c = np.asarray(centre, dtype=float)[..., None]
    return np.exp(-0.5 * ((HOURS - c) / np.asarray(width, dtype=float)[..., None]) ** 2)


def _box(start: np.ndarray, end: np.ndarray, ramp: float = 0.3) -> np.ndarray:
    """(n, 48) smooth 1 between start and end hours (end may pass midnight: end > 24)."""
    s, e = np.asarray(start, dtype=float)[..., None], np.asarray(end, dtype=float)[..., None]
    inside = _sig((HOURS - s) / ramp) * _sig((e - HOURS) / ramp)
    wrapped = _sig((HOURS + 24 - s) / ramp) * _sig((e - HOURS - 24) / ramp)
    return np.clip(inside + wrapped, 0, 1)


def _fill(start_slot: np.ndarray, energy: np.ndarray, power: np.ndarray) -> np.ndarray:
    """(n, D, 48): an appliance drawing ``power`` kW from ``start_slot`` until ``energy`` kWh is
    delivered (at most a day), wrapping past midnight into the same date's early slots."""
    per_slot = (power * 0.5)[..., None]
    slots_needed = energy[..., None] / np.maximum(per_slot, 1e-9)
    k = (np.arange(48) - start_slot[..., None]) % 48  # slots since the start
    return per_slot * np.clip(slots_needed - k, 0, 1)


# --- counter-based noise: a value per (seed, stream, key, day, half-hour) ---------------------------
_M1, _M2, _GOLD = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB), np.uint64(0x9E3779B97F4A7C15)


def _mix(x: np.ndarray) -> np.ndarray:
    x = x ^ (x >> np.uint64(30))
    x = x * _M1
    x = x ^ (x >> np.uint64(27))
    x = x * _M2
    return x ^ (x >> np.uint64(31))


def hashed_normals(seed: int, stream: int, keys: np.ndarray, ordinals: np.ndarray) -> np.ndarray:
    """(len(keys), len(ordinals), 48) standard normals (float32) that depend only on their indices."""
    with np.errstate(over="ignore"):
        k = _mix(np.array([seed], dtype=np.uint64) * _GOLD + np.uint64(stream) + np.uint64(_KEY) * _M1)
        k = _mix(k[:, None, None] + np.asarray(keys, dtype=np.uint64)[:, None, None] * _GOLD)
        k = _mix(k + np.asarray(ordinals, dtype=np.int64).astype(np.uint64)[None, :, None] * _M2)
        x = _mix(k + np.arange(48, dtype=np.uint64)[None, None, :] * _GOLD)
    u1 = ((x >> np.uint64(40)).astype(np.float32) + np.float32(0.5)) * np.float32(2.0**-24)
    u2 = ((x & np.uint64(0xFFFFFF)).astype(np.float32) + np.float32(0.5)) * np.float32(2.0**-24)
    np.log(u1, out=u1)
    u1 *= np.float32(-2.0)
    np.sqrt(u1, out=u1)
    u2 *= np.float32(2 * np.pi)
    np.cos(u2, out=u2)
    u1 *= u2
    return u1


# --- weather -------------------------------------------------------------------------------------
@dataclass
class Weather:
    """Per state (STATES order) x day: daily mean temperature, the house-felt temperature
    (today with yesterday), cloud fraction, cold-water inlet temperature, day length (h), a 0..1
    summer index, and per half-hour (meter clock) clear-sky sun geometry."""

    temperature: np.ndarray
    felt: np.ndarray
    cloud: np.ndarray
    inlet: np.ndarray
    day_length: np.ndarray
    summer: np.ndarray
    sin_decl: np.ndarray
    cos_decl: np.ndarray
    cos_hour: np.ndarray  # (S, D, 48)
    sin_hour: np.ndarray
    hot_spell: np.ndarray  # bool (S, D)


def simulate_weather(seed: int, days: np.ndarray) -> Weather:
    """Weather for every state over ``days`` (from 60 spin-up days before): the same for any set of
    registers, so the network populations live in it too."""
    spin = 60
    all_days = np.arange(days[0] - spin, days[-1] + 1, dtype="datetime64[D]") if len(days) else days
    doy = (all_days - all_days.astype("datetime64[Y]")).astype(np.int64) + 1
    rng = np.random.default_rng([seed, _KEY, 1])
    c = {k: np.array([CLIMATE[s][k] for s in STATES], dtype=float)[:, None] for k in CLIMATE["NSW"]}
    season = np.cos(2 * np.pi * (doy[None, :] - c["peak"]) / 365.25)  # +1 at the warmest day
    clim = c["mean"] + c["amp"] * season
    sd = np.where(season > 0, c["sd_w"] + (c["sd_s"] - c["sd_w"]) * season, c["sd_w"])
    summer_w = np.clip(season, 0, None) ** 2  # hot spells come in high summer
    winter_w = np.clip(-season, 0, None) ** 2
    # sum(summer_w) over a year is about 90 days: "hot" spells start per summer on average.
    p_hot = c["hot"] / 90 * summer_w
    p_cold = c["cold"] / 90 * winter_w
    S, D = len(STATES), len(all_days)
    shocks = rng.standard_normal((S, D))
    common = rng.standard_normal(D)  # the eastern states share synoptic weather
    shocks[:5] = 0.75 * shocks[:5] + 0.66 * common
    u, amp_draw = rng.random((S, D)), rng.uniform(0.6, 1.2, (S, D))
    cloud_shocks = rng.standard_normal((S, D))
    anomaly = np.zeros((S, D))
    regime = np.zeros((S, D), dtype=np.int8)
    a = np.zeros(S)
    reg = np.zeros(S, dtype=np.int8)
    spell_amp = np.zeros(S)
    for d in range(D):  # a loop over days, vectorised over states
        stay_hot, stay_cold = (reg == 1) & (u[:, d] < 0.74), (reg == 2) & (u[:, d] < 0.7)
        start_hot = (reg == 0) & (u[:, d] < p_hot[:, d])
        start_cold = (reg == 0) & ~start_hot & (u[:, d] > 1 - p_cold[:, d])
        ended_hot = (reg == 1) & ~stay_hot
        new = np.where(stay_hot | start_hot, 1, np.where(stay_cold | start_cold, 2, 0)).astype(np.int8)
        spell_amp = np.where(start_hot, c["hot_c"][:, 0], np.where(start_cold, -c["cold_c"][:, 0], spell_amp))
        a = 0.62 * a + np.sqrt(1 - 0.62**2) * sd[:, d] * shocks[:, d] - 2.5 * ended_hot  # cool change
        reg = new
        regime[:, d] = reg
        anomaly[:, d] = a + np.where(reg > 0, spell_amp * amp_draw[:, d], 0.0)
    temperature = clim + anomaly
    # Cloud: a persistent latent, cloudier on cold days (fronts) and clear in hot spells.
    latent = np.zeros((S, D))
    z = np.zeros(S)
    for d in range(D):
        z = 0.55 * z + np.sqrt(1 - 0.55**2) * cloud_shocks[:, d]
        latent[:, d] = z
    base = np.log(c["cloud"] / (1 - c["cloud"])) + 2.5 * c["cloud_tilt"] * season
    cloud = _sig(base + 1.1 * latent - 0.18 * anomaly - 1.2 * (regime == 1))
    felt = temperature.copy()
    felt[:, 1:] = 0.65 * temperature[:, 1:] + 0.35 * temperature[:, :-1]  # the house's thermal mass
    kernel = np.ones(30) / 30
    inlet = np.array([np.convolve(t, kernel, mode="full")[: len(t)] for t in temperature]) + 1.5
    inlet[:, :30] = inlet[:, 30:31]
    # Sun: declination, day length, equation of time, hour angle at each meter half-hour.
    decl = np.radians(23.44) * np.sin(2 * np.pi * (284 + doy) / 365)
    lat = np.radians(c["lat"])
    day_length = 24 / np.pi * np.arccos(np.clip(-np.tan(lat) * np.tan(decl)[None, :], -1, 1))
    b = 2 * np.pi * (doy - 81) / 364
    eot_h = (9.87 * np.sin(2 * b) - 7.53 * np.cos(b) - 1.5 * np.sin(b)) / 60
    solar_time = HOURS[None, None, :] + ((c["lon"] - c["meridian"]) / 15)[:, :, None] + eot_h[None, :, None]
    hour_angle = np.radians(15 * (solar_time - 12))
    keep = slice(spin, None)
    return Weather(
        temperature=temperature[:, keep],
        felt=felt[:, keep],
        cloud=cloud[:, keep],
        inlet=inlet[:, keep],
        day_length=day_length[:, keep],
        summer=np.clip((season[:, keep] + 0.3) / 1.3, 0, 1),
        sin_decl=np.sin(decl)[keep],
        cos_decl=np.cos(decl)[keep],
        cos_hour=np.broadcast_to(np.cos(hour_angle), (S, D, 48))[:, keep].copy(),
        sin_hour=np.broadcast_to(np.sin(hour_angle), (S, D, 48))[:, keep].copy(),
        hot_spell=(regime == 1)[:, keep],
    )


def clock_offsets(days: np.ndarray) -> np.ndarray:
    """(S, D) half-hours by which local clock time is ahead of the meter's clock: AEST meters in
    the NEM (an hour in daylight saving; South Australia half an hour behind AEST in winter), WA's
    meters on AWST, its own clock."""
    dst = daylight_saving(days).astype(np.int8)
    out = np.zeros((len(STATES), len(days)), dtype=np.int8)
    for i, s in enumerate(STATES):
        if s in ("NSW", "VIC", "ACT", "TAS"):
            out[i] = 2 * dst
        elif s == "SA":
            out[i] = 2 * dst - 1
    return out


def school_holidays(days: np.ndarray) -> np.ndarray:
    """Bool per date: roughly the school holidays common to the states (summer, Easter, winter,
    spring); the states' own dates differ by a week or so."""
    d = np.asarray(days, dtype="datetime64[D]")
    md = (d.astype("datetime64[M]").astype(np.int64) % 12 + 1) * 100 + (d - d.astype("datetime64[M]")).astype(int) + 1
    summer = (md >= 1218) | (md <= 128)
    return summer | ((md >= 405) & (md <= 420)) | ((md >= 629) & (md <= 713)) | ((md >= 921) & (md <= 1006))


def _christmas_break(days: np.ndarray, start_md: np.ndarray, end_md: np.ndarray) -> np.ndarray:
    """(n, D) bool: inside each row's break from start (a December day) to end (a January day)."""
    d = np.asarray(days, dtype="datetime64[D]")
    month = d.astype("datetime64[M]").astype(np.int64) % 12 + 1
    dom = (d - d.astype("datetime64[M]")).astype(int) + 1
    dec, jan = (month == 12)[None, :], (month == 1)[None, :]
    return (dec & (dom[None, :] >= start_md[:, None])) | (jan & (dom[None, :] <= end_md[:, None]))


# --- populations ---------------------------------------------------------------------------------
def _trips(rng: np.random.Generator, n: int, days: np.ndarray, rate_per_year: np.ndarray) -> np.ndarray:
    """(n, D) bool: away on a trip (a run of days at standby). Summer holidays draw more trips."""
    D, K = len(days), 10
    count = rng.poisson(rate_per_year[:, None] * D / 365.25 / K, (n, K)).clip(0, 1).astype(bool)
    month = days.astype("datetime64[M]").astype(np.int64) % 12 + 1
    xmas = np.flatnonzero(school_holidays(days) & ((month == 12) | (month == 1)))
    start = rng.integers(0, max(D, 1), (n, K))
    if len(xmas):
        start = np.where(rng.random((n, K)) < 0.3, xmas[rng.integers(0, len(xmas), (n, K))], start)
    length = 1 + rng.geometric(1 / 5, (n, K))
    length = np.where(rng.random((n, K)) < 0.04, rng.integers(20, 45, (n, K)), length)
    d = np.arange(D)[None, None, :]
    away = (d >= start[:, :, None]) & (d < (start + length)[:, :, None]) & count[:, :, None]
    return away.any(axis=1)


def _ar_lognormal(rng: np.random.Generator, n: int, D: int, sigma: np.ndarray, phi: float) -> np.ndarray:
    """(n, D) mean-one multiplicative day noise with day-to-day persistence."""
    e = rng.standard_normal((n, D))
    out = np.empty((n, D))
    z = e[:, 0] if D else np.zeros(n)
    for d in range(D):
        z = phi * z + np.sqrt(1 - phi**2) * e[:, d] if d else z
        out[:, d] = z
    return np.exp(sigma[:, None] * out - 0.5 * sigma[:, None] ** 2)


def _level(rng: np.random.Generator, n: int, D: int, step_p: float, step_sd: float, trend_sd: float) -> np.ndarray:
    """(n, D) slow trend x one step change (a new household or business moving the level)."""
    day = np.arange(D)[None, :]
    trend = np.exp(rng.normal(0, trend_sd, n)[:, None] * day / 365.25)
    step = rng.random(n) < step_p
    at = rng.integers(0, max(D, 1), n)
    factor = np.where(step, rng.lognormal(0, step_sd, n), 1.0)
    return trend * np.where(day >= at[:, None], factor[:, None], 1.0)


def _upgrade(rng: np.random.Generator, n: int, D: int, p: float) -> np.ndarray:
    """(n, D) multiplier on heating/cooling: an efficiency upgrade part way through."""
    at = rng.integers(0, max(D, 1), n)
    factor = np.where(rng.random(n) < p, rng.uniform(0.45, 0.75, n), 1.0)
    return np.where(np.arange(D)[None, :] >= at[:, None], factor[:, None], 1.0)


def residential(rng: np.random.Generator, state_idx: np.ndarray, days: np.ndarray, cl: np.ndarray) -> dict:
    """Homes on electricity: occupancy profiles (local time, kWh per half-hour), day profile per
    date, and appliances. ``cl``: the home has an off-peak controlled-load hot water register."""
    n, D = len(state_idx), len(days)
    states = np.array(STATES)[state_idx]
    arch = rng.choice(5, n, p=RES_ARCHETYPES[:, 0])
    wake, leave, ret, bed = (
        RES_ARCHETYPES[arch, k] + rng.normal(0, s, n) for k, s in ((1, 0.4), (2, 0.3), (3, 0.5), (4, 0.5))
    )
    occupants = rng.choice([1, 2, 3, 4, 5], n, p=[0.25, 0.34, 0.16, 0.17, 0.08]) + (arch == FAMILY) * 1
    standby = rng.lognormal(np.log(0.22), 0.35, n) * 0.5  # kWh per half-hour (fridge, standby)
    activity = rng.lognormal(np.log(5.5), 0.35, n) * (0.6 + 0.2 * occupants)  # kWh on a day out
    awake = _box(wake, bed)
    away = _box(leave, ret)
    home_all_day = leave >= ret
    present_out = awake * np.where(home_all_day[:, None], 1.0, 1 - away)
    morning = _bump(wake + 0.5, 0.6)
    evening = _bump(np.clip(ret, 17.0, 19.5) + 0.8, 1.3)
    home_day = _box(wake + 1.0, bed + 0.3)
    profiles = np.zeros((n, 4, 48))
    profiles[:, OUT] = 0.6 * present_out + 1.2 * morning + 1.8 * evening
    profiles[:, HOME] = (
        0.7 * home_day + 0.8 * _bump(wake + 1.5, 1.0) + 0.7 * _bump(np.full(n, 13.0), 1.2) + 1.7 * evening
    )
    profiles[:, HOME_WEEKDAY] = 0.75 * home_day + 1.1 * morning + 0.4 * _bump(np.full(n, 12.5), 1.0) + 1.8 * evening
    # A night shift: home from 07:30, asleep until 15:00, out again at 21:30.
    night_awake = _box(np.full(n, 15.0), np.full(n, 21.5)) + _box(np.full(n, 6.8), np.full(n, 8.5))
    profiles[:, NIGHT] = 0.6 * night_awake + 1.0 * _bump(np.full(n, 17.5), 1.2) + 0.6 * _bump(np.full(n, 7.5), 0.5)
    # Each profile holds the day's activity energy (home days use more).
    profiles *= (activity[:, None] * np.array([1.0, 1.25, 1.15, 1.0])[None, :] / profiles.sum(axis=2))[:, :, None]
    presence = np.stack([present_out, home_day, home_day, night_awake], axis=1)
    heat_shape = presence * (1 + 0.8 * morning[:, None] + 0.6 * evening[:, None])
    cool_shape = presence * (0.25 + _bump(np.full(n, 17.0), 2.5))[:, None] + 0.12 * (HOURS < 6)
    heat_hours = presence.sum(axis=2) / 2  # hours someone is up and in (a day out heats less)
    heat_shape /= heat_shape.sum(axis=2, keepdims=True)
    cool_shape /= cool_shape.sum(axis=2, keepdims=True)

    # Day profile per date: weekends and public holidays at home; school holidays keep families
    # home; hybrid commuters work from home some weekdays; shift workers rotate.
    weekend = ((days.astype(np.int64) + 3) % 7 >= 5)[None, :]
    holiday = np.zeros((n, D), dtype=bool)
    for i, s in enumerate(STATES):
        m = state_idx == i
        if m.any():
            holiday[m] = public_holidays(s, days)[None, :]
    off = weekend | holiday
    school = school_holidays(days)[None, :]
    hybrid = rng.random(n) < 0.45
    day = np.where(off, HOME, OUT).astype(np.int8)
    day = np.where((arch == WFH)[:, None] & ~off, HOME_WEEKDAY, day)
    day = np.where((arch == RETIREE)[:, None], np.where(off, HOME, HOME_WEEKDAY), day)
    day = np.where((arch == FAMILY)[:, None] & school & ~off, HOME_WEEKDAY, day)
    wfh_day = hybrid[:, None] & (rng.random((n, D)) < 0.35)
    day = np.where((arch == COMMUTER)[:, None] & ~off & wfh_day, HOME_WEEKDAY, day)
    rota = rng.random((n, D))
    day = np.where((arch == SHIFT)[:, None], np.where(rota < 0.35, NIGHT, np.where(rota < 0.7, OUT, HOME)), day)

    has_heat = rng.random(n) < np.array([ELECTRIC_HEATING[s] for s in states])
    has_ac = rng.random(n) < np.array([AIR_CON[s] for s in states])
    pool = rng.random(n) < np.array([POOL[s] for s in states])
    ev = rng.random(n) < 0.07
    ev_from = np.where(rng.random(n) < 0.45, rng.integers(0, max(D, 1), n), 0)
    ev_timer = rng.random(n) < 0.45
    electric_hw = ~cl & (rng.random(n) < np.where(states == "TAS", 0.7, np.where(states == "VIC", 0.25, 0.45)))
    heat_pump = electric_hw & (rng.random(n) < 0.15)
    return {
        "kind": "res",
        "profiles": profiles,
        "day_profile": day,
        "heat_shape": heat_shape,
        "cool_shape": cool_shape,
        "heat_hours": heat_hours / 14.0,
        "standby": standby,
        "light": rng.lognormal(np.log(0.9), 0.4, n),
        "light_shape": _bump(np.clip(bed - 2.0, 18.5, 22.5), 1.8) / _bump(np.clip(bed - 2.0, 18.5, 22.5), 1.8).sum(axis=1, keepdims=True),
        "heat_bp": np.clip(rng.normal(16.5, 1.2, n), 13, 19),
        "heat_slope": np.where(has_heat, rng.lognormal(np.log(1.2), 0.5, n), rng.lognormal(np.log(0.12), 0.5, n)),
        "cool_bp": np.clip(rng.normal(23.0, 1.3, n), 20, 27),
        "cool_slope": np.where(has_ac, rng.lognormal(np.log(0.9), 0.5, n), 0.06),
        "hw_kwh": np.where(electric_hw, rng.lognormal(np.log(1.6), 0.3, n) * occupants, 0.0) * np.where(heat_pump, 0.35, 1.0),
        "hw_shape": np.where(
            heat_pump[:, None], _box(np.full(n, 10.0), np.full(n, 15.0)), 1.3 * morning + evening + 0.1
        ),
        "cl_kwh": rng.lognormal(np.log(1.7), 0.3, n) * occupants,
        "cl_start": rng.choice([42, 44, 46, 0], n),
        "pool_kw": np.where(pool, rng.uniform(0.8, 1.4, n), 0.0),
        "pool_start": rng.integers(18, 22, n),
        "ev": ev,
        "ev_from": ev_from,
        "ev_nights": ev[:, None] & (np.arange(D)[None, :] >= ev_from[:, None]) & (rng.random((n, D)) < rng.uniform(0.25, 0.6, n)[:, None]),
        "ev_kwh": rng.lognormal(np.log(9), 0.4, (n, D)),
        "ev_kw": np.where(rng.random(n) < 0.4, 2.4, 7.0),
        "ev_start": np.where(ev_timer, rng.choice([46, 0], n), np.clip(np.round(2 * ret + rng.normal(1, 1, n)), 34, 41)).astype(int),
        "away": _trips(rng, n, days, rng.lognormal(np.log(2.5), 0.6, n)),
        "day_noise": _ar_lognormal(rng, n, D, rng.uniform(0.07, 0.18, n), 0.4),
        "level": _level(rng, n, D, 0.15, 0.3, 0.04),
        "upgrade": _upgrade(rng, n, D, 0.10),
        "jitter": rng.choice(np.array([-1, 0, 1], dtype=np.int8), (n, D), p=[0.2, 0.6, 0.2]),
        "sigma": rng.uniform(0.2, 0.42, n).astype(np.float32),
    }  # fmt: skip


def business(rng: np.random.Generator, state_idx: np.ndarray, days: np.ndarray, large: np.ndarray) -> dict:
    """Businesses on electricity: trading hours by archetype, holidays, a Christmas break for some."""
    n, D = len(state_idx), len(days)
    arch = np.where(large, rng.choice(6, n, p=BUS_MIX_LARGE), rng.choice(6, n, p=BUS_MIX_SMALL))
    h = BUS_HOURS[arch, :6] + rng.normal(0, 0.35, (n, 6)) * (BUS_HOURS[arch, :6] % 24 != 0)
    always = (BUS_HOURS[arch, 6] * rng.lognormal(0, 0.25, n)).clip(0.05, 0.9)
    open_kw = 1 - always
    profiles = np.zeros((n, 6, 48))
    weekday = _box(h[:, 0], h[:, 1], 0.4)
    profiles[:, B_WEEKDAY] = weekday
    profiles[:, B_SAT] = _box(h[:, 2], h[:, 3], 0.4) * np.where(arch == HOSPITALITY, 1.3, 0.9)[:, None]
    profiles[:, B_SUN] = _box(h[:, 4], h[:, 5], 0.4) * np.where(arch == HOSPITALITY, 1.1, 0.8)[:, None]
    profiles[:, B_REDUCED] = 0.55 * weekday
    profiles[:, B_FRIDAY] = weekday * np.where(arch == HOSPITALITY, 1.35, 1.0)[:, None]
    hospitality = arch == HOSPITALITY
    profiles[hospitality] *= (1 + 0.8 * _bump(np.full(int(hospitality.sum()), 19.5), 1.5))[:, None, :]
    profiles[arch == ALWAYS_ON] = 1.0
    profiles *= open_kw[:, None, None]
    presence = np.where(profiles.sum(axis=2, keepdims=True) > 0, profiles, 1e-3)
    hvac_shape = presence / presence.sum(axis=2, keepdims=True)
    open_share = profiles.sum(axis=2) / np.maximum(profiles[:, B_WEEKDAY].sum(axis=1, keepdims=True), 1e-9)

    weekday_no = (days.astype(np.int64) + 3) % 7  # 0 Monday
    day = np.select([weekday_no == 5, weekday_no == 6, weekday_no == 4], [B_SAT, B_SUN, B_FRIDAY], B_WEEKDAY)
    day = np.broadcast_to(day, (n, D)).astype(np.int8).copy()
    holiday = np.zeros((n, D), dtype=bool)
    for i, s in enumerate(STATES):
        m = state_idx == i
        if m.any():
            holiday[m] = public_holidays(s, days)[None, :]
    christmas = (days.astype("datetime64[M]").astype(np.int64) % 12 == 11) & (
        (days - days.astype("datetime64[M]")).astype(int) == 24
    )
    on_holiday = np.select(
        [np.isin(arch, (OFFICE, FACTORY, SCHOOL)), arch == RETAIL, arch == HOSPITALITY],
        [B_CLOSED, B_REDUCED, B_SAT],
        -1,
    )
    day = np.where(holiday & (on_holiday[:, None] >= 0), on_holiday[:, None], day)
    day = np.where((arch == RETAIL)[:, None] & christmas[None, :], B_CLOSED, day)
    shutdown_p = np.select(
        [arch == OFFICE, arch == FACTORY, arch == HOSPITALITY, arch == RETAIL], [0.5, 0.75, 0.2, 0.05], 0
    )
    shuts = rng.random(n) < shutdown_p
    brk = _christmas_break(days, rng.integers(20, 25, n), rng.integers(2, 14, n)) & shuts[:, None]
    brk |= (arch == SCHOOL)[:, None] & school_holidays(days)[None, :]
    day = np.where(brk & (arch != ALWAYS_ON)[:, None], B_CLOSED, day)
    day = np.where(
        (arch == HOSPITALITY)[:, None] & (weekday_no == 0)[None, :] & (rng.random(n) < 0.4)[:, None], B_CLOSED, day
    )
    return {
        "kind": "bus",
        "arch": arch,
        "profiles": profiles,
        "day_profile": day,
        "hvac_shape": hvac_shape,
        "open_share": open_share,
        "always": always,
        "heat_bp": np.clip(rng.normal(15.0, 1.2, n), 12, 18),
        "heat_slope": rng.lognormal(np.log(0.02), 0.6, n),
        "cool_bp": np.clip(rng.normal(20.5, 1.2, n), 17.5, 24),
        "cool_slope": rng.lognormal(np.log(0.03), 0.5, n) * np.where(arch == ALWAYS_ON, 0.5, 1.0),
        "refrigeration": np.where(arch == ALWAYS_ON, rng.uniform(0.01, 0.03, n), 0.004),
        "day_noise": _ar_lognormal(rng, n, D, rng.uniform(0.03, 0.1, n), 0.5),
        "level": _level(rng, n, D, 0.10, 0.25, 0.05),
        "upgrade": _upgrade(rng, n, D, 0.08),
        "jitter": rng.choice(np.array([-1, 0, 1], dtype=np.int8), (n, D), p=[0.1, 0.8, 0.1]),
        "sigma": rng.uniform(0.06, 0.18, n).astype(np.float32),
    }  # fmt: skip


def gas_users(rng: np.random.Generator, state_idx: np.ndarray, days: np.ndarray, is_business: np.ndarray) -> dict:
    """Gas homes and businesses: daily cooking, hot water and heating, with intraday shapes."""
    n, D = len(state_idx), len(days)
    arch = rng.choice(5, n, p=RES_ARCHETYPES[:, 0])
    barch = rng.choice(4, n, p=[0.35, 0.3, 0.15, 0.2])
    wake = RES_ARCHETYPES[arch, 1] + rng.normal(0, 0.4, n)
    evening = np.clip(RES_ARCHETYPES[arch, 3], 17.0, 19.0) + rng.normal(0.5, 0.4, n)
    # Heating: none for a fifth of homes, then anything from a little to most of the year's gas.
    heats = rng.random(n) < 0.78
    heat_slope = np.where(heats, rng.lognormal(np.log(0.22), 0.75, n), rng.uniform(0, 0.01, n))
    cooking = np.where(rng.random(n) < 0.88, rng.uniform(0.08, 0.3, n), 0.0)
    hot_water = np.where(rng.random(n) < 0.8, rng.lognormal(np.log(0.75), 0.35, n), 0.0)
    home = {
        "cooking": cooking,
        "hot_water": hot_water,
        "heat_slope": heat_slope,
        "heat_bp": np.clip(rng.normal(15.5, 1.5, n), 12, 18.5),
        "heat_exp": rng.uniform(1.0, 1.35, n),
        "base_shape": 0.4 * _bump(wake + 0.5, 0.7) + 0.6 * _bump(evening, 1.0) + 0.05,
        "heat_shape": _box(wake - 0.5, wake + 2.5) + 1.2 * _box(evening - 1.5, evening + 4.0) + 0.15,
    }
    # Businesses: restaurants (cooking, flat and high), heated buildings (heating, weekdays), process
    # heat (flat weekdays, a Christmas shutdown), hot-water users (hotels, laundries: every day).
    b_base = np.select([barch == RESTAURANT, barch == HEATED_BUILDING, barch == PROCESS], [1.0, 0.15, 1.0], 0.9)
    b_heat = np.select(
        [barch == RESTAURANT, barch == HEATED_BUILDING, barch == PROCESS],
        [rng.uniform(0.0, 0.03, n), rng.lognormal(np.log(0.12), 0.5, n), rng.uniform(0.0, 0.02, n)],
        rng.uniform(0.01, 0.05, n),
    )
    b_shape = np.select(
        [(barch == RESTAURANT)[:, None], (barch == HEATED_BUILDING)[:, None], (barch == PROCESS)[:, None]],
        [_box(np.full(n, 10.0), np.full(n, 22.5)) + 0.05, _box(np.full(n, 6.0), np.full(n, 18.0)) + 0.05, _box(np.full(n, 5.5), np.full(n, 22.0)) + 0.1],
        _bump(np.full(n, 7.0), 2.0) + _bump(np.full(n, 19.0), 3.0) + 0.2,
    )  # fmt: skip
    weekday_no = (days.astype(np.int64) + 3) % 7
    closed = np.broadcast_to(
        np.isin(barch, (HEATED_BUILDING, PROCESS))[:, None] & (weekday_no >= 5)[None, :], (n, D)
    ).copy()
    closed |= (
        _christmas_break(days, rng.integers(21, 25, n), rng.integers(3, 15, n))
        & np.isin(barch, (PROCESS, RESTAURANT))[:, None]
        & (rng.random(n) < 0.6)[:, None]
    )
    for i, s in enumerate(STATES):
        m = (state_idx == i) & np.isin(barch, (HEATED_BUILDING, PROCESS))
        if m.any():
            closed[m] |= public_holidays(s, days)[None, :]
    bus = is_business
    return {
        "kind": "gas",
        "business": bus,
        "cooking": np.where(bus, b_base, home["cooking"]),
        "hot_water": np.where(bus, np.where(barch == HOT_WATER_USER, 1.0, 0.1), home["hot_water"]),
        "heat_slope": np.where(bus, b_heat, home["heat_slope"]),
        "heat_bp": np.where(bus, np.clip(rng.normal(15.0, 1.0, n), 12, 17.5), home["heat_bp"]),
        "heat_exp": np.where(bus, 1.0, home["heat_exp"]),
        "base_shape": np.where(bus[:, None], b_shape, home["base_shape"]),
        "heat_shape": np.where(bus[:, None], b_shape, home["heat_shape"]),
        "closed": closed & bus[:, None],
        "away": _trips(rng, n, days, rng.lognormal(np.log(2.0), 0.6, n)) & ~bus[:, None],
        "day_noise": _ar_lognormal(rng, n, D, np.where(bus, rng.uniform(0.04, 0.1, n), rng.uniform(0.08, 0.2, n)), 0.5),
        "level": _level(rng, n, D, 0.12, 0.3, 0.04),
        "upgrade": _upgrade(rng, n, D, 0.06),
        "sigma": np.where(bus, rng.uniform(0.08, 0.2, n), rng.uniform(0.25, 0.5, n)).astype(np.float32),
    }  # fmt: skip


def gas_daily(g: dict, weather: Weather, state_idx: np.ndarray, day_idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(n, D) base (cooking + hot water) and heating gas, in unscaled units."""
    felt = weather.felt[state_idx][:, day_idx]
    inlet = weather.inlet[state_idx][:, day_idx]
    hdd = np.clip(g["heat_bp"][:, None] - felt, 0, None)
    heat = g["heat_slope"][:, None] * hdd ** g["heat_exp"][:, None] * g["upgrade"][:, day_idx]
    base = g["cooking"][:, None] + g["hot_water"][:, None] * (60 - inlet) / 42
    rows = np.arange(len(state_idx))[:, None]
    factor = g["day_noise"][rows, day_idx] * g["level"][rows, day_idx]
    factor = factor * np.where(g["away"][rows, day_idx], 0.08, 1.0) * np.where(g["closed"][rows, day_idx], 0.15, 1.0)
    return base * factor, heat * factor


def _gather(profiles: np.ndarray, day_profile: np.ndarray) -> np.ndarray:
    """profiles (n, P, 48), day_profile (n, D) -> (n, D, 48)."""
    return profiles[np.arange(len(profiles))[:, None], day_profile]


def _to_meter_clock(local: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """Move (n, D, 48) local-time values into the meter's clock: meter slot m is local m + offset."""
    idx = (np.arange(48)[None, None, :] + offset[:, :, None].astype(np.int64)) % 48
    return np.take_along_axis(local, idx, axis=2)


@dataclass
class AltState:
    seed: int
    days: np.ndarray
    ordinals: np.ndarray
    weather: Weather
    offsets: np.ndarray  # (S, D)
    kind: np.ndarray  # (R,)
    state_idx: np.ndarray  # (R,)
    utility: np.ndarray  # (R,) supply point (noise key)
    main: np.ndarray  # (R,) the supply point's import (or gas) register row
    has_solar: np.ndarray  # (R,) by main row
    pos: np.ndarray  # (R,) row within its population
    res: dict
    bus: dict
    gas: dict
    pv: dict  # per main row: tilt etc.
    load_factor: np.ndarray  # (R,) calibration of the main/controlled/gas register's raw load
    pv_factor: np.ndarray  # (R,) by main row


class AltLoad:
    """The held-out world (module docstring). ``AltLoad()`` plugs into ``generate(load_model=)``."""

    name = "alt"

    def __init__(self, calibration_stride: int = 1):
        self.calibration_stride = calibration_stride

    def prepare(self, seed: int, registers: pd.DataFrame, days: np.ndarray) -> AltState:
        days = np.asarray(days, dtype="datetime64[D]")
        kind = registers["kind"].to_numpy(dtype=np.int64)
        utility = registers["utility_index"].to_numpy(dtype=np.int64)
        state_idx = np.array([STATES.index(s) if s in STATES else 0 for s in registers["state"]], dtype=np.int64)
        scale = registers["scale"].to_numpy(dtype=float)
        R = len(registers)
        main_rows = np.flatnonzero(np.isin(kind, (RES, BUS, GAS)))
        main_of_utility = pd.Series(main_rows, index=utility[main_rows])
        main_of_utility = main_of_utility[~main_of_utility.index.duplicated()]
        main = main_of_utility.reindex(utility).to_numpy()
        main = np.where(np.isnan(main.astype(float)), np.arange(R), main).astype(np.int64)
        solar_utils = set(utility[kind == SOLAR])
        has_solar = np.isin(utility, list(solar_utils)) & np.isin(kind, (RES, BUS))
        cl_utils = set(utility[kind == CONTROLLED])

        rng = np.random.default_rng([seed, _KEY, 2])
        pos = np.zeros(R, dtype=np.int64)
        populations = {}
        for name, k in (("res", RES), ("bus", BUS), ("gas", GAS)):
            rows = np.flatnonzero(kind == k)
            pos[rows] = np.arange(len(rows))
            sub_rng = np.random.default_rng([seed, _KEY, 3, k])
            if name == "res":
                populations[name] = residential(sub_rng, state_idx[rows], days, np.isin(utility[rows], list(cl_utils)))
            elif name == "bus":
                populations[name] = business(sub_rng, state_idx[rows], days, scale[rows] > 300)
            else:
                populations[name] = gas_users(sub_rng, state_idx[rows], days, scale[rows] > 5)
        pv = {
            "tilt": np.radians(rng.uniform(8, 32, R)),
            "azimuth": np.radians(rng.normal(0, 30, R)),  # degrees off north: east < 0 < west
            "loss": rng.uniform(0.75, 0.9, R),
        }
        st = AltState(
            seed=seed,
            days=days,
            ordinals=days.astype(np.int64),
            weather=simulate_weather(seed, days),
            offsets=clock_offsets(days),
            kind=kind,
            state_idx=state_idx,
            utility=utility,
            main=main,
            has_solar=has_solar,
            pos=pos,
            res=populations["res"],
            bus=populations["bus"],
            gas=populations["gas"],
            pv=pv,
            load_factor=np.ones(R),
            pv_factor=np.zeros(R),
        )
        self._calibrate(st, scale)
        return st

    # -- simulation ------------------------------------------------------------------------------
    def _electric(self, st: AltState, rows: np.ndarray, day_idx: np.ndarray) -> np.ndarray:
        """Unscaled gross load (n, D, 48) of RES/BUS main rows, meter clock, with noise."""
        out = np.empty((len(rows), len(day_idx), 48))
        w = st.weather
        for k, pop in ((RES, st.res), (BUS, st.bus)):
            sel = np.flatnonzero(st.kind[rows] == k)
            if not len(sel):
                continue
            r, p = rows[sel], st.pos[rows[sel]]
            s = st.state_idx[r]
            felt = w.felt[s][:, day_idx]
            pr = p[:, None]
            day_prof = pop["day_profile"][pr, day_idx]
            act = _gather(pop["profiles"][p], day_prof)
            mult = (pop["day_noise"][pr, day_idx] * pop["level"][pr, day_idx])[:, :, None]
            upgrade = pop["upgrade"][pr, day_idx]
            if k == RES:
                hdd = np.clip(pop["heat_bp"][p, None] - felt, 0, None)
                cdd = np.clip(felt - pop["cool_bp"][p, None], 0, None)
                hours = pop["heat_hours"][pr, day_prof]
                heat = pop["heat_slope"][p, None] * hdd * hours * upgrade
                cool = pop["cool_slope"][p, None] * cdd**1.3 * hours * upgrade
                dark = np.clip(14.5 - w.day_length[s][:, day_idx], 0.3, None) / 3
                inlet = w.inlet[s][:, day_idx]
                hw = pop["hw_kwh"][p, None] * (62 - inlet) / 44
                load = act
                load += heat[:, :, None] * _gather(pop["heat_shape"][p], day_prof)
                load += cool[:, :, None] * _gather(pop["cool_shape"][p], day_prof)
                load += (pop["light"][p, None] * dark)[:, :, None] * pop["light_shape"][p][:, None, :]
                hw_shape = pop["hw_shape"][p] / pop["hw_shape"][p].sum(axis=1, keepdims=True)
                load += hw[:, :, None] * hw_shape[:, None, :]
                load *= mult
                away = pop["away"][pr, day_idx]
                load *= np.where(away, 0.0, 1.0)[:, :, None]
                load += pop["standby"][p, None, None]
                pool_hours = 4 + 4 * w.summer[s][:, day_idx]
                load += _fill(np.broadcast_to(pop["pool_start"][p, None], pool_hours.shape), pool_hours * pop["pool_kw"][p, None], np.broadcast_to(pop["pool_kw"][p, None], pool_hours.shape))  # fmt: skip
                ev_energy = pop["ev_kwh"][pr, day_idx] * (pop["ev_nights"][pr, day_idx] & ~away)
                load += _fill(np.broadcast_to(pop["ev_start"][p, None], ev_energy.shape), ev_energy, np.broadcast_to(pop["ev_kw"][p, None], ev_energy.shape))  # fmt: skip
            else:
                hdd = np.clip(pop["heat_bp"][p, None] - felt, 0, None)
                cdd = np.clip(felt - pop["cool_bp"][p, None], 0, None)
                share = pop["open_share"][pr, day_prof]
                hvac = (pop["heat_slope"][p, None] * hdd + pop["cool_slope"][p, None] * cdd**1.2) * share * upgrade * 24
                load = act
                load += hvac[:, :, None] * _gather(pop["hvac_shape"][p], day_prof)
                load += (pop["always"][p, None] * (1 + pop["refrigeration"][p, None] * (w.temperature[s][:, day_idx] - 18)))[:, :, None]  # fmt: skip
                load *= mult
            offset = st.offsets[s][:, day_idx] + pop["jitter"][pr, day_idx]
            out[sel] = _to_meter_clock(load, offset)
        z = hashed_normals(st.seed, 1, st.utility[rows], st.ordinals[day_idx])
        sigma = np.zeros(len(rows), dtype=np.float32)
        for k, pop in ((RES, st.res), (BUS, st.bus)):
            m = st.kind[rows] == k
            sigma[m] = pop["sigma"][st.pos[rows[m]]]
        # Neighbouring half-hours share part of their noise (a kettle and an oven do not last 30 min).
        z[:, :, 1:] = 0.8 * z[:, :, 1:] + 0.6 * z[:, :, :-1]
        z *= sigma[:, None, None]
        z -= (0.5 * sigma**2)[:, None, None]
        np.exp(z, out=z)
        out *= z
        return out

    def _pv(self, st: AltState, rows: np.ndarray, day_idx: np.ndarray) -> np.ndarray:
        """Unscaled PV output (n, D, 48) of the main rows' systems, meter clock."""
        w = st.weather
        s = st.state_idx[rows]
        lat = np.radians(np.array([CLIMATE[x]["lat"] for x in STATES]))[s]
        sd, cd = w.sin_decl[day_idx][None, :, None], w.cos_decl[day_idx][None, :, None]
        ch, sh = w.cos_hour[s][:, day_idx], w.sin_hour[s][:, day_idx]
        cos_zenith = np.sin(lat)[:, None, None] * sd + np.cos(lat)[:, None, None] * cd * ch
        # A north-facing panel tilted by beta sees the sun as a flat panel at latitude lat + beta
        # would; turning it east or west moves its hour angle.
        tilted = (lat + st.pv["tilt"][rows])[:, None, None]
        az = st.pv["azimuth"][rows][:, None, None]
        cos_incidence = np.sin(tilted) * sd + np.cos(tilted) * cd * (ch * np.cos(az) + sh * np.sin(az))
        up = cos_zenith > 0.02
        air_mass = 1 / np.where(up, cos_zenith, 1.0)
        clear = np.where(up, np.clip(cos_incidence, 0, None) * 0.7 ** (air_mass**0.678) + 0.08 * cos_zenith, 0.0)
        cloud = w.cloud[s][:, day_idx][:, :, None]
        temp = w.temperature[s][:, day_idx][:, :, None]
        z = hashed_normals(st.seed, 2, st.utility[rows], st.ordinals[day_idx])
        z[:, :, 1:] = 0.7 * z[:, :, 1:] + 0.71 * z[:, :, :-1]
        # Broken cloud varies within the day most; a clear or overcast day is steady.
        passing = np.exp(np.clip(2.2 * cloud * (1 - cloud), 0, 0.6) * z)
        clearness = np.clip((1 - 0.78 * cloud**1.6) * passing, 0.05, 1.05)
        return clear * clearness * (1 - 0.004 * (temp + 12 - 25)) * st.pv["loss"][rows][:, None, None]

    def _controlled(self, st: AltState, rows: np.ndarray, day_idx: np.ndarray) -> np.ndarray:
        """Off-peak storage hot water (n, D, 48), meter clock (the network switches on standard
        time): the element refills yesterday's use, so a cold month's water draws more."""
        m = st.main[rows]
        p = st.pos[m]
        pr = p[:, None]
        s = st.state_idx[m]
        prev = np.clip(day_idx - 1, 0, None)
        inlet = st.weather.inlet[s][:, prev]
        away = st.res["away"][pr, prev] if len(p) else np.zeros((0, len(day_idx)), dtype=bool)
        used = st.res["cl_kwh"][pr] * (62 - inlet) / 44 * st.res["day_noise"][pr, prev] * np.where(away, 0.05, 1.0)
        energy = used + 0.9  # standing losses
        start = np.broadcast_to(st.res["cl_start"][pr], energy.shape)
        return _fill(start, energy, np.full(energy.shape, 3.6)) + 0.002

    def _gas(self, st: AltState, rows: np.ndarray, day_idx: np.ndarray) -> np.ndarray:
        p = st.pos[rows]
        s = st.state_idx[rows]
        g = {k: (v[p] if isinstance(v, np.ndarray) else v) for k, v in st.gas.items()}
        base, heat = gas_daily(g, st.weather, s, day_idx)
        bshape = g["base_shape"] / g["base_shape"].sum(axis=1, keepdims=True)
        hshape = g["heat_shape"] / g["heat_shape"].sum(axis=1, keepdims=True)
        local = base[:, :, None] * bshape[:, None, :] + heat[:, :, None] * hshape[:, None, :]
        out = _to_meter_clock(local, st.offsets[s][:, day_idx])
        z = hashed_normals(st.seed, 3, st.utility[rows], st.ordinals[day_idx])
        sigma = g["sigma"][:, None, None]
        z *= sigma
        z -= 0.5 * sigma**2
        np.exp(z, out=z)
        return out * z

    def _raw_parts(self, st: AltState, rows: np.ndarray, day_idx: np.ndarray) -> dict[str, np.ndarray]:
        """Per kind of row: the unscaled pieces of its value."""
        kind = st.kind[rows]
        parts: dict[str, np.ndarray] = {}
        elec = np.isin(kind, (RES, BUS, SOLAR))
        if elec.any():
            # A solar export row is computed from its supply point's own load and panels.
            hh = st.main[rows[elec]]
            parts["gross"] = self._electric(st, hh, day_idx)
            solar = st.has_solar[hh]
            parts["pv"] = np.zeros_like(parts["gross"])
            if solar.any():
                parts["pv"][solar] = self._pv(st, hh[solar], day_idx)
        if (kind == CONTROLLED).any():
            parts["controlled"] = self._controlled(st, rows[kind == CONTROLLED], day_idx)
        if (kind == GAS).any():
            parts["gas"] = self._gas(st, rows[kind == GAS], day_idx)
        return parts

    def _values(self, st: AltState, rows: np.ndarray, day_idx: np.ndarray) -> np.ndarray:
        kind = st.kind[rows]
        out = np.zeros((len(rows), len(day_idx), 48))
        parts = self._raw_parts(st, rows, day_idx)
        elec = np.isin(kind, (RES, BUS, SOLAR))
        if elec.any():
            hh = st.main[rows[elec]]
            net = parts["gross"] * st.load_factor[hh][:, None, None] - parts["pv"] * st.pv_factor[hh][:, None, None]
            exporting = (kind[elec] == SOLAR)[:, None, None]
            out[elec] = np.clip(np.where(exporting, -net, net), 0, None)
        for k, name in ((CONTROLLED, "controlled"), (GAS, "gas")):
            m = kind == k
            if m.any():
                out[m] = parts[name] * st.load_factor[rows[m]][:, None, None]
        return out

    def _calibrate(self, st: AltState, scale: np.ndarray) -> None:
        """Factors so each register's mean over the history (every ``calibration_stride``-th day,
        which meets every weekday and season) is its scale; a solar supply point's load and PV are
        solved together so both its import and its export registers come out at their scales."""
        if not len(st.days) or not len(st.kind):
            return
        day_idx = np.arange(0, len(st.days), self.calibration_stride)
        kind = st.kind
        scale = scale / 48  # the raw means below are per half-hour
        export_scale = pd.Series(scale[kind == SOLAR], index=st.utility[kind == SOLAR])
        export_scale = export_scale[~export_scale.index.duplicated()]
        rows_all = np.flatnonzero(kind != SOLAR)
        for b in range(0, len(rows_all), 400):
            rows = rows_all[b : b + 400]
            parts = self._raw_parts(st, rows, day_idx)
            k = kind[rows]
            for kk, name in ((CONTROLLED, "controlled"), (GAS, "gas")):
                m = k == kk
                if m.any():
                    st.load_factor[rows[m]] = scale[rows[m]] / np.maximum(parts[name].mean(axis=(1, 2)), 1e-9)
            elec = np.isin(k, (RES, BUS))
            if not elec.any():
                continue
            er = rows[elec]
            gross, pv = parts["gross"], parts["pv"]
            g_mean = gross.mean(axis=(1, 2))
            plain = ~st.has_solar[er]
            st.load_factor[er[plain]] = scale[er[plain]] / np.maximum(g_mean[plain], 1e-9)
            solar = np.flatnonzero(st.has_solar[er])
            if not len(solar):
                continue
            g, p = gross[solar], pv[solar]
            target = scale[er[solar]] / export_scale.reindex(st.utility[er[solar]]).to_numpy()
            # Bisection on the PV:load ratio (import/export falls as it grows; both are homogeneous
            # in the two sizes, so the ratio fixes the split and the import scale the level).
            lo, hi = np.full(len(solar), -8.0), np.full(len(solar), 8.0)
            for _ in range(40):
                mid = (lo + hi) / 2
                net = g - np.exp(mid)[:, None, None] * p
                imp = np.clip(net, 0, None).mean(axis=(1, 2))
                exp_ = np.clip(-net, 0, None).mean(axis=(1, 2))
                too_much_import = imp > target * exp_
                lo, hi = np.where(too_much_import, mid, lo), np.where(too_much_import, hi, mid)
            ratio = np.exp((lo + hi) / 2)
            imp = np.clip(g - ratio[:, None, None] * p, 0, None).mean(axis=(1, 2))
            lf = scale[er[solar]] / np.maximum(imp, 1e-9)
            st.load_factor[er[solar]] = lf
            st.pv_factor[er[solar]] = lf * ratio

    # -- the LoadModel protocol ------------------------------------------------------------------
    def half_hourly(
        self, state: Any, rng: np.random.Generator, rows: np.ndarray, kind: np.ndarray, d0: int, d1: int
    ) -> np.ndarray:
        values = self._values(state, np.asarray(rows, dtype=np.int64), np.arange(d0, d1))
        values *= 1000.0
        np.rint(values, out=values)
        values /= 1000.0
        return values

    def gas_network_daily(self, state: Any, seed: int, network_state: str, network: int, customers: int) -> np.ndarray:
        """The network's own population (more heating-heavy homes, one in eight a business, its
        own draws) under the state's weather, scaled to ``customers``: none of our registers."""
        st: AltState = state
        n = 800
        rng = np.random.default_rng([seed, _KEY, 4, network])
        s = STATES.index(network_state) if network_state in STATES else 0
        state_idx = np.full(n, s)
        is_bus = rng.random(n) < 0.12
        g = gas_users(rng, state_idx, st.days, is_bus)
        g["heat_slope"] = g["heat_slope"] * np.where(is_bus, 1.0, rng.lognormal(0.25, 0.3, n))
        size = np.where(is_bus, rng.lognormal(np.log(6), 0.7, n), rng.lognormal(np.log(1.0), 0.4, n))
        base, heat = gas_daily(g, st.weather, state_idx, np.arange(len(st.days)))
        daily = ((base + heat) * size[:, None]).mean(axis=0)
        return customers * daily * rng.lognormal(0, 0.01, len(st.days))
