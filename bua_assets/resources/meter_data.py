from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import dagster as dg


class MeterDataResource(dg.ConfigurableResource):
    """NEM12 files from meter data providers, one folder per month: ``<location>/<YYYY-MM>/``.

    ``location`` is a directory or ``s3://bucket/prefix`` (files are fetched to a local cache).
    """

    location: str
    s3_endpoint_url: Optional[str] = None
    cache_dir: str = os.path.join(os.path.expanduser("~"), ".cache", "bua-nem12")

    def month_files(self, month: str) -> list[tuple[Path, str]]:
        """The month's NEM12 files (plain or zipped) as (local path, source location), sorted by name."""
        if self.location.startswith("s3://"):
            return self._s3_month_files(month)
        folder = Path(self.location) / month
        if not folder.is_dir():
            return []
        return sorted((p, str(p)) for p in folder.iterdir()
                      if p.is_file() and p.suffix.lower() in (".csv", ".zip", ".txt"))

    def _s3_month_files(self, month: str) -> list[tuple[Path, str]]:
        import boto3

        bucket, _, prefix = self.location[5:].partition("/")
        s3 = boto3.client("s3", endpoint_url=self.s3_endpoint_url)
        key_prefix = f"{prefix.strip('/')}/{month}/".lstrip("/")
        out = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key_prefix):
            for obj in page.get("Contents", []):
                target = Path(self.cache_dir) / bucket / obj["Key"]
                target.parent.mkdir(parents=True, exist_ok=True)
                s3.download_file(bucket, obj["Key"], str(target))
                out.append((target, f"s3://{bucket}/{obj['Key']}"))
        return sorted(out)
