"""The anonymised test environment: the whole month runs on keyed hashes of account numbers,
NMIs, meter serials and names; joins still work and no original appears in any output."""

from __future__ import annotations

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from support import PARTITION

from bua_assets.core.database import CoreDatabase
from bua_assets.definitions import ALL_ASSETS
from bua_assets.lake import Lake
from bua_assets.ops.anonymise import Anonymiser
from bua_assets.resources import AnonymiseResource, local_resources
from bua_assets.runner import backfill_interval_history


def originals(core_url: str) -> set[str]:
    db = CoreDatabase(core_url)
    values = set()
    for table, columns in (
        ("Account", ["account_number", "customer_name"]),
        ("Utility", ["identifier"]),
        ("Meter", ["serial"]),
    ):
        t = pa.Table.from_batches(list(db.stream_table(table)))
        for c in columns:
            values |= {str(v) for v in t[c].to_pylist() if v}
    return values


def test_the_anonymised_month_joins_and_leaks_no_identifier(retailer, tmp_path):
    folder, url = retailer
    resources = local_resources(url, str(folder / "nem12"), tmp_path) | {
        "anonymise": AnonymiseResource(key="test-only-key-not-a-secret")
    }
    with dg.instance_for_test() as instance:
        backfill_interval_history(PARTITION, instance, resources)
        result = dg.materialize(ALL_ASSETS, partition_key=PARTITION, resources=resources, instance=instance)
    assert result.success
    lake = Lake(str(tmp_path / "lake"))
    # Joins still work: interval data found its registers, and consumption was priced.
    assert lake.read("utility_profiles", PARTITION, "unmatched_interval_data").num_rows == 0
    assert lake.read("interval_statistics", PARTITION, "register_days").num_rows > 1000
    assert lake.read("invoice_line_items", PARTITION, "invoice_line_items").num_rows > 100
    secret_values = originals(url)
    nmis = {
        str(v) for v in pa.Table.from_batches(list(CoreDatabase(url).stream_table("Utility")))["identifier"].to_pylist()
    }
    assert len(nmis) > 100 and nmis <= secret_values
    texts = []
    for path in tmp_path.rglob("*"):
        if not path.is_file() or path.suffix == ".db":
            continue
        if path.suffix == ".parquet":
            t = pq.read_table(path)
            texts += [str(v) for c in t.columns if pa.types.is_string(c.type) for v in c.to_pylist() if v is not None]
        elif path.suffix in (".csv", ".json"):
            texts.append(path.read_text())
    blob = "\n".join(texts)
    leaked = [v for v in secret_values if len(v) >= 6 and v in blob]
    assert not leaked, leaked[:5]
    # The scan does read the outputs: the hashed identifiers are all over them.
    hashed = Anonymiser("test-only-key-not-a-secret")
    assert sum(hashed.one("nmi", n) in blob for n in nmis) > 0.9 * len(nmis)


def test_keyed_hashes_are_stable_per_key_and_keep_an_nmi_s_length():
    a, b = Anonymiser("k1"), Anonymiser("k2")
    assert a.one("nmi", "4100012345") == a.one("nmi", "4100012345") != b.one("nmi", "4100012345")
    assert len(a.one("nmi", "4100012345")) == 10 and len(a.one("nmi", "52000123456")) == 11
    assert a.one("account", "3000007919").isdigit() and a.one("name", "Smith A.").startswith("Customer ")
    with pytest.raises(ValueError, match="key is required"):
        Anonymiser("")
