from __future__ import annotations

import os
from pathlib import Path

from boto3.exceptions import Boto3Error
from botocore.exceptions import BotoCoreError, ClientError

from bua_assets.nem12.folder import MonthEntries, Unread, local_month_entries
from bua_assets.nem12.ingest import DEFAULT_PEAK_FLOOR_KW, DEFAULT_PEAK_RATIO
from bua_assets.nem12.reader import DEFAULT_MAX_DEMAND_KW
from bua_assets.resources.aws import AwsResource
from bua_assets.settings import DEFAULT_PARTICIPANT_ID


class MeterDataResource(AwsResource):
    """NEM12 files from meter data providers, one folder per month: ``<location>/<YYYY-MM>/``
    (every file in it is read, at any depth; what cannot be read is named: ``month_entries``).

    ``location`` is a directory or ``s3://bucket/prefix`` (files are fetched to a local cache; the
    S3 connection is the AwsResource fields: ``endpoint_url``, ``region_name``).
    ``max_demand_kw`` (BUA_MAX_DEMAND_KW): the average demand no register can reach; a
    register-day with an interval value above it (x interval length) is quarantined.
    ``peak_ratio`` (BUA_PEAK_RATIO) and ``peak_floor_kw`` (BUA_PEAK_FLOOR_KW): below that ceiling a
    register-day whose peak is more than ``peak_ratio`` times the register's peak on its other days
    this month and last month (and than ``peak_floor_kw``) is quarantined as ``implausible_peak``.
    ``min_delivery_share`` (BUA_MIN_DELIVERY_SHARE): a provider delivering fewer register-days
    than this share of last month's gets a WARN (the ``meter_data_deliveries`` check).
    """

    location: str
    cache_dir: str = os.path.join(os.path.expanduser("~"), ".cache", "bua-nem12")
    max_demand_kw: float = DEFAULT_MAX_DEMAND_KW
    peak_ratio: float = DEFAULT_PEAK_RATIO
    peak_floor_kw: float = DEFAULT_PEAK_FLOOR_KW
    min_delivery_share: float = 0.5
    participant_id: str = DEFAULT_PARTICIPANT_ID  # the recipient named in the NEM12 files we write (BUA_PARTICIPANT_ID)

    def month_entries(self, month: str) -> MonthEntries:
        """Every entry of the month's folder (``YYYY-MM``): the files to read, as (local path,
        source location) sorted by source, and the entries not read, with the reason
        (nem12.folder). Local folder and S3 alike: every file at any depth is read (on S3, every
        key under the month's prefix but folder markers); an S3 object that cannot be fetched is
        an ``unreadable_entry``."""
        if self.location.startswith("s3://"):
            return self._s3_month_entries(month)
        return local_month_entries(Path(self.location) / month)

    def has_month(self, month: str) -> bool:
        """Whether the month's folder holds anything (what ``month_entries`` would name), without
        fetching it: on S3 a listing only. The history backfill asks it of every month of the
        profile window before any run reads one."""
        if not self.location.startswith("s3://"):
            return bool(local_month_entries(Path(self.location) / month))
        return any(True for _ in self._s3_objects(month))

    def _s3_objects(self, month: str):
        """(bucket, object) of every key under the month's prefix but folder markers (the keys
        under a marker are listed themselves), page by page."""
        bucket, _, prefix = self.location[5:].partition("/")
        key_prefix = f"{prefix.strip('/')}/{month}/".lstrip("/")
        for page in self.s3_client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key_prefix):
            for obj in page.get("Contents", []):
                if not obj["Key"].endswith("/"):
                    yield bucket, obj

    def _s3_month_entries(self, month: str) -> MonthEntries:
        s3 = self.s3_client()
        out = MonthEntries()
        for bucket, obj in self._s3_objects(month):
            source = f"s3://{bucket}/{obj['Key']}"
            target = Path(self.cache_dir) / bucket / obj["Key"]
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                s3.download_file(bucket, obj["Key"], str(target))
            except (Boto3Error, BotoCoreError, ClientError, OSError) as exc:
                out.unread.append(Unread(source, "unreadable_entry", f"cannot be fetched from S3: {exc}"))
                continue
            out.files.append((target, source))
        out.files.sort(key=lambda f: f[1])
        out.unread.sort()
        return out
