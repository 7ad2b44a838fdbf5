"""The CORE tables of the synthetic retailer, as the billing system holds them, and their writing
to the CORE database (embedded SQLite or MySQL): reference data, supply points, meters and
registers, plans and their charge versions, the billing history (billing.py), accounts with their
next bill date, and the gas heating values and network volumes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa

from bua_assets.core.database import CoreDatabase
from bua_assets.core.schema import core_tables
from bua_synth.billing import BILL_STEP, Billing, Pricer, first_readings
from bua_synth.config import GeneratorConfig, add_months, month_starts
from bua_synth.plans import PlanCatalogue, assign_plans, replace_wrong_plans
from bua_synth.world import JURISDICTION_ID, NETWORKS, TNIS, reference_tables

_INSTALLED = date(2015, 1, 1)  # every meter, register and supply point dates from here


def build_core_tables(
    world: dict,
    config: GeneratorConfig,
    days: np.ndarray,
    billed_daily: np.ndarray,
    true_daily: np.ndarray,
    rng: np.random.Generator,
    workers: int = 1,
    *,
    gas_network_daily: Callable[[str, int, int], np.ndarray],
) -> dict[str, pd.DataFrame]:
    """Every CORE table of the world. ``rng`` draws, in this order: plan choices, the basic
    registers' first readings, billed plans found wrong; billing has its own seed per part.
    ``billed_daily`` and ``true_daily`` are released once billing has read them."""
    accounts, utilities, registers, tariffs = (
        world["accounts"],
        world["utilities"],
        world["registers"],
        world["tariffs"],
    )
    t = reference_tables()
    t.update(_supply_point_tables(accounts, utilities, registers))
    t["AccountUtility"] = _tenancy_table(accounts)
    catalogue = PlanCatalogue.of(tariffs.plans)
    charge_versions = assign_plans(accounts, utilities, registers, catalogue, config, rng)
    t["Plan"], t["PlanRate"], t["PlanTimeOfUse"], t["PlanDiscount"] = (
        tariffs.plans,
        tariffs.rates,
        tariffs.time_of_use,
        tariffs.discounts,
    )
    heating_values = _heating_values(config)
    billing = Billing(
        config,
        accounts,
        utilities,
        registers,
        charge_versions.plan_of_account,
        Pricer.of(tariffs),
        heating_values,
        first_readings(registers, rng),
        billed_daily,
        true_daily,
    )
    del billed_daily, true_daily  # billing holds the only references and frees them when done
    invoices, lines, reads = billing.run(workers)
    del billing
    replace_wrong_plans(charge_versions, catalogue, config, rng)
    t["AccountPlan"] = _account_plan_table(charge_versions.rows)
    t["Invoice"] = invoices
    t["InvoiceLineItem"] = lines
    t["BasicRead"] = _basic_read_table(reads, registers)
    t["Account"] = _account_table(accounts, invoices, config.start)
    t["GasHeatingValue"], t["GasNetworkDailyVolume"] = _gas_tables(
        utilities, registers, days, heating_values, gas_network_daily
    )
    return t


def write_core_tables(tables: dict[str, pd.DataFrame], core_url: str) -> tuple[str, dict[str, int]]:
    """Create the CORE database afresh and insert every table, releasing each frame once written.
    Returns the database URL without its password and the rows per table (in schema order)."""
    db = CoreDatabase(core_url)
    db.create_database(drop_existing=True)
    rows = {}
    for name in core_tables():
        frame = tables.pop(name)
        rows[name] = len(frame)
        db.insert_arrow(name, _arrow(name, frame), bulk=True)
        del frame
    return db.url.redacted(), rows


def _tenancy_table(accounts: pd.DataFrame) -> pd.DataFrame:
    """AccountUtility: each account's tenancy of its supply point."""
    return pd.DataFrame(
        {
            "id": accounts["id"],
            "account_id": accounts["id"],
            "utility_id": accounts["utility_index"] + 1,
            "start_date": accounts["open_date"],
            "end_date": accounts["close_date"],
        }
    )


def _account_plan_table(rows: list[list]) -> pd.DataFrame:
    return pd.DataFrame(
        rows,
        columns=[
            "id",
            "account_id",
            "utility_id",
            "plan_id",
            "start_date",
            "end_date",
            "status",
            "created_at",
            "include_in_supplementary",
        ],
    )


def _basic_read_table(reads: pd.DataFrame, registers: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": np.arange(1, len(reads) + 1),
            "meter_register_id": registers["id"].to_numpy()[reads["register_index"].to_numpy(dtype=np.int64)],
            "read_date": reads["read_date"],
            "reading": reads["reading"],
            "read_type": reads["read_type"],
            "quality": np.where(reads["read_type"] == "ACTUAL", "A", "E"),
        }
    )


def _supply_point_tables(
    accounts: pd.DataFrame, utilities: pd.DataFrame, registers: pd.DataFrame
) -> dict[str, pd.DataFrame]:
    """Utility, UtilityDetail, Meter, MeterRegister and MeterRegisterDetail."""
    t = {}
    t["Utility"] = pd.DataFrame(
        {
            "id": utilities["id"],
            "identifier": utilities["identifier"],
            "service_type_id": np.where(utilities["gas"], 2, 1),
            "cust_class_code": np.where(utilities["segment"] > 0, "BUSINESS", "RESIDENTIAL"),
            "utility_network_id": utilities["network_id"],
            "jurisdiction_id": utilities["state"].map(JURISDICTION_ID),
            "meter_data_provider": utilities["mdp"].replace("", None),
        }
    )
    t["UtilityDetail"] = _utility_detail(accounts, utilities)
    t["Meter"] = pd.DataFrame(
        {
            "id": utilities["id"],
            "utility_id": utilities["id"],
            "serial": utilities["serial"],
            "meter_installation_type": utilities["meter_type"],
            "pressure_correction_factor": utilities["pcf"],
            "start_date": _INSTALLED,
            "end_date": None,
        }
    )
    t["MeterRegister"] = pd.DataFrame(
        {
            "id": registers["id"],
            "meter_id": registers["utility_index"] + 1,
            "register_id": registers["register_id"],
            "suffix_id": registers["suffix"],
            "direction_indicator": registers["direction"],
            # a world without a controlled-load register has no market flag column at all
            "controlled_load": registers.get("market_controlled", pd.Series(np.nan, index=registers.index))
            .fillna(registers["controlled"])
            .astype(int),
            "time_class": registers["time_class"],
            "uom": registers["uom"],
            "dial_digits": registers["digits"],
            "interval_length": registers["interval_length"].where(registers["interval_length"] > 0, None),
        }
    )
    t["MeterRegisterDetail"] = pd.DataFrame(
        {
            "id": registers["id"],
            "meter_register_id": registers["id"],
            "status": "C",
            "start_date": _INSTALLED,
            "end_date": None,
        }
    )
    return t


def _utility_detail(accounts: pd.DataFrame, utilities: pd.DataFrame) -> pd.DataFrame:
    """Supply point status: active (A) from installation; de-energised (D) the day after the last
    tenancy closed, when none is left open."""
    closes: dict[int, list] = {}
    for ui, cd in zip(accounts["utility_index"], accounts["close_date"]):
        closes.setdefault(ui, []).append(cd)
    detail_rows: list[tuple] = []
    for u in utilities.itertuples():
        cds = closes.get(u.Index, [None])
        lc = None if any(c is None for c in cds) else max(cds)  # no open tenancy left: de-energised
        detail_rows.append(
            (len(detail_rows) + 1, u.id, "A", 1 + u.Index % len(TNIS), _INSTALLED, lc if lc is not None else None)
        )
        if lc is not None:
            detail_rows.append((len(detail_rows) + 1, u.id, "D", 1 + u.Index % len(TNIS), lc + timedelta(days=1), None))
    return pd.DataFrame(
        detail_rows, columns=["id", "utility_id", "utility_status", "utility_tni_id", "start_date", "end_date"]
    )


def _heating_values(config: GeneratorConfig) -> dict[tuple[int, date], float]:
    """Gas heating value (MJ/m3) per network and month of the history."""
    return {
        (nw, m): round(38.2 + 0.6 * np.sin(2 * np.pi * (m.month - 1) / 12) + 0.1 * (nw % 3), 4)
        for nw in range(1, len(NETWORKS) + 1)
        for m in month_starts(config.start, config.end)
    }


def _account_table(accounts: pd.DataFrame, invoices: pd.DataFrame, start: date) -> pd.DataFrame:
    """Account, with its next bill date: the end of the first period not yet billed."""
    segment_names = np.array([1, 2, 3])
    last_end = invoices[invoices.is_credit == 0].groupby("account_id")["period_end"].max()
    last_end = pd.Series([d.date() for d in last_end], index=last_end.index, dtype=object)
    step = accounts["bill_frequency"].map(BILL_STEP)
    nxt: list[date | None] = []
    for a, k in zip(accounts.itertuples(), step):
        le = last_end.get(a.id)
        if a.close_date is not None and le is not None and le >= a.close_date:
            nxt.append(None)
        else:
            base = le if le is not None else max(a.open_date, start)
            nxt.append(
                add_months(base, k, a.bill_cycle_day) if le is not None else add_months(base, 1, a.bill_cycle_day)
            )
    return pd.DataFrame(
        {
            "id": accounts["id"],
            "account_number": accounts["account_number"],
            "customer_name": accounts["customer_name"],
            "service_type_id": np.where(accounts["gas"], 2, 1),
            "journal_segment_id": segment_names[accounts["segment"]],
            "open_date": accounts["open_date"],
            "close_date": accounts["close_date"],
            "bill_frequency": accounts["bill_frequency"],
            "bill_cycle_day": accounts["bill_cycle_day"],
            "next_bill_date": nxt,
            "pay_on_time_propensity": accounts["pay_on_time_propensity"],
            # Businesses are registered for GST (their feed-in credits carry it); households are not.
            "gst_registered": (segment_names[accounts["segment"]] != 1).astype(int),
        }
    )


def _gas_tables(
    utilities: pd.DataFrame,
    registers: pd.DataFrame,
    days: np.ndarray,
    heating_values: dict[tuple[int, date], float],
    gas_network_daily: Callable[[str, int, int], np.ndarray],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """GasHeatingValue per gas network and month; GasNetworkDailyVolume, the networks' daily
    volumes (the gas shape). Each network's volume comes from its own simulated population (the
    load model's): none of our customers' true consumption is in it."""
    gas_nets = [i + 1 for i, nw in enumerate(NETWORKS) if nw[2] == "GAS"]
    hv_months = sorted({m for _, m in heating_values})
    heating = pd.DataFrame(
        [
            (k + 1, nw, m, heating_values[(nw, m)])
            for k, (nw, m) in enumerate((nw, m) for nw in gas_nets for m in hv_months)
        ],
        columns=["id", "utility_network_id", "month", "heating_value"],
    )
    gas_regs = registers.index[registers["suffix"] == "G1"].to_numpy()
    net_of_reg = utilities["network_id"].to_numpy()[registers["utility_index"].to_numpy()]
    vol_rows = []
    for nw in gas_nets:
        ours = int((net_of_reg[gas_regs] == nw).sum())
        vol = np.round(gas_network_daily(NETWORKS[nw - 1][1], nw, 2500 * (1 + ours)), 1)
        vol_rows += [(nw, d, v) for d, v in zip(days.astype(object), vol)]
    volumes = pd.DataFrame(
        [(i + 1, *r) for i, r in enumerate(vol_rows)], columns=["id", "utility_network_id", "gas_date", "volume"]
    )
    return heating, volumes


def _arrow(name: str, frame: pd.DataFrame) -> pa.Table:
    spec = core_tables()[name]
    arrays = []
    for col in spec.columns:
        s = frame[col.name]
        t = col.arrow_type
        if pa.types.is_decimal(t):
            arr = _decimal_array(s, t)
        elif pa.types.is_timestamp(t):
            arr = pa.array(pd.to_datetime(s)).cast(pa.timestamp("s")).cast(t)
        elif pa.types.is_date32(t) and pd.api.types.is_datetime64_any_dtype(s.dtype):
            arr = pa.array(s.to_numpy().astype("datetime64[D]"), pa.date32(), from_pandas=True)
        elif pa.types.is_date32(t):
            try:  # date objects (and None) straight into Arrow
                arr = pa.array(s.to_numpy(dtype=object), pa.date32(), from_pandas=True)
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                arr = pa.array(pd.to_datetime(s).dt.date, pa.date32())
        else:
            arr = pa.array(s.where(s.notna(), None), t, from_pandas=True)
        arrays.append(arr)
    return pa.Table.from_arrays(arrays, schema=spec.arrow_schema)


def _decimal_array(s: pd.Series, t: pa.Decimal128Type) -> pa.Array:
    """Floats -> decimals at the column's scale, as f"{round(v, scale):.{scale}f}" would (the rounded
    value's unscaled integer rint(v * 10^scale)), built from the 128-bit integers directly."""
    v = pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64)
    null = np.isnan(v)
    k = np.rint(np.round(np.where(null, 0.0, v), t.scale) * 10.0**t.scale).astype(np.int64)
    words = np.empty((len(k), 2), dtype=np.int64)
    words[:, 0] = k
    words[:, 1] = k >> 63  # sign extension to 128 bits (little endian)
    validity = pa.array(~null).buffers()[1] if null.any() else None
    return pa.Array.from_buffers(
        pa.decimal128(t.precision, t.scale), len(k), [validity, pa.py_buffer(words)], null_count=int(null.sum())
    )
