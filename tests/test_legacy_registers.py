"""The legacy profile-register rules (sql/transform/meter_registers.sql): CONTROL when the register's
controlled-load value maps to YES; else SOLAR for suffixes A, B, C, J, K, L, or N/X importing; else
PRIMARY; only COMMS*/MR* meters with 10-character NMIs and a current detail in the window are
profile registers; the active detail's TNI carried through. Where they differ from the simple
guess by flag, suffix and direction (stream_type, what the register is billed as), the tests show it."""

from __future__ import annotations

from datetime import date

import pyarrow as pa

from bua_assets.core.database import CoreDatabase
from bua_assets.estimation.registers import CORE_INPUTS, meter_registers

WINDOW, MONTH_END = date(2025, 11, 1), date(2026, 10, 31)
OPEN = None


def _core(registers: list[tuple]) -> dict[str, pa.Table]:
    """Three supply points: 1 (COMMS4, 10-character NMI), 2 (MRIM, an 11-character NMI), 3 (BASIC)."""
    t = pa.Table.from_pylist
    return {
        "Utility": t(
            [
                {
                    "id": 1,
                    "identifier": "4100000001",
                    "utility_network_id": 1,
                    "cust_class_code": "RESIDENTIAL",
                    "jurisdiction_id": 1,
                    "service_type_id": 1,
                },
                {
                    "id": 2,
                    "identifier": "41000000022",
                    "utility_network_id": 1,
                    "cust_class_code": "BUSINESS",
                    "jurisdiction_id": 1,
                    "service_type_id": 1,
                },
                {
                    "id": 3,
                    "identifier": "4100000003",
                    "utility_network_id": 1,
                    "cust_class_code": "RESIDENTIAL",
                    "jurisdiction_id": 1,
                    "service_type_id": 1,
                },
            ]
        ),
        "Meter": t(
            [
                {
                    "id": m,
                    "utility_id": m,
                    "serial": f"M{m}",
                    "meter_installation_type": kind,
                    "pressure_correction_factor": None,
                    "start_date": date(2015, 1, 1),
                    "end_date": None,
                }
                for m, kind in ((1, "COMMS4"), (2, "MRIM"), (3, "BASIC"))
            ]
        ),
        "MeterRegister": t(
            [
                {
                    "id": i,
                    "meter_id": meter,
                    "register_id": str(i),
                    "suffix_id": suffix,
                    "direction_indicator": direction,
                    "controlled_load": cl,
                    "time_class": "ANYTIME",
                    "uom": "KWH",
                    "dial_digits": 5,
                    "interval_length": 30,
                }
                for i, meter, suffix, direction, cl, _ in registers
            ]
        ),
        "MeterRegisterDetail": t(
            [
                {"id": i, "meter_register_id": i, "status": "C", "start_date": date(2015, 1, 1), "end_date": end}
                for i, _, _, _, _, end in registers
            ]
        ),
        "Jurisdiction": t([{"id": 1, "name": "NSW"}]),
        "ServiceType": t([{"id": 1, "name": "ELECTRICITY"}]),
        "MarketPayloadMapping": t(
            [
                {"id": k, "market_tag": tag, "market_value": v, "value": y}
                for k, (tag, v, y) in enumerate(
                    [
                        ("ControlledLoad", "E2", "YES"),
                        ("Solar", "B1", "YES"),
                        ("ControlledLoad", "1", "YES"),
                        ("ControlledLoad", "0", "NO"),
                    ]
                )
            ]
        ),
        "UtilityDetail": t(
            [
                {
                    "id": 1,
                    "utility_id": 1,
                    "utility_status": "A",
                    "utility_tni_id": 2,
                    "start_date": date(2015, 1, 1),
                    "end_date": date(2025, 6, 30),
                },  # ended before the window
                {
                    "id": 2,
                    "utility_id": 1,
                    "utility_status": "A",
                    "utility_tni_id": 1,
                    "start_date": date(2025, 7, 1),
                    "end_date": None,
                },
                {
                    "id": 3,
                    "utility_id": 2,
                    "utility_status": "D",
                    "utility_tni_id": 2,
                    "start_date": date(2015, 1, 1),
                    "end_date": None,
                },
            ]
        ),  # not active: no TNI
        "UtilityTni": t([{"id": 1, "name": "NSYD"}, {"id": 2, "name": "NWST"}]),
    }


def test_legacy_rules_in_order_and_where_they_differ_from_the_simple_guess():
    registers = [  # id, meter, suffix, direction, controlled-load value, detail end
        (1, 1, "E1", "I", 0, OPEN),
        (2, 1, "E2", "I", 0, OPEN),  # controlled-load suffix, value maps to NO: PRIMARY (guess CONTROL)
        (3, 1, "E3", "I", 1, OPEN),  # value maps to YES: CONTROL
        (4, 1, "B1", "E", 0, OPEN),
        (5, 1, "N1", "I", 0, OPEN),  # N importing: SOLAR (guess PRIMARY)
        (6, 1, "X1", "E", 0, OPEN),  # X exporting: PRIMARY (guess SOLAR)
        (7, 1, "K1", "I", 1, OPEN),  # CONTROL comes first
        (8, 1, "C1", "I", 0, OPEN),  # C: SOLAR whatever the direction (guess PRIMARY)
        (9, 1, "E4", "I", 0, date(2025, 10, 31)),  # detail ended before the window: not a profile register
        (10, 2, "E1", "I", 0, OPEN),  # MRIM, but an 11-character NMI
        (11, 3, "41", "I", 1, OPEN),  # basic meter
    ]
    r = meter_registers(_core(registers), WINDOW, MONTH_END).set_index("register_id")
    assert r["profile_stream_type"].to_dict() == {
        1: "PRIMARY",
        2: "PRIMARY",
        3: "CONTROL",
        4: "SOLAR",
        5: "SOLAR",
        6: "PRIMARY",
        7: "CONTROL",
        8: "SOLAR",
        9: "PRIMARY",
        10: "PRIMARY",
        11: "CONTROL",
    }
    assert r["stream_type"].to_dict() == {  # the simple guess (flag, suffix mapping, direction)
        1: "PRIMARY",
        2: "CONTROL",
        3: "CONTROL",
        4: "SOLAR",
        5: "PRIMARY",
        6: "SOLAR",
        7: "CONTROL",
        8: "PRIMARY",
        9: "PRIMARY",
        10: "PRIMARY",
        11: "CONTROL",
    }
    assert r.index[r["profile_register"]].tolist() == [1, 2, 3, 4, 5, 6, 7, 8]
    assert r["segment"].to_dict()[2] == "RES|NSW|PRIMARY" and r["segment"].to_dict()[5] == "RES|NSW|SOLAR"
    tni = {k: (v if isinstance(v, str) else None) for k, v in r["tni"].items()}  # no active detail: null
    assert tni == {**dict.fromkeys(range(1, 10), "NSYD"), 10: None, 11: None}


def test_the_synthetic_world_has_registers_where_the_rules_differ(retailer):
    _, url = retailer
    db = CoreDatabase(url)
    core = {table: pa.Table.from_batches(list(db.stream_table(table))) for table in CORE_INPUTS.values()}
    r = meter_registers(core, WINDOW, MONTH_END)
    control_suffix = r[r["suffix"].isin(["E2", "41"])]
    differ = control_suffix[control_suffix["profile_stream_type"] != "CONTROL"]
    # E2 channels whose market controlled-load value is 0: profiled as PRIMARY, still billed as controlled load
    assert len(differ) > 0 and set(differ["suffix"]) == {"E2"}
    assert set(differ["profile_stream_type"]) == {"PRIMARY"} and set(differ["stream_type"]) == {"CONTROL"}
    assert differ["segment"].str.endswith("|PRIMARY").all()
    raw = core["MeterRegister"].to_pandas().set_index("id")
    assert set(raw.loc[differ["register_id"], "controlled_load"]) == {0}
    assert set(
        raw.loc[
            control_suffix.loc[control_suffix["profile_stream_type"] == "CONTROL", "register_id"], "controlled_load"
        ]
    ) == {1}
    assert differ["profile_register"].any()  # they feed the PRIMARY profiles
    profiled = r[r["profile_register"]]
    assert profiled["tni"].notna().all()  # every profile register carries its active detail's TNI
