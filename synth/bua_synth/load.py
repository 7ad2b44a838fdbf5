"""The synthetic load model: true half-hourly consumption with seasonality, weekday shape,
shared weather and per-customer scale and noise. Pure numpy, vectorised over registers x days.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import pandas as pd

HALF_HOURS = np.arange(48) + 0.5  # interval centres in hours*2

# Register kinds
RES, BUS, CONTROLLED, SOLAR, GAS = 0, 1, 2, 3, 4
# Seasonal weights (winter heating, summer cooling) per state for residential electricity.
SEASON = {
    "NSW": (0.18, 0.20),
    "VIC": (0.32, 0.10),
    "QLD": (0.05, 0.32),
    "SA": (0.18, 0.25),
    "ACT": (0.35, 0.10),
    "TAS": (0.38, 0.02),
    "WA": (0.1, 0.25),
}


def _bump(centre_hour: float, width_hours: float) -> np.ndarray:
    return np.exp(-0.5 * ((HALF_HOURS / 2 - centre_hour) / width_hours) ** 2)


def _normalise(x: np.ndarray) -> np.ndarray:
    return x / x.sum()


# shapes[kind, daytype (0 weekday, 1 weekend), 48] each summing to 1
SHAPES = np.zeros((5, 2, 48))
SHAPES[RES, 0] = _normalise(0.45 + 1.0 * _bump(7.5, 1.2) + 2.1 * _bump(19.0, 2.0))
SHAPES[RES, 1] = _normalise(0.5 + 0.9 * _bump(9.5, 2.0) + 0.5 * _bump(13.0, 2.5) + 1.8 * _bump(18.5, 2.2))
_hours = HALF_HOURS / 2
SHAPES[BUS, 0] = _normalise(0.35 + 2.6 * ((_hours > 7.5) & (_hours < 18.5)) + 0.4 * _bump(12.5, 3.0))
SHAPES[BUS, 1] = _normalise(0.35 + 0.5 * ((_hours > 9) & (_hours < 14)))
SHAPES[CONTROLLED, :] = _normalise(0.01 + 1.0 * ((_hours > 22) | (_hours < 7)))
SHAPES[SOLAR, :] = _normalise(np.clip(np.cos((_hours - 12.5) / 5.5 * np.pi / 2), 0, None) ** 2 + 1e-9)
SHAPES[GAS, :] = _normalise(0.3 + 1.0 * _bump(7.0, 1.5) + 1.2 * _bump(18.5, 2.0))
WEEKEND_LEVEL = np.array([1.08, 0.38, 1.05, 1.0, 1.06])


def seasonal(kind: np.ndarray, state_winter: np.ndarray, state_summer: np.ndarray, doy: np.ndarray) -> np.ndarray:
    """(registers, days) multiplier on daily consumption."""
    winter = np.cos(2 * np.pi * (doy[None, :] - 196) / 365.25)  # +1 mid-July
    summer = np.cos(2 * np.pi * (doy[None, :] - 20) / 365.25)  # +1 mid-January
    k = kind[:, None]
    w = np.clip(winter, -0.4, None)
    s = np.clip(summer, -0.4, None)
    out = 1 + state_winter[:, None] * w + state_summer[:, None] * s
    out = np.where(k == BUS, 1 + 0.12 * s + 0.05 * w, out)
    out = np.where(k == CONTROLLED, 1 + 0.30 * w, out)
    out = np.where(k == SOLAR, 1 + 0.38 * summer - 0.0 * w, out)
    out = np.where(k == GAS, 0.32 + 1.35 * np.clip(winter + 0.25, 0, None) ** 1.3, out)
    return out


def weather(seed: int, states: list[str], dates: np.ndarray) -> np.ndarray:
    """(states, days) shared daily weather multiplier, deterministic per (seed, state, date)."""
    out = np.empty((len(states), len(dates)))
    ordinals = dates.astype("datetime64[D]").astype(np.int64)
    for i, s in enumerate(states):
        code = sum(ord(c) for c in s)
        for j, o in enumerate(ordinals):
            out[i, j] = np.random.default_rng([seed, code, int(o)]).normal(0.0, 0.09)
    return np.exp(out)


def half_hourly(
    rng: np.random.Generator,
    kind: np.ndarray,  # (R,)
    scale: np.ndarray,  # (R,) average daily units
    winter_w: np.ndarray,
    summer_w: np.ndarray,
    weather_of_register: np.ndarray,  # (R, D)
    dates: np.ndarray,  # (D,) datetime64[D]
) -> np.ndarray:
    """True consumption (R, D, 48), float64, rounded to the metering resolution (Wh)."""
    d = dates.astype("datetime64[D]")
    doy = (d - d.astype("datetime64[Y]")).astype(np.int64) + 1
    weekend = ((d.astype(np.int64) + 3) % 7 >= 5).astype(np.int64)  # 1970-01-01 was a Thursday
    daily = scale[:, None] * seasonal(kind, winter_w, summer_w, doy)
    daily *= np.where(weekend[None, :] == 1, WEEKEND_LEVEL[kind][:, None], 1.0)
    w = np.where(kind[:, None] == SOLAR, 1 / weather_of_register**2.5, weather_of_register)
    daily *= w * rng.lognormal(-0.02, 0.2, size=daily.shape)
    # Intervals whose shape is (numerically) zero draw exactly nothing: zero them in the shape.
    shape = np.where(SHAPES < 1e-6, 0.0, SHAPES)[kind[:, None], weekend[None, :]]  # (R, D, 48)
    # One standard-normal draw serves both noise models (solar is smoother than load).
    z = rng.standard_normal(size=shape.shape, dtype=np.float32)
    solar = kind == SOLAR
    z *= np.where(solar, np.float32(0.1), np.float32(0.3)).astype(np.float32)[:, None, None]
    z += np.where(solar, np.float32(-0.005), np.float32(-0.045)).astype(np.float32)[:, None, None]
    np.exp(z, out=z)
    values = shape
    values *= daily[:, :, None]
    values *= z
    del z
    # np.round(values, 3), in place
    values *= 1000.0
    np.rint(values, out=values)
    values /= 1000.0
    return values


def split_intervals(rng: np.random.Generator, values30: np.ndarray, parts: int) -> np.ndarray:
    """Split half-hour values into `parts` sub-intervals, preserving each half-hour's total to 1 Wh."""
    if parts == 1:
        return values30
    w = rng.lognormal(0, 0.15, size=(*values30.shape, parts))
    w /= w.sum(axis=-1, keepdims=True)
    sub = np.round(values30[..., None] * w, 3)
    sub[..., -1] = np.round(values30 - sub[..., :-1].sum(axis=-1), 3)
    sub = np.clip(sub, 0, None)
    return sub.reshape((*values30.shape[:-1], values30.shape[-1] * parts))


class LoadModel(Protocol):
    """The consumption process of a synthetic world (generator.generate's ``load_model``)."""

    name: str

    def prepare(self, seed: int, registers: pd.DataFrame, days: np.ndarray) -> Any:
        """Everything drawn once per seed (weather, households) for ``registers`` (the world's:
        kind, scale, state, utility_index, winter_w, summer_w) over ``days``."""

    def half_hourly(
        self, state: Any, rng: np.random.Generator, rows: np.ndarray, kind: np.ndarray, d0: int, d1: int
    ) -> np.ndarray:
        """True consumption (len(rows), d1 - d0, 48) in the register's unit, rounded to 0.001."""

    def gas_network_daily(self, state: Any, seed: int, network_state: str, network: int, customers: int) -> np.ndarray:
        """A gas network's daily volume over the days, from a population that is not our customers."""


class SimpleLoad:
    """The original world: customer scale x segment seasonality x state weather x independent
    noise (the estimator's own structure; kept to compare worlds)."""

    name = "simple"

    def prepare(self, seed: int, registers: pd.DataFrame, days: np.ndarray) -> dict:
        states = sorted(set(registers["state"]))
        return {
            "days": days,
            "weather": weather(seed, states, days),
            "states": states,
            "state_index": np.array([states.index(s) for s in registers["state"]]),
            "scale": registers["scale"].to_numpy(dtype=float),
            "winter_w": registers["winter_w"].to_numpy(dtype=float),
            "summer_w": registers["summer_w"].to_numpy(dtype=float),
        }

    def half_hourly(
        self, st: dict, rng: np.random.Generator, rows: np.ndarray, kind: np.ndarray, d0: int, d1: int
    ) -> np.ndarray:
        return half_hourly(
            rng,
            kind,
            st["scale"][rows],
            st["winter_w"][rows],
            st["summer_w"][rows],
            st["weather"][st["state_index"][rows]][:, d0:d1],
            st["days"][d0:d1],
        )

    def gas_network_daily(self, st: dict, seed: int, network_state: str, network: int, customers: int) -> np.ndarray:
        days = st["days"]
        base = seasonal(
            np.array([GAS]), np.array([0.0]), np.array([0.0]), (days - days.astype("datetime64[Y]")).astype(int) + 1
        )[0]
        noise = np.random.default_rng([seed, network]).lognormal(0, 0.05, len(days))
        state_weather = (
            st["weather"][st["states"].index(network_state)] if network_state in st["states"] else np.ones(len(days))
        )
        return customers * base * state_weather * noise
