"""A full disk (ENOSPC, for real: writes sent to /dev/full) in the lake and the export files:
the error names the file and the configured target, and nothing half-written is left."""

from __future__ import annotations

import errno
import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bua_assets.billing.export import Target
from bua_assets.disk_full import DiskFullError, is_disk_full, naming_disk_full
from bua_assets.lake import Lake
from bua_assets.resources import ExportResource

pytestmark = pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")

TABLE = pa.table({"account_id": list(range(50_000)), "amount": [1.5] * 50_000})


def test_a_full_disk_in_a_lake_write_names_the_dataset_and_bua_lake(tmp_path, monkeypatch):
    lake = Lake(str(tmp_path / "lake"))
    with lake.partition_writer("accrual", "2026-10-01") as w:
        w.write("accrual", TABLE.slice(0, 10))
    real_writer = pq.ParquetWriter

    def onto_a_full_disk(where, schema, **kwargs):
        return real_writer("/dev/full", schema, **kwargs)  # the device the OS says is full

    monkeypatch.setattr(pq, "ParquetWriter", onto_a_full_disk)
    with pytest.raises(DiskFullError) as raised:
        with lake.partition_writer("accrual", "2026-10-01") as w:
            w.write("accrual", TABLE)
    table = tmp_path / "lake" / "accrual" / "accrual"  # the Delta table of asset accrual, dataset accrual
    assert raised.value.errno == errno.ENOSPC
    assert raised.value.path.startswith(f"{table}/partition=2026-10-01/part-") and raised.value.path.endswith(
        ".parquet"
    )
    assert str(raised.value).startswith(
        f"[Errno 28] no space left on device writing {raised.value.path} (target BUA_LAKE={tmp_path / 'lake'})"
    )
    monkeypatch.undo()
    assert lake.read("accrual", "2026-10-01", "accrual").num_rows == 10  # the old version stands
    # no partial file left: the month's folder holds only the first write's file
    assert len(list((table / "partition=2026-10-01").iterdir())) == 1


def test_a_full_disk_in_an_export_file_names_the_file_and_its_setting(tmp_path):
    export, integration = ExportResource(
        export_base=str(tmp_path / "exports"), integration_base=str(tmp_path / "integration")
    ).targets()
    folder = tmp_path / "exports" / "export" / "csv" / "2026-11-01"
    folder.mkdir(parents=True)
    # The temporary the write goes through lands on the full device.
    (folder / ".BUA_accrual_202610.csv.tmp").symlink_to("/dev/full")
    with pytest.raises(DiskFullError) as raised:
        export.put("export/csv/2026-11-01/BUA_accrual_202610.csv", b"x" * 200_000)
    message = str(raised.value)
    assert f"writing {folder / 'BUA_accrual_202610.csv'}" in message
    assert f"(target BUA_EXPORT_BASE={tmp_path / 'exports'})" in message
    assert list(folder.iterdir()) == []  # neither the file nor the temporary is left
    assert integration.setting == "BUA_INTEGRATION_BASE"


def test_other_errors_pass_through_untouched():
    denied = PermissionError(errno.EACCES, "Permission denied")
    assert not is_disk_full(denied)
    assert is_disk_full(OSError("Error writing bytes to file. Detail: [errno 28] No space left on device"))
    with pytest.raises(PermissionError) as raised:
        with naming_disk_full("/some/file", "BUA_LAKE=/data"):
            raise denied
    assert raised.value is denied


def test_a_local_target_without_a_setting_is_named_by_its_folder(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / ".probe.txt.tmp").symlink_to("/dev/full")
    with pytest.raises(DiskFullError, match=f"writing {folder / 'probe.txt'} \\(target {folder}\\)"):
        Target(str(folder)).put("probe.txt", b"y" * 100_000)
