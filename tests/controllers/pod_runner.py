"""A stand-in for scheduler and kubelets over HTTP (until the kubelet issue runs real ones):
a thread that keeps binding new pods, marking them Running and Ready, and finishing deleted
ones, with ``runner.controllers.fixture``'s writes."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from models.controllers.messages import ApiCall
from runner.apiserver.client import ApiClient, Endpoint
from runner.controllers import fixture
from runner.served.rest import RestClient

PERIOD_SECONDS = 0.1


class PodRunner:
    def __init__(self, url: str) -> None:
        self.endpoint = Endpoint(url=url)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name="pod-runner")

    def __enter__(self) -> PodRunner:
        client = ApiClient(self.endpoint)
        status, _ = client.request("POST", "/api/v1/nodes", fixture.node_object())
        client.close()
        assert status in (201, 409), status
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self.thread.join(timeout=10)

    def _run(self) -> None:
        lister = ApiClient(self.endpoint)
        writer = RestClient(self.endpoint)

        def call(method: str, path: str, body: Any, content_type: str) -> Any:
            return writer.send(
                ApiCall(
                    method=method,
                    path=path,
                    content_type=content_type,
                    body=json.dumps(body).encode(),
                )
            )

        while not self.stopped.wait(PERIOD_SECONDS):
            status, listed = lister.request("GET", "/api/v1/pods")
            if status != 200:
                continue
            for index, pod in enumerate(fixture.pods_needing_work(listed.get("items") or ())):
                fixture.act(call, pod, int(time.time()), index)
        lister.close()
        writer.close()
