"""The lake: Parquet datasets per asset and partition, on local disk or S3.

Layout: ``<base>/<asset>/<partition_key>/<dataset>.parquet``. A partition is always written
whole: datasets go to a staging folder, then replace the partition's folder in one step, so a
re-materialisation never leaves old and new files mixed and never duplicates rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlparse

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from bua_assets.disk_full import raise_if_disk_full


@dataclass
class Lake:
    base: str  # a local directory or s3://bucket/prefix
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    # Called with (asset, partition, dataset) whenever a dataset is read or looked up: how the
    # asset-graph test sees what each asset really reads (tests/test_asset_graph.py).
    on_read: Callable[[str, str, str], None] | None = field(default=None, repr=False)
    _fs: pafs.FileSystem = field(init=False, repr=False)
    _root: str = field(default="", init=False, repr=False)

    def __post_init__(self):
        u = urlparse(self.base)
        if u.scheme == "s3":
            kwargs = {}
            if self.s3_endpoint_url:
                e = urlparse(self.s3_endpoint_url)
                kwargs = {"endpoint_override": e.netloc or e.path, "scheme": e.scheme or "http"}
            self._fs = pafs.S3FileSystem(region=self.s3_region, **kwargs)  # None: AWS_REGION / the profile
            self._root = f"{u.netloc}/{u.path.strip('/')}".rstrip("/")
        else:
            self._fs = pafs.LocalFileSystem()
            import os

            self._root = os.path.abspath(self.base)
            os.makedirs(self._root, exist_ok=True)

    @property
    def filesystem(self) -> pafs.FileSystem:
        return self._fs

    def partition_dir(self, asset: str, partition: str) -> str:
        return f"{self._root}/{asset}/{partition}"

    def dataset_path(self, asset: str, partition: str, dataset: str) -> str:
        return f"{self.partition_dir(asset, partition)}/{dataset}.parquet"

    def uri(self, asset: str, partition: str, dataset: str | None = None) -> str:
        path = self.dataset_path(asset, partition, dataset) if dataset else self.partition_dir(asset, partition)
        return f"s3://{path}" if isinstance(self._fs, pafs.S3FileSystem) else path

    def _observe(self, asset: str, partition: str, dataset: str) -> None:
        if self.on_read is not None:
            self.on_read(asset, partition, dataset)

    def exists(self, asset: str, partition: str, dataset: str) -> bool:
        self._observe(asset, partition, dataset)
        info = self._fs.get_file_info(self.dataset_path(asset, partition, dataset))
        return info.type == pafs.FileType.File

    def rows(self, asset: str, partition: str, dataset: str) -> int:
        """Row count from the Parquet footer (nothing else is read); 0 when the dataset is absent."""
        if not self.exists(asset, partition, dataset):
            return 0
        with self._fs.open_input_file(self.dataset_path(asset, partition, dataset)) as f:
            return pq.ParquetFile(f).metadata.num_rows

    def read(self, asset: str, partition: str, dataset: str, columns: list[str] | None = None) -> pa.Table:
        path = self.dataset_path(asset, partition, dataset)
        if not self.exists(asset, partition, dataset):
            raise FileNotFoundError(
                f"lake dataset not found: {self.uri(asset, partition, dataset)} "
                f"(materialise {asset} for {partition} first)"
            )
        return pq.read_table(path, filesystem=self._fs, columns=columns)

    def iter_batches(
        self, asset: str, partition: str, dataset: str, columns: list[str] | None = None, batch_rows: int = 65_536
    ) -> Iterator[pa.RecordBatch]:
        """Stream a dataset in record batches: memory bounded by the batch, not the dataset."""
        if not self.exists(asset, partition, dataset):
            raise FileNotFoundError(
                f"lake dataset not found: {self.uri(asset, partition, dataset)} "
                f"(materialise {asset} for {partition} first)"
            )
        with self._fs.open_input_file(self.dataset_path(asset, partition, dataset)) as f:
            yield from pq.ParquetFile(f).iter_batches(batch_size=batch_rows, columns=columns)

    def read_matching(
        self, asset: str, partition: str, dataset: str, column: str, values: pa.Array, columns: list[str] | None = None
    ) -> pa.Table:
        """The rows whose ``column`` is in ``values``, decoding only the row groups that hold any
        (the key column is read once first): a few supply points' days out of a month of interval
        data without decoding the rest. Empty when the dataset is absent."""
        if not self.exists(asset, partition, dataset):
            return pa.table({})
        with self._fs.open_input_file(self.dataset_path(asset, partition, dataset)) as f:
            pf = pq.ParquetFile(f)
            names = columns or pf.schema_arrow.names
            keys = pf.read(columns=[column])[column]
            hit = pc.is_in(keys, value_set=values.cast(keys.type)).to_numpy(zero_copy_only=False)
            ends = np.cumsum([pf.metadata.row_group(g).num_rows for g in range(pf.num_row_groups)])
            rows = np.flatnonzero(hit)
            groups = sorted(set(np.searchsorted(ends, rows, side="right").tolist()))
            if not groups:
                return pf.schema_arrow.empty_table().select(names)
            table = pf.read_row_groups(groups, columns=sorted({*names, column}))
            keep = pc.is_in(table[column], value_set=values.cast(keys.type))
            return table.filter(keep).select(names)

    def datasets(self, asset: str, partition: str) -> list[str]:
        self._observe(asset, partition, "*")
        selector = pafs.FileSelector(self.partition_dir(asset, partition), allow_not_found=True)
        return sorted(
            i.base_name[: -len(".parquet")]
            for i in self._fs.get_file_info(selector)
            if i.base_name.endswith(".parquet")
        )

    @contextmanager
    def partition_writer(self, asset: str, partition: str) -> Iterator[PartitionWriter]:
        """Write a partition's datasets; they replace the old partition only if the block succeeds."""
        final = self.partition_dir(asset, partition)
        staging = f"{final}.staging-{uuid.uuid4().hex[:8]}"
        self._fs.create_dir(staging, recursive=True)
        writer = PartitionWriter(self._fs, staging)
        try:
            yield writer
            writer.close()  # flushing the footers can fail too (a full disk): still inside the cleanup
            self._swap(staging, final)
        except BaseException as exc:
            writer.abort()
            self._discard(staging)
            # Named as the file it was to become (the staging folder is gone by now).
            written = (writer.current or staging).replace(staging, final, 1)
            raise_if_disk_full(exc, path=written, target=f"BUA_LAKE={self.base}")
            raise

    def _discard(self, staging: str) -> None:
        """Remove a staging folder after a failure, whatever state the failure left it in."""
        if isinstance(self._fs, pafs.LocalFileSystem):
            import shutil

            shutil.rmtree(staging, ignore_errors=True)
            return
        try:
            self._fs.delete_dir(staging)
        except (OSError, FileNotFoundError):
            pass  # already gone (the swap moved it) or unreachable: the original error is what matters

    def _swap(self, staging: str, final: str) -> None:
        if isinstance(self._fs, pafs.LocalFileSystem):
            import os
            import shutil

            trash = f"{final}.old-{uuid.uuid4().hex[:8]}"
            if os.path.exists(final):
                os.rename(final, trash)
            try:
                os.rename(staging, final)
            except BaseException:
                if os.path.exists(trash):
                    os.rename(trash, final)  # the old partition stays as it was
                raise
            shutil.rmtree(trash, ignore_errors=True)
            return
        # S3 has no directory rename: clear the old objects, then move each new one in.
        self._fs.create_dir(final, recursive=True)
        self._fs.delete_dir_contents(final, missing_dir_ok=True)
        for info in self._fs.get_file_info(pafs.FileSelector(staging, recursive=True)):
            if info.type == pafs.FileType.File:
                self._fs.move(info.path, f"{final}/{info.path[len(staging) + 1 :]}")
        self._fs.delete_dir(staging)


class PartitionWriter:
    def __init__(self, fs: pafs.FileSystem, directory: str):
        self._fs = fs
        self._dir = directory
        self._open: dict[str, pq.ParquetWriter] = {}
        self.rows: dict[str, int] = {}
        self.current = ""  # the file last written to: what a full disk is reported against

    def write(self, dataset: str, table: pa.Table) -> None:
        """Write a whole dataset (or append a batch to one opened by an earlier call)."""
        self.current = f"{self._dir}/{dataset}.parquet"
        if dataset not in self._open:
            self._open[dataset] = pq.ParquetWriter(self.current, table.schema, filesystem=self._fs, compression="zstd")
            self.rows[dataset] = 0
        self._open[dataset].write_table(table)
        self.rows[dataset] += table.num_rows

    def write_batch(self, dataset: str, batch: pa.RecordBatch) -> None:
        self.write(dataset, pa.Table.from_batches([batch]))

    def write_file(self, relative_path: str, data: bytes) -> None:
        """A non-Parquet file (e.g. a NEM12 CSV) in the partition, replaced with it."""
        parent = f"{self._dir}/{relative_path}".rsplit("/", 1)[0]
        self._fs.create_dir(parent, recursive=True)
        self.current = f"{self._dir}/{relative_path}"
        with self._fs.open_output_stream(self.current) as out:
            out.write(data)

    def ensure(self, dataset: str, schema: pa.Schema) -> None:
        """Make sure the dataset exists even when no rows were written (an empty, typed file)."""
        if dataset not in self._open:
            self.write(dataset, schema.empty_table())

    def close(self) -> None:
        try:
            for w in self._open.values():
                w.close()
        finally:
            self._open.clear()

    def abort(self) -> None:
        """Close every open file after a failure, ignoring the errors closing them raises again."""
        for w in self._open.values():
            try:
                w.close()
            except Exception:  # noqa: BLE001 - the write already failed; the staging folder goes next
                pass
        self._open.clear()
