"""The lake: one Delta Lake table per asset and dataset, on local disk or S3.

Layout: ``<base>/<asset>/<dataset>/`` is a Delta table partitioned by ``partition`` (the month key,
``YYYY-MM-DD``); a month's rows are one Parquet file ``partition=<key>/part-<id>.zstd.parquet``
named by the table's log. Re-materialising a month writes its new files first, then replaces the
month in one Delta commit per dataset (an overwrite limited to that partition): a reader sees the
old month or the new one whole, never a mix, on local disk and on S3 (the commit is a single
conditional put of the next log entry, so two writers cannot both claim a version). A crash
before the commit leaves only unreferenced files, which nobody reads and vacuum removes.

Earlier versions stay readable for ``retention_days`` (log and removed files kept that long);
``read(..., version=N)`` reads one, ``versions(asset)`` says which version each dataset is at.

Other files of a partition (NEM12 CSVs, the chart PNG) are written to a fresh folder
``<asset>/_files/_blobs/<key>/<id>/`` and listed by the asset's ``_files`` Delta table (path ->
location), committed with the datasets: a reader finds them through the current version only.

A month may also be written by several writers at once (one per account shard, each its own
process or pod): each stages its files (``Lake.staging_writer``: written, named by no version,
described by ``StagedFile``s small enough to pass around as JSON) and one ``commit_staged`` makes
them all the month, still one Delta commit per dataset. Writers leave small JSON documents for
whoever commits (which files, which figures) in ``<asset>/_staging/<partition>/<batch>/``.

The datasets of one asset partition are committed one after the other once all their files are
written (the dataset named like the asset last), so a crash between two of those commits (a few
log puts) leaves the earlier datasets new and the later old: the materialisation fails and its
retry rewrites them all.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol
from urllib.parse import urlparse

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from deltalake import DeltaTable, Schema
from deltalake.exceptions import DeltaError, TableNotFoundError
from deltalake.transaction import AddAction, CommitProperties, RemoveAction, create_table_with_add_actions

from bua_assets.disk_full import raise_if_disk_full

PARTITION_COLUMN = "partition"
FILES_TABLE = "_files"  # an asset's non-Parquet files (see the module doc); never a dataset
STAGING = "_staging"  # writers' notes to the one who commits their files (see the module doc)
# Folders in the lake that are neither assets nor datasets (ops/catalog.py's Glue manifests).
RESERVED = {FILES_TABLE, STAGING, "_catalog", "_delta_log"}
DEFAULT_RETENTION_DAYS = 90


@dataclass(frozen=True)
class StagedFile:
    """A Parquet file written into a dataset's table that no version names yet (until committed)."""

    dataset: str
    path: str  # relative to the table: partition=<key>/part-<writer id>.zstd.parquet
    rows: int
    size: int

    def add_action(self, partition: str) -> AddAction:
        return AddAction(
            path=self.path,
            size=self.size,
            partition_values={PARTITION_COLUMN: partition},
            modification_time=int(time.time() * 1000),
            data_change=True,
            stats=json.dumps({"numRecords": self.rows}),
        )


@dataclass
class Lake:
    base: str  # a local directory or s3://bucket/prefix
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    # Called with (asset, partition, dataset) whenever a dataset is read or looked up: how the
    # asset-graph test sees what each asset really reads (tests/test_asset_graph.py).
    on_read: Callable[[str, str, str], None] | None = field(default=None, repr=False)
    # Versions (the log and the files they name) stay readable this long: the audit period.
    retention_days: int = DEFAULT_RETENTION_DAYS
    _fs: pafs.FileSystem = field(init=False, repr=False)
    _root: str = field(default="", init=False, repr=False)
    _storage_options: dict[str, str] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self):
        if self.retention_days < 1:
            raise ValueError(f"lake retention must be at least 1 day (got {self.retention_days})")
        u = urlparse(self.base)
        if u.scheme == "s3":
            kwargs = {}
            # Delta's object store: the commit is a put-if-absent of the next log entry, which S3
            # honours (If-None-Match); credentials come from the environment / the pod's role.
            self._storage_options = {"conditional_put": "etag"}
            if self.s3_endpoint_url:
                e = urlparse(self.s3_endpoint_url)
                kwargs = {"endpoint_override": e.netloc or e.path, "scheme": e.scheme or "http"}
                self._storage_options["AWS_ENDPOINT_URL"] = self.s3_endpoint_url
                if (e.scheme or "http") == "http":
                    self._storage_options["AWS_ALLOW_HTTP"] = "true"
            if self.s3_region:
                self._storage_options["AWS_REGION"] = self.s3_region
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

    @property
    def root(self) -> str:
        """The lake's folder as a path on ``filesystem`` (``bucket/prefix`` on S3)."""
        return self._root

    @property
    def on_s3(self) -> bool:
        return isinstance(self._fs, pafs.S3FileSystem)

    def table_path(self, asset: str, dataset: str) -> str:
        return f"{self._root}/{asset}/{dataset}"

    def table_uri(self, asset: str, dataset: str) -> str:
        return self._uri(self.table_path(asset, dataset))

    def uri(self, asset: str, partition: str, dataset: str | None = None) -> str:
        """Where a month of a dataset (or of the asset) lives, for messages and metadata."""
        where = self.table_uri(asset, dataset) if dataset else self._uri(f"{self._root}/{asset}")
        return f"{where}/{PARTITION_COLUMN}={partition}" if dataset else f"{where} ({PARTITION_COLUMN}={partition})"

    def _uri(self, path: str) -> str:
        return f"s3://{path}" if self.on_s3 else path

    def _path(self, uri: str) -> str:
        return uri[len("s3://") :] if uri.startswith("s3://") else uri

    def _observe(self, asset: str, partition: str, dataset: str) -> None:
        if self.on_read is not None:
            self.on_read(asset, partition, dataset)

    # Reading ---------------------------------------------------------------------------------

    def table(self, asset: str, dataset: str, version: int | None = None) -> DeltaTable | None:
        """The dataset's Delta table at its current (or the given) version; None if it was never written."""
        try:
            return DeltaTable(self.table_uri(asset, dataset), version=version, storage_options=self._storage_options)
        except TableNotFoundError:
            if version is not None:
                raise FileNotFoundError(f"lake table not found: {self.table_uri(asset, dataset)}") from None
            return None

    def files(self, asset: str, partition: str, dataset: str, version: int | None = None) -> list[str]:
        """The Parquet files holding a month of a dataset (paths on ``filesystem``); [] when absent."""
        table = self.table(asset, dataset, version)
        if table is None:
            return []
        uris = table.file_uris(file_pruning_predicate=[(PARTITION_COLUMN, "=", partition)])
        return sorted(self._path(u) for u in uris)

    def partitions(self, asset: str, dataset: str, version: int | None = None) -> dict[str, list[str]]:
        """Every month the dataset holds at the current (or given) version -> its files."""
        table = self.table(asset, dataset, version)
        if table is None:
            return {}
        actions = pa.table(table.get_add_actions(flatten=True))
        found: dict[str, list[str]] = {}
        if actions.num_rows == 0:
            return found  # every month removed (its files kept for the audit period)
        base = self.table_path(asset, dataset)
        for path, key in zip(
            actions.column("path").to_pylist(), actions.column(f"partition.{PARTITION_COLUMN}").to_pylist()
        ):
            found.setdefault(key, []).append(f"{base}/{path}")
        return {k: sorted(v) for k, v in sorted(found.items())}

    def exists(self, asset: str, partition: str, dataset: str) -> bool:
        self._observe(asset, partition, dataset)
        return bool(self.files(asset, partition, dataset))

    def _require(self, asset: str, partition: str, dataset: str, version: int | None) -> list[str]:
        self._observe(asset, partition, dataset)
        files = self.files(asset, partition, dataset, version)
        if not files:
            at = f" at version {version}" if version is not None else ""
            raise FileNotFoundError(
                f"lake dataset not found: {self.uri(asset, partition, dataset)}{at} "
                f"(materialise {asset} for {partition} first)"
            )
        return files

    def rows(self, asset: str, partition: str, dataset: str) -> int:
        """Row count from the Parquet footers (nothing else is read); 0 when the dataset is absent."""
        self._observe(asset, partition, dataset)
        total = 0
        for path in self.files(asset, partition, dataset):
            with self._fs.open_input_file(path) as f:
                total += pq.ParquetFile(f).metadata.num_rows
        return total

    def read(
        self, asset: str, partition: str, dataset: str, columns: list[str] | None = None, version: int | None = None
    ) -> pa.Table:
        files = self._require(asset, partition, dataset, version)
        tables = [pq.read_table(p, filesystem=self._fs, columns=columns) for p in files]
        return tables[0] if len(tables) == 1 else pa.concat_tables(tables, promote_options="permissive")

    def iter_batches(
        self, asset: str, partition: str, dataset: str, columns: list[str] | None = None, batch_rows: int = 65_536
    ) -> Iterator[pa.RecordBatch]:
        """Stream a dataset in record batches: memory bounded by the batch, not the dataset."""
        for path in self._require(asset, partition, dataset, None):
            with self._fs.open_input_file(path) as f:
                yield from pq.ParquetFile(f).iter_batches(batch_size=batch_rows, columns=columns)

    def read_matching(
        self, asset: str, partition: str, dataset: str, column: str, values: pa.Array, columns: list[str] | None = None
    ) -> pa.Table:
        """The rows whose ``column`` is in ``values``, decoding only the row groups that hold any
        (the key column is read once first): a few supply points' days out of a month of interval
        data without decoding the rest. Empty when the dataset is absent."""
        self._observe(asset, partition, dataset)
        parts = [
            self._matching_in_file(path, column, values, columns) for path in self.files(asset, partition, dataset)
        ]
        if not parts:
            return pa.table({})
        return parts[0] if len(parts) == 1 else pa.concat_tables(parts, promote_options="permissive")

    def _matching_in_file(self, path: str, column: str, values: pa.Array, columns: list[str] | None) -> pa.Table:
        with self._fs.open_input_file(path) as f:
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

    def assets(self) -> list[str]:
        return self._children(self._root)

    def tables(self, asset: str) -> list[str]:
        """The asset's dataset tables (written for any month)."""
        return self._children(f"{self._root}/{asset}")

    def _children(self, folder: str) -> list[str]:
        """Sub-folders, less the reserved and hidden ones."""
        selector = pafs.FileSelector(folder, allow_not_found=True)
        return sorted(
            i.base_name
            for i in self._fs.get_file_info(selector)
            if i.type == pafs.FileType.Directory and i.base_name not in RESERVED and not i.base_name.startswith(".")
        )

    def datasets(self, asset: str, partition: str) -> list[str]:
        self._observe(asset, partition, "*")
        return [d for d in self.tables(asset) if self.files(asset, partition, d)]

    def version(self, asset: str, dataset: str) -> int:
        """The dataset table's current Delta version (pin it to read what was current now)."""
        table = self.table(asset, dataset)
        if table is None:
            raise FileNotFoundError(
                f"lake table not found: {self.table_uri(asset, dataset)} (materialise {asset} first)"
            )
        return table.version()

    def versions(self, asset: str) -> dict[str, int]:
        """Each dataset table of the asset -> its current Delta version (what a reader sees now)."""
        found = {}
        for dataset in self.tables(asset):
            table = self.table(asset, dataset)
            if table is not None:
                found[dataset] = table.version()
        return found

    def file_location(self, asset: str, partition: str, relative_path: str) -> str:
        """Where a non-Parquet file of the partition's current version is (a path on ``filesystem``)."""
        self._observe(asset, partition, FILES_TABLE)
        for path in self.files(asset, partition, FILES_TABLE):
            listing = pq.read_table(path, filesystem=self._fs)
            for name, location in zip(listing["path"].to_pylist(), listing["location"].to_pylist()):
                if name == relative_path:
                    return location
        raise FileNotFoundError(f"no file {relative_path} in {self.uri(asset, partition)}")

    def file_uri(self, asset: str, partition: str, relative_path: str) -> str:
        return self._uri(self.file_location(asset, partition, relative_path))

    def file_locations(self, asset: str, partition: str) -> dict[str, str]:
        """Every non-Parquet file of the partition's current version: relative path -> location."""
        found: dict[str, str] = {}
        for path in self.files(asset, partition, FILES_TABLE):
            listing = pq.read_table(path, filesystem=self._fs)
            found.update(zip(listing["path"].to_pylist(), listing["location"].to_pylist()))
        return found

    # Writing ---------------------------------------------------------------------------------

    @contextmanager
    def partition_writer(self, asset: str, partition: str) -> Iterator[PartitionWriter]:
        """Write a partition's datasets; they replace the old partition only if the block succeeds."""
        writer = PartitionWriter(self, asset, partition)
        try:
            yield writer
            writer.close()  # flushing the footers can fail too (a full disk): still inside the cleanup
            writer.commit()
        except BaseException as exc:
            writer.abort()
            # Named as the file being written and the setting that put the lake there.
            raise_if_disk_full(exc, path=writer.current or self.table_path(asset, ""), target=f"BUA_LAKE={self.base}")
            raise

    @contextmanager
    def staging_writer(self, asset: str, partition: str, name: str) -> Iterator[PartitionWriter]:
        """Write files of a partition for someone else to commit (``commit_staged``): after the
        block, ``writer.staged`` lists them; on a failure they are deleted. ``name`` leads the
        files' names, so the month's files are read in the order of their writers' names."""
        writer = PartitionWriter(self, asset, partition, writer_id=f"{name}-{uuid.uuid4().hex}")
        try:
            yield writer
            writer.close()
            writer.staged = writer.files()
        except BaseException as exc:
            writer.abort()
            raise_if_disk_full(exc, path=writer.current or self.table_path(asset, ""), target=f"BUA_LAKE={self.base}")
            raise

    def commit_staged(
        self,
        asset: str,
        partition: str,
        staged: list[StagedFile],
        writer_id: str,
        schemas: dict[str, pa.Schema] | None = None,
    ) -> None:
        """Replace the month of each dataset in ``staged`` by its files (from any number of
        writers) in one Delta commit per dataset, the dataset named like the asset last: what
        callers check for "the month is done" (``exists(asset, month, asset)``) turns true only
        once the others are committed. Tables of the asset ``staged`` has no file of lose the
        month (as a folder swap would). ``schemas``: each dataset's, else read from the files."""
        by_dataset: dict[str, list[StagedFile]] = {}
        for f in staged:
            by_dataset.setdefault(f.dataset, []).append(f)
        for dataset in sorted(by_dataset, key=lambda d: d == asset):
            files = by_dataset[dataset]
            schema = schemas[dataset] if schemas and dataset in schemas else self.staged_schema(asset, dataset, files)
            self.commit_partition(
                asset, dataset, partition, [f.add_action(partition) for f in files], schema, writer_id
            )
        for dataset in [*self.tables(asset), FILES_TABLE]:
            if dataset not in by_dataset and self.files(asset, partition, dataset):
                schema = self.table(asset, dataset).schema().to_arrow()  # type: ignore[union-attr]
                self.commit_partition(asset, dataset, partition, [], pa.schema(schema), writer_id)

    def staged_schema(self, asset: str, dataset: str, files: list[StagedFile]) -> pa.Schema:
        """The schema the staged files of a dataset share (an empty one's nulls taking the others' types)."""
        schemas = [pq.read_schema(f"{self.table_path(asset, dataset)}/{f.path}", filesystem=self._fs) for f in files]
        return pa.unify_schemas(schemas, promote_options="permissive")

    def put_staging(self, asset: str, partition: str, batch: str, name: str, document: dict) -> None:
        """A writer's note (JSON) for whoever commits ``batch`` of the partition."""
        folder = f"{self._staging(asset, partition)}/{batch}"
        self._fs.create_dir(folder, recursive=True)
        with self._fs.open_output_stream(f"{folder}/{name}.json") as out:
            out.write(json.dumps(document).encode())

    def staging(self, asset: str, partition: str, batch: str) -> dict[str, dict]:
        """The notes of ``batch`` of the partition: name -> document."""
        selector = pafs.FileSelector(f"{self._staging(asset, partition)}/{batch}", allow_not_found=True)
        found = {}
        for info in self._fs.get_file_info(selector):
            if info.type == pafs.FileType.File and info.base_name.endswith(".json"):
                with self._fs.open_input_stream(info.path) as f:
                    found[info.base_name.removesuffix(".json")] = json.loads(f.read())
        return found

    def drop_staging(self, asset: str, partition: str, batch: str) -> None:
        folder = f"{self._staging(asset, partition)}/{batch}"
        if self._fs.get_file_info(folder).type == pafs.FileType.Directory:
            self._fs.delete_dir(folder)

    def _staging(self, asset: str, partition: str) -> str:
        return f"{self._root}/{asset}/{STAGING}/{partition}"

    def _table_config(self) -> dict[str, str]:
        days = f"interval {self.retention_days} days"
        return {"delta.logRetentionDuration": days, "delta.deletedFileRetentionDuration": days}

    def commit_partition(
        self, asset: str, dataset: str, partition: str, adds: list[AddAction], schema: pa.Schema, writer_id: str
    ) -> None:
        """Replace one month of a table by ``adds`` (files already written) in one Delta commit."""
        schema = _delta_schema(schema)
        metadata = CommitProperties(
            custom_metadata={"bua_asset": asset, "bua_partition": partition, "bua_writer": writer_id}
        )
        table = self.table(asset, dataset)
        if table is None:
            try:
                create_table_with_add_actions(
                    self.table_uri(asset, dataset),
                    Schema.from_arrow(schema),
                    adds,
                    mode="error",
                    partition_by=[PARTITION_COLUMN],
                    configuration=dict[str, str | None](self._table_config()),
                    storage_options=self._storage_options,
                    commit_properties=metadata,
                )
                return
            except DeltaError:
                table = self.table(asset, dataset)  # another month's writer created it just now
                if table is None:
                    raise
        try:
            current = pa.schema(table.schema().to_arrow())
            schema = pa.unify_schemas([schema, current], promote_options="permissive")  # columns of other months kept
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
            pass  # incompatible with the other months: this month's schema is the table's from now on
        table.create_write_transaction(
            list[AddAction | RemoveAction](adds),
            "overwrite",
            schema,
            partition_by=[PARTITION_COLUMN],
            partition_filters=[(PARTITION_COLUMN, "=", partition)],
            commit_properties=metadata,
        )

    # Housekeeping ----------------------------------------------------------------------------

    def vacuum(self, now: datetime | None = None) -> dict[str, int]:
        """Delete what no version of the audit period still needs: files removed (or written by a
        crashed commit and never referenced) more than ``retention_days`` ago, log entries older
        than that, and superseded ``_files`` folders. Table -> files deleted."""
        now = now or datetime.now(UTC)
        deleted: dict[str, int] = {}
        for asset in self.assets():
            for dataset in [*self.tables(asset), FILES_TABLE]:
                table = self.table(asset, dataset)
                if table is None:
                    continue
                if table.metadata().configuration != self._table_config():
                    table.alter.set_table_properties(self._table_config(), raise_if_not_exists=False)
                # full: also files no log entry names (a commit that never landed), not only removed ones.
                gone = table.vacuum(
                    retention_hours=self.retention_days * 24,
                    dry_run=False,
                    enforce_retention_duration=False,
                    full=True,
                )
                table.cleanup_metadata()  # log entries past delta.logRetentionDuration
                if dataset == FILES_TABLE:
                    gone = [*gone, *self._vacuum_blobs(asset, table, now)]
                if gone:
                    deleted[f"{asset}/{dataset}"] = len(gone)
            notes = self._vacuum_staging(asset, now)
            if notes:
                deleted[f"{asset}/{STAGING}"] = len(notes)
        return deleted

    def _vacuum_staging(self, asset: str, now: datetime) -> list[str]:
        """Staging notes older than the retention: those of runs that never committed (their
        staged Parquet files no version names, so the tables' vacuum deletes them)."""
        cutoff = (now - timedelta(days=self.retention_days)).timestamp()
        selector = pafs.FileSelector(f"{self._root}/{asset}/{STAGING}", recursive=True, allow_not_found=True)
        removed = []
        for info in self._fs.get_file_info(selector):
            if info.type == pafs.FileType.File and info.mtime is not None and info.mtime.timestamp() < cutoff:
                self._fs.delete_file(info.path)
                removed.append(info.path)
        return removed

    def _vacuum_blobs(self, asset: str, table: DeltaTable, now: datetime) -> list[str]:
        """Blob folders no version of the audit period lists (nor a write in progress: too new).
        The period's versions are the newest down to the first committed before the cutoff (the
        one current at the cutoff)."""
        cutoff_ms = (now - timedelta(days=self.retention_days)).timestamp() * 1000
        referenced = set()
        for version in range(table.version(), -1, -1):
            for files in self.partitions(asset, FILES_TABLE, version).values():
                for path in files:
                    listing = pq.read_table(path, filesystem=self._fs, columns=["location"])
                    referenced.update(listing["location"].to_pylist())
            committed = self._commit_time_ms(asset, FILES_TABLE, version)
            if committed is None or committed < cutoff_ms:
                break
        blobs = f"{self.table_path(asset, FILES_TABLE)}/_blobs"
        removed = []
        for info in self._fs.get_file_info(pafs.FileSelector(blobs, recursive=True, allow_not_found=True)):
            if info.type != pafs.FileType.File or info.path in referenced:
                continue
            if info.mtime is not None and info.mtime.timestamp() * 1000 >= cutoff_ms:
                continue
            self._fs.delete_file(info.path)
            removed.append(info.path)
        return removed

    def _commit_time_ms(self, asset: str, dataset: str, version: int) -> float | None:
        """When a version was committed (its log entry's commitInfo); None once the log entry is gone.
        Read here because delta-rs's history() lists the log in a way the S3 stand-in never answers."""
        path = f"{self.table_path(asset, dataset)}/_delta_log/{version:020d}.json"
        try:
            with self._fs.open_input_stream(path) as f:
                lines = f.read().decode().splitlines()
        except FileNotFoundError:
            return None
        for line in lines:
            entry = json.loads(line)
            if "commitInfo" in entry:
                return float(entry["commitInfo"].get("timestamp", 0))
        return None


def _delta_schema(schema: pa.Schema) -> pa.Schema:
    """The table schema Delta records: the files' columns in the nearest type Delta has (see
    ``_delta_type``) and the partition column, which lives in the path, not in the files."""
    fields = [pa.field(f.name, _delta_type(f.type), f.nullable) for f in schema if f.name != PARTITION_COLUMN]
    return pa.schema([*fields, pa.field(PARTITION_COLUMN, pa.string())])


def _delta_type(t: pa.DataType) -> pa.DataType:  # noqa: C901 - one case per Arrow type family Delta lacks
    """Delta's log has fewer types than Parquet: timestamps are microseconds, integers signed, no
    null/time/duration/dictionary types. The files keep their own types (what this project's
    readers read); the log gets the type a Delta reader reads them as."""
    if pa.types.is_null(t) or pa.types.is_time(t):
        return pa.string()
    if pa.types.is_timestamp(t):
        return pa.timestamp("us", tz=t.tz)
    if pa.types.is_date64(t):
        return pa.date32()
    if pa.types.is_duration(t):
        return pa.int64()
    if pa.types.is_float16(t):
        return pa.float32()
    if pa.types.is_dictionary(t):
        return _delta_type(t.value_type)
    if pa.types.is_unsigned_integer(t):
        return {8: pa.int16(), 16: pa.int32(), 32: pa.int64()}.get(t.bit_width, pa.decimal128(20, 0))
    if pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return pa.string()
    if pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t) or pa.types.is_binary_view(t):
        return pa.binary()
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return pa.list_(_delta_type(t.value_type))
    if pa.types.is_struct(t):
        return pa.struct([pa.field(f.name, _delta_type(f.type), f.nullable) for f in t])
    if pa.types.is_map(t):
        return pa.map_(_delta_type(t.key_type), _delta_type(t.item_type))
    return t


class DatasetWriter(Protocol):
    """What a step writes a month's datasets through: a PartitionWriter, or a wrapper of one (the
    anonymiser)."""

    def write(self, dataset: str, table: pa.Table) -> None: ...
    def write_batch(self, dataset: str, batch: pa.RecordBatch) -> None: ...
    def ensure(self, dataset: str, schema: pa.Schema) -> None: ...


class PartitionWriter:
    def __init__(self, lake: Lake, asset: str, partition: str, writer_id: str | None = None):
        self._lake = lake
        self._fs = lake.filesystem
        self._asset = asset
        self._partition = partition
        self.id = writer_id or uuid.uuid4().hex
        self._open: dict[str, pq.ParquetWriter] = {}
        self._paths: dict[str, str] = {}  # dataset -> its new file, relative to the table
        self._schemas: dict[str, pa.Schema] = {}
        self._blobs: dict[str, str] = {}  # relative path -> location
        self._committing = False  # from the first commit on, a file may be named by a version
        self.rows: dict[str, int] = {}
        self.current: str | None = None  # the file being written (a full disk names it)
        self.staged: list[StagedFile] = []  # a staging writer's files, once written (Lake.staging_writer)

    def write(self, dataset: str, table: pa.Table) -> None:
        """Write a whole dataset (or append a batch to one opened by an earlier call)."""
        if dataset in RESERVED or dataset.startswith("."):
            raise ValueError(f"{dataset!r} is reserved in the lake, not a dataset name")
        if dataset not in self._open:
            relative = f"{PARTITION_COLUMN}={self._partition}/part-{self.id}.zstd.parquet"
            folder = self._lake.table_path(self._asset, dataset)
            self._fs.create_dir(f"{folder}/{PARTITION_COLUMN}={self._partition}", recursive=True)
            self._paths[dataset] = relative
            self._schemas[dataset] = table.schema
            self.current = f"{folder}/{relative}"
            self._open[dataset] = pq.ParquetWriter(self.current, table.schema, filesystem=self._fs, compression="zstd")
            self.rows[dataset] = 0
        self.current = f"{self._lake.table_path(self._asset, dataset)}/{self._paths[dataset]}"
        self._open[dataset].write_table(table)
        self.rows[dataset] += table.num_rows

    def write_batch(self, dataset: str, batch: pa.RecordBatch) -> None:
        self.write(dataset, pa.Table.from_batches([batch]))

    def write_file(self, relative_path: str, data: bytes) -> None:
        """A non-Parquet file (e.g. a NEM12 CSV) of the partition, replaced with it."""
        location = (
            f"{self._lake.table_path(self._asset, FILES_TABLE)}/_blobs/{self._partition}/{self.id}/{relative_path}"
        )
        self._fs.create_dir(location.rsplit("/", 1)[0], recursive=True)
        with self._fs.open_output_stream(location) as out:
            out.write(data)
        self._blobs[relative_path] = location

    def ensure(self, dataset: str, schema: pa.Schema) -> None:
        """Make sure the dataset exists even when no rows were written (an empty, typed file)."""
        if dataset not in self._open:
            self.write(dataset, schema.empty_table())

    def close(self) -> None:
        try:
            for dataset, w in self._open.items():
                self.current = f"{self._lake.table_path(self._asset, dataset)}/{self._paths[dataset]}"
                w.close()
        finally:
            self._open.clear()

    def commit(self) -> None:
        """Every file is written: replace the month in each table, one Delta commit per table."""
        self._committing = True
        if self._blobs:
            listing = pa.table({"path": list(self._blobs), "location": list(self._blobs.values())})
            self._write_small(FILES_TABLE, listing)
        self._lake.commit_staged(self._asset, self._partition, self.files(), self.id, self._schemas)

    def files(self) -> list[StagedFile]:
        """What this writer wrote, in the order it started each dataset (all closed)."""
        return [
            StagedFile(
                dataset,
                relative,
                self.rows[dataset],
                self._fs.get_file_info(f"{self._lake.table_path(self._asset, dataset)}/{relative}").size or 0,
            )
            for dataset, relative in self._paths.items()
        ]

    def _write_small(self, dataset: str, table: pa.Table) -> None:
        relative = f"{PARTITION_COLUMN}={self._partition}/part-{self.id}.zstd.parquet"
        folder = self._lake.table_path(self._asset, dataset)
        self._fs.create_dir(f"{folder}/{PARTITION_COLUMN}={self._partition}", recursive=True)
        pq.write_table(table, f"{folder}/{relative}", filesystem=self._fs, compression="zstd")
        self._paths[dataset] = relative
        self._schemas[dataset] = table.schema
        self.rows[dataset] = table.num_rows

    def abort(self) -> None:
        """After a failure: close every open file (ignoring the errors closing them raises again)
        and, when the failure came before any commit, delete what this writer wrote (no version
        names it). Whatever is not deleted now, vacuum deletes after the retention."""
        for w in self._open.values():
            try:
                w.close()
            except Exception:  # noqa: BLE001 - the write already failed; its files go next
                pass
        self._open.clear()
        if self._committing:
            return  # a commit may have landed even if it raised: only vacuum may delete from here on
        written = [f"{self._lake.table_path(self._asset, d)}/{r}" for d, r in self._paths.items()]
        for path in [*written, *self._blobs.values()]:
            try:
                self._fs.delete_file(path)
            except (OSError, FileNotFoundError):
                pass  # unreachable or never created: the original error is what matters
        # The folders this writer created, deepest first, if nothing else is in them (a table never
        # committed leaves no trace).
        folders = {p.rsplit("/", n)[0] for p in written for n in (1, 2)}
        folders |= {p.rsplit("/", n)[0] for p in self._blobs.values() for n in range(1, p.count("/"))}
        root_of_asset = f"{self._lake.root}/{self._asset}"
        for folder in sorted((f for f in folders if f.startswith(f"{root_of_asset}/")), key=len, reverse=True):
            try:
                if not self._fs.get_file_info(pafs.FileSelector(folder, allow_not_found=True)):
                    self._fs.delete_dir(folder)
            except OSError:
                pass
