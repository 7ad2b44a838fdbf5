"""The rich synthetic world (synth/rich.py) and the load-model seam of the generator."""

from __future__ import annotations

import sqlite3
from datetime import date

import numpy as np
import pandas as pd
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from bua_synth.generator import GeneratorConfig, generate
from bua_synth.load import SimpleLoad
from bua_synth.rich import RichLoad, simulate_weather

CONFIG = GeneratorConfig(accounts=200, seed=13, as_at=date(2026, 11, 1), history_months=4)


def truth(out, month: str) -> pd.DataFrame:
    t = pq.read_table(
        out / "truth" / f"{month}.parquet", columns=["meter_register_id", "suffix", "read_date", "values"]
    )
    values = pc.list_flatten(t["values"]).to_numpy().reshape(t.num_rows, 48)
    return pd.DataFrame(
        {
            "register_id": t["meter_register_id"].to_numpy(),
            "suffix": t["suffix"].to_numpy(),
            "date": t["read_date"].to_numpy(),
            "values": list(values),
        }
    )


@pytest.fixture(scope="module")
def rich(tmp_path_factory):
    out = tmp_path_factory.mktemp("rich")
    generate(CONFIG, out, f"sqlite:///{out / 'core.db'}", workers=1)
    return out


def test_solar_is_netted_against_the_household_half_hour_by_half_hour(rich):
    con = sqlite3.connect(rich / "core.db")
    meter_of = dict(con.execute("select id, meter_id from MeterRegister").fetchall())
    con.close()
    t = truth(rich, "2026-10")
    t["meter"] = t["register_id"].map(meter_of)
    solar = t[t["suffix"] == "B1"].set_index(["meter", "date"])["values"]
    load = t[t["suffix"] == "E1"].set_index(["meter", "date"])["values"]
    both = solar.index.intersection(load.index)
    assert len(both) > 100
    export, imports = np.stack(solar.loc[both].to_numpy()), np.stack(load.loc[both].to_numpy())
    assert (export > 0).sum() > 1000 and (imports > 0).sum() > 1000
    # Within one half-hour a home imports or exports, never both (to the metering resolution).
    assert ((export > 0.001) & (imports > 0.001)).sum() == 0
    # Nothing is exported at night.
    assert export[:, :10].max() == 0 and export[:, 44:].max() == 0


def test_gas_network_volumes_come_from_another_population(rich):
    """The volumes are the model's network population alone: recomputed from the seed without any
    of our customers, they are the same numbers."""
    con = sqlite3.connect(rich / "core.db")
    vol = pd.read_sql("select utility_network_id, gas_date, volume from GasNetworkDailyVolume order by 1, 2", con)
    ours = pd.read_sql(
        "select u.utility_network_id, count(*) n from MeterRegister r join Meter m on m.id = r.meter_id "
        "join Utility u on u.id = m.utility_id where r.suffix_id = 'G1' group by 1",
        con,
    )
    con.close()
    days = np.arange(np.datetime64(CONFIG.start), np.datetime64(CONFIG.as_at))
    model = RichLoad()
    state = model.prepare(
        CONFIG.seed, pd.DataFrame({"kind": [0], "scale": [10.0], "state": ["NSW"], "utility_index": [0]}), days
    )
    n = ours.set_index("utility_network_id")["n"]
    for network, state_name in ((13, "NSW"), (14, "VIC")):
        expected = np.round(
            model.gas_network_daily(state, CONFIG.seed, state_name, network, 2500 * (1 + int(n.get(network, 0)))), 1
        )
        got = vol.loc[vol["utility_network_id"] == network, "volume"].to_numpy(dtype=float)
        np.testing.assert_allclose(got, expected, rtol=1e-9)
        # A winter network: July's days use far more than late spring's.
        month = days.astype("datetime64[M]")
        assert got[month == np.datetime64("2026-07")].mean() > 1.3 * got[month == np.datetime64("2026-10")].mean()


def test_weather_persists_and_has_heatwaves():
    days = np.arange(np.datetime64("2024-01-01"), np.datetime64("2026-01-01"))
    w = simulate_weather(3, ["NSW", "VIC", "QLD"], days)
    anomaly = w.temperature - w.temperature.mean(axis=1, keepdims=True)
    detrended = anomaly - np.array([np.convolve(a, np.ones(31) / 31, mode="same") for a in anomaly])
    lag1 = [np.corrcoef(d[15:-16], d[16:-15])[0, 1] for d in detrended]
    assert min(lag1) > 0.4  # yesterday tells today
    assert (w.cdd > 8).any() and w.hdd[1].mean() > 2 * w.hdd[2].mean()  # hot spells; Victoria colder than Queensland
    np.testing.assert_array_equal(w.temperature, simulate_weather(3, ["NSW", "VIC", "QLD"], days).temperature)


def test_the_load_model_is_a_seam(tmp_path, rich):
    simple = tmp_path / "simple"
    generate(CONFIG, simple, f"sqlite:///{simple / 'core.db'}", workers=1, load_model=SimpleLoad())
    a, b = truth(rich, "2026-08"), truth(simple, "2026-08")
    assert len(a) == len(b) and (a["register_id"].to_numpy() == b["register_id"].to_numpy()).all()
    assert not np.allclose(np.stack(a["values"].to_numpy()), np.stack(b["values"].to_numpy()))
