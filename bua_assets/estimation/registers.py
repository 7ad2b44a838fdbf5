"""The meter registers estimation works on, with their segment and macro profile key."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa

from bua_assets.estimation.profiles import segment_name
from bua_assets.sql import run_sql

CORE_INPUTS = {
    "utility": "Utility",
    "meter": "Meter",
    "meter_register": "MeterRegister",
    "register_detail": "MeterRegisterDetail",
    "jurisdiction": "Jurisdiction",
    "service_type": "ServiceType",
    "payload_mapping": "MarketPayloadMapping",
    "utility_detail": "UtilityDetail",
    "tni": "UtilityTni",
}


def meter_registers(core: dict[str, pa.Table], window_start: date, month_end: date) -> pd.DataFrame:
    """Every register (sql/transform/meter_registers.sql) plus ``segment`` (electricity: customer
    class x jurisdiction x the legacy ``profile_stream_type``; billing keeps ``stream_type``),
    ``profile_key`` (its macro profile: the segment, or GAS|<network> for gas). The SQL gives the
    NEM12 ``nmi_configuration`` (the supply point's suffixes, in register order)."""
    r = run_sql(
        "transform/meter_registers",
        {view: core[table] for view, table in CORE_INPUTS.items()},
        {"window_start": window_start, "month_end": month_end},
    ).to_pandas()
    gas = r["fuel"] == "GAS"
    segments = [
        segment_name(c, j, s) for c, j, s in zip(r["customer_class"], r["jurisdiction"], r["profile_stream_type"])
    ]
    r["segment"] = np.where(gas, None, segments)  # type: ignore[call-overload]  # None: gas has no segment
    r["profile_key"] = np.where(gas, "GAS|" + r["network_id"].astype(str), r["segment"])
    r["nmi_configuration"] = r.pop("nmi_configuration")  # last, where the datasets have always had it
    return r


def segment_names(registers: pd.DataFrame) -> list[str]:
    """The segments to profile: every electricity segment a register (interval or basic) belongs to."""
    return sorted(registers["segment"].dropna().unique().tolist())


def profiled_registers(
    core: dict[str, pa.Table], window_start: date, month_end: date
) -> tuple[pd.DataFrame, list[str], pd.DataFrame]:
    """Every register (meter_registers), the segments, and the interval electricity registers
    (with ``segment_index``, their segment's position in the segments) that the interval
    statistics and the profiles are built from."""
    registers = meter_registers(core, window_start, month_end)
    segments = segment_names(registers)
    interval = registers[(registers["read_kind"] == "INTERVAL") & (registers["fuel"] == "ELECTRICITY")].reset_index(
        drop=True
    )
    interval["segment_index"] = interval["segment"].map({s: i for i, s in enumerate(segments)})
    return registers, segments, interval
