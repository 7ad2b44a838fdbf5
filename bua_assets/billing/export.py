"""The month's CSV export (DESIGN §5.7): to ``<export base>/export/csv/<run_date>/``, then copied to
``<integration base>/ADH/OUTBOUND/BUA/``, on local disk or S3.

A reader trusts only what a manifest lists (files, row counts, SHA-256), and the manifest is
always written last. In the integration prefix a re-run first withdraws the month's manifest,
then removes the month's earlier files, copies the new ones and writes the manifest: a failure
anywhere leaves no manifest for the month (never a partial export that looks complete), and the
next run completes it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from bua_assets.disk_full import raise_if_disk_full

INTEGRATION_PREFIX = "ADH/OUTBOUND/BUA"


class Target:
    """A folder on local disk or an S3 prefix: the four operations the export needs."""

    def __init__(
        self,
        base: str,
        s3_endpoint_url: str | None = None,
        *,
        s3: Callable[[], Any] | None = None,
        setting: str = "",
    ):
        """``s3``: makes the S3 client (the ExportResource's, with its connection); without it a
        plain boto3 client on ``s3_endpoint_url``. ``setting``: the variable that configures
        ``base`` (``BUA_EXPORT_BASE``), named with it in a disk-full error."""
        self.base = base.rstrip("/")
        self.setting = setting
        u = urlparse(self.base)
        self._s3 = None
        if u.scheme == "s3":
            if s3 is None:
                import boto3

                self._s3 = boto3.client("s3", endpoint_url=s3_endpoint_url)
            else:
                self._s3 = s3()
            self._bucket, self._prefix = u.netloc, u.path.strip("/")

    def _key(self, name: str) -> str:
        return f"{self._prefix}/{name}".lstrip("/")

    def uri(self, name: str) -> str:
        return f"{self.base}/{name}"

    def put(self, name: str, data: bytes) -> None:
        if self._s3:
            self._s3.put_object(Bucket=self._bucket, Key=self._key(name), Body=data)
        else:
            path = Path(self.base) / name
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.tmp")
            try:
                tmp.write_bytes(data)
                tmp.replace(path)  # a reader never sees half a file
            except BaseException as exc:
                tmp.unlink(missing_ok=True)  # a full disk leaves no half-written temporary behind
                raise_if_disk_full(
                    exc, path=str(path), target=f"{self.setting}={self.base}" if self.setting else self.base
                )
                raise

    def get(self, name: str) -> bytes:
        if self._s3:
            return self._s3.get_object(Bucket=self._bucket, Key=self._key(name))["Body"].read()
        return (Path(self.base) / name).read_bytes()

    def list(self, folder: str) -> list[str]:
        """Names (relative to the base) of the files directly in ``folder``."""
        if self._s3:
            pages = self._s3.get_paginator("list_objects_v2").paginate(
                Bucket=self._bucket, Prefix=self._key(folder).rstrip("/") + "/"
            )
            start = len(self._prefix) + 1 if self._prefix else 0
            return sorted(o["Key"][start:] for p in pages for o in p.get("Contents", []))
        d = Path(self.base) / folder
        return sorted(f"{folder}/{p.name}" for p in d.iterdir() if p.is_file()) if d.is_dir() else []

    def delete(self, name: str) -> None:
        if self._s3:
            self._s3.delete_object(Bucket=self._bucket, Key=self._key(name))
        else:
            (Path(self.base) / name).unlink(missing_ok=True)


@dataclass
class ExportFile:
    name: str
    data: bytes
    rows: int


def manifest(files: list[ExportFile], month: str, run_date: str) -> bytes:
    return json.dumps(
        {
            "month": month,
            "run_date": run_date,
            "files": [
                {"name": f.name, "rows": f.rows, "bytes": len(f.data), "sha256": hashlib.sha256(f.data).hexdigest()}
                for f in files
            ],
        },
        indent=2,
    ).encode()


def publish(target: Target, folder: str, files: list[ExportFile], tag: str, manifest_bytes: bytes) -> list[str]:
    """Replace the month's files in ``folder`` (those whose names carry ``tag``), manifest last."""
    manifest_name = f"{folder}/BUA_manifest_{tag}.json"
    target.delete(manifest_name)  # withdrawn first: from here until the end the month is "not ready"
    for name in target.list(folder):
        if tag in name.rsplit("/", 1)[-1] and name != manifest_name:
            target.delete(name)
    for f in files:
        target.put(f"{folder}/{f.name}", f.data)
    target.put(manifest_name, manifest_bytes)
    return [target.uri(f"{folder}/{f.name}") for f in files] + [target.uri(manifest_name)]
