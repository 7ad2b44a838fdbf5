"""Counted node-group capacity: heavy steps hold leases in a DynamoDB table, and the node group
goes back to zero only when the last unexpired lease is released.

Why a lock as well as leases: "no lease left, scale to 0" and "take a lease, the group is already
up" race when done by two steps at once (the first scales to 0 under the second). Every change of
the lease set together with its scaling decision is therefore made while holding one ``#scaler``
item per node group, taken with a conditional write; it expires too, so a process killed while
holding it blocks the others for at most ``lock_seconds``.

Table (created by the deployment): partition key ``nodegroup`` (S), sort key ``lease`` (S); the
items carry ``expires_at`` (epoch seconds, N), usable as the table's TTL attribute. A lease is
renewed while its step runs; a step that crashed stops renewing and its lease stops counting once
expired, so a crash never holds capacity for longer than ``lease_seconds``.

boto3 clients are passed in (any endpoint: AWS, a VPC endpoint, a moto server). No Dagster here.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

LOCK_KEY = "#scaler"


@dataclass(frozen=True)
class NodeGroup:
    cluster: str
    name: str
    nodes: int  # desired size while at least one heavy step holds a lease

    @property
    def key(self) -> str:
        return f"{self.cluster}/{self.name}"


@dataclass(frozen=True)
class LeaseSettings:
    table: str
    lease_seconds: float = 1800.0  # a lease not renewed for this long no longer holds capacity
    lock_seconds: float = 60.0  # the scaler lock of a killed process frees itself after this
    lock_wait_seconds: float = 300.0  # give up taking the scaler lock after this (error, not a hang)
    poll_seconds: float = 0.2


class CapacityLeaseError(RuntimeError):
    pass


def desired_size(eks, group: NodeGroup) -> int:
    config = eks.describe_nodegroup(clusterName=group.cluster, nodegroupName=group.name)["nodegroup"]
    return int(config["scalingConfig"]["desiredSize"])


def set_desired_size(eks, group: NodeGroup, desired: int) -> None:
    eks.update_nodegroup_config(
        clusterName=group.cluster,
        nodegroupName=group.name,
        scalingConfig={"minSize": 0, "maxSize": max(group.nodes, 1), "desiredSize": desired},
    )


class CountedCapacity:
    """Leases on ``group`` in ``settings.table``; ``clock`` is injectable for tests of expiry."""

    def __init__(
        self, dynamodb, eks, group: NodeGroup, settings: LeaseSettings, clock: Callable[[], float] = time.time
    ):
        self.dynamodb, self.eks, self.group, self.settings, self.clock = dynamodb, eks, group, settings, clock

    @contextmanager
    def _scaler_lock(self) -> Iterator[None]:
        owner = uuid.uuid4().hex
        deadline = time.monotonic() + self.settings.lock_wait_seconds
        while True:
            now = self.clock()
            try:
                self.dynamodb.put_item(
                    TableName=self.settings.table,
                    Item={
                        "nodegroup": {"S": self.group.key},
                        "lease": {"S": LOCK_KEY},
                        "owner": {"S": owner},
                        "expires_at": {"N": str(now + self.settings.lock_seconds)},
                    },
                    ConditionExpression="attribute_not_exists(lease) OR expires_at < :now",
                    ExpressionAttributeValues={":now": {"N": str(now)}},
                )
                break
            except self.dynamodb.exceptions.ConditionalCheckFailedException:
                if time.monotonic() > deadline:
                    raise CapacityLeaseError(
                        f"node group {self.group.key}: the scaler lock in DynamoDB table {self.settings.table} "
                        f"was not free within {self.settings.lock_wait_seconds:.0f} s"
                    ) from None
                time.sleep(self.settings.poll_seconds)
        try:
            yield
        finally:
            try:
                self.dynamodb.delete_item(
                    TableName=self.settings.table,
                    Key={"nodegroup": {"S": self.group.key}, "lease": {"S": LOCK_KEY}},
                    ConditionExpression="#owner = :owner",
                    ExpressionAttributeNames={"#owner": "owner"},
                    ExpressionAttributeValues={":owner": {"S": owner}},
                )
            except self.dynamodb.exceptions.ConditionalCheckFailedException:
                pass  # it expired and another process holds it now: not ours to delete

    def live_leases(self) -> list[str]:
        """The ids of the unexpired leases on the node group (strongly consistent)."""
        pages = self.dynamodb.get_paginator("query").paginate(
            TableName=self.settings.table,
            ConsistentRead=True,
            KeyConditionExpression="nodegroup = :group",
            FilterExpression="expires_at > :now AND lease <> :lock",
            ExpressionAttributeValues={
                ":group": {"S": self.group.key},
                ":now": {"N": str(self.clock())},
                ":lock": {"S": LOCK_KEY},
            },
        )
        return [item["lease"]["S"] for page in pages for item in page.get("Items", [])]

    def acquire(self, holder: str) -> str:
        """Take a lease for ``holder`` (a step, for the record) and make sure the group is up."""
        lease = f"{holder}:{uuid.uuid4().hex}"
        with self._scaler_lock():
            self.dynamodb.put_item(
                TableName=self.settings.table,
                Item={
                    "nodegroup": {"S": self.group.key},
                    "lease": {"S": lease},
                    "expires_at": {"N": str(self.clock() + self.settings.lease_seconds)},
                },
                ConditionExpression="attribute_not_exists(lease)",
            )
            try:
                if desired_size(self.eks, self.group) < self.group.nodes:
                    set_desired_size(self.eks, self.group, self.group.nodes)
            except BaseException:
                # Not up: the lease must not keep the group from going to zero for its whole life.
                self._delete(lease)
                raise
        return lease

    def _delete(self, lease: str) -> None:
        self.dynamodb.delete_item(
            TableName=self.settings.table, Key={"nodegroup": {"S": self.group.key}, "lease": {"S": lease}}
        )

    def renew(self, lease: str) -> None:
        self.dynamodb.update_item(
            TableName=self.settings.table,
            Key={"nodegroup": {"S": self.group.key}, "lease": {"S": lease}},
            UpdateExpression="SET expires_at = :expires",
            ConditionExpression="attribute_exists(lease)",
            ExpressionAttributeValues={":expires": {"N": str(self.clock() + self.settings.lease_seconds)}},
        )

    def release(self, lease: str) -> bool:
        """Drop ``lease``; scale the group to 0 when no unexpired lease remains. True when it did."""
        with self._scaler_lock():
            self._delete(lease)
            if self.live_leases():
                return False
            set_desired_size(self.eks, self.group, 0)
            return True

    @contextmanager
    def held(self, holder: str, on_release_error: Callable[[Exception], None] | None = None) -> Iterator[str]:
        """A lease for the duration of the block, renewed in the background, released even on failure.
        ``on_release_error``: told instead of raising when the release fails (the step's own outcome
        stands; the lease then expires and the next release scales down)."""
        lease = self.acquire(holder)
        stop = threading.Event()

        def keep_renewing() -> None:
            while not stop.wait(self.settings.lease_seconds / 3):
                try:
                    self.renew(lease)
                except Exception:  # noqa: BLE001 - a missed renewal is retried; expiry is the backstop
                    continue

        renewer = threading.Thread(target=keep_renewing, name=f"lease-{lease}", daemon=True)
        renewer.start()
        try:
            yield lease
        finally:
            stop.set()
            renewer.join()
            try:
                self.release(lease)
            except Exception as exc:
                if on_release_error is None:
                    raise
                on_release_error(exc)
