"""The leader-election loop: reads and writes the Lease through the API server every retry
period, with the decisions of ``impl.controllers.leaderelection``.

``Elector.run_until_leader`` blocks until this candidate holds the Lease (or ``stop``);
afterwards ``renew_forever`` keeps renewing it in a daemon thread and sets ``lost`` when a
renewal did not succeed within the renew deadline, and sets ``stop``: the manager exits, as
kube-controller-manager does ("leaderelection lost").
"""

from __future__ import annotations

import datetime
import threading
import time
from collections.abc import Callable
from typing import Any

from impl.controllers import leaderelection as le
from runner.apiserver.client import ApiClient, Endpoint


def micro_time(unix_seconds: float) -> str:
    """``metav1.MicroTime`` text: RFC 3339 in UTC with microseconds."""
    moment = datetime.datetime.fromtimestamp(unix_seconds, datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _record(lease: dict[str, Any]) -> le.LeaseRecord:
    spec = lease.get("spec") or {}
    return le.LeaseRecord(
        holder=str(spec.get("holderIdentity") or ""),
        duration_seconds=int(spec.get("leaseDurationSeconds") or 0),
        acquire_time=str(spec.get("acquireTime") or ""),
        renew_time=str(spec.get("renewTime") or ""),
        transitions=int(spec.get("leaseTransitions") or 0),
    )


def _spec(record: le.LeaseRecord) -> dict[str, Any]:
    return {
        "holderIdentity": record.holder,
        "leaseDurationSeconds": record.duration_seconds,
        "acquireTime": record.acquire_time,
        "renewTime": record.renew_time,
        "leaseTransitions": record.transitions,
    }


class Elector:
    def __init__(
        self,
        endpoint: Endpoint,
        config: le.ElectionConfig,
        on_status: Callable[[bool], None],
    ) -> None:
        self.config = config
        self.client = ApiClient(endpoint)
        self.on_status = on_status
        self.observation = le.Observation()
        self.lost = threading.Event()
        self.last_renewed_ms = 0

    @property
    def path(self) -> str:
        return (
            f"/apis/coordination.k8s.io/v1/namespaces/{self.config.namespace}/leases/"
            f"{self.config.name}"
        )

    def try_acquire_or_renew(self) -> bool:
        now_ms = int(time.monotonic() * 1000)
        status, body = self.client.request("GET", self.path)
        if status == 404:
            current = None
        elif status == 200 and isinstance(body, dict):
            current = _record(body)
        else:
            return False
        self.observation = le.observe(self.observation, current, now_ms)
        decision = le.decide(
            self.config, self.observation, current, now_ms, micro_time(time.time())
        )
        lease: dict[str, Any] = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": self.config.name, "namespace": self.config.namespace},
        }
        if isinstance(decision, le.Wait):
            return False
        lease["spec"] = _spec(decision.record)
        if isinstance(decision, le.Create):
            collection = self.path.rsplit("/", 1)[0]
            status, _ = self.client.request("POST", collection, lease)
        else:
            assert isinstance(body, dict)
            lease["metadata"]["resourceVersion"] = body["metadata"]["resourceVersion"]
            status, _ = self.client.request("PUT", self.path, lease)
        if status not in (200, 201):
            return False
        self.observation = le.Observation(record=decision.record, observed_ms=now_ms)
        self.last_renewed_ms = now_ms
        return True

    def run_until_leader(self, stop: threading.Event) -> bool:
        while not stop.is_set():
            if self.try_acquire_or_renew():
                self.on_status(True)
                return True
            # client-go's JitterUntil with factor 1.2.
            stop.wait(self.config.retry_period_ms / 1000 * 1.1)
        return False

    def renew_forever(self, stop: threading.Event) -> threading.Thread:
        def loop() -> None:
            while not stop.is_set():
                stop.wait(self.config.retry_period_ms / 1000)
                if stop.is_set() or self.try_acquire_or_renew():
                    continue
                if le.lost(self.config, self.last_renewed_ms, int(time.monotonic() * 1000)):
                    self.on_status(False)
                    self.lost.set()
                    stop.set()
                    return

        thread = threading.Thread(target=loop, daemon=True, name="leader-election")
        thread.start()
        return thread
