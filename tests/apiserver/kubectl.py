"""Running ``kubeoracle serve apiserver`` and the machine's real kubectl against it."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import msgspec
import pytest

from runner.etcd.cluster import LocalEtcdCluster

KUBECTL = "/usr/bin/kubectl"
START_TIMEOUT_SECONDS = 30


class Served(msgspec.Struct, kw_only=True):
    """A running server: its URL, kubeconfig and process."""

    url: str
    kubeconfig: Path
    cache: Path
    process: subprocess.Popen[str]
    etcd: str = ""
    """The real etcd's client URL when the server stores there."""


STORES = ("reference-etcd", "real-etcd")
"""The stores every kubectl and client test runs on: the in-process reference etcd, and a real
etcd 3.4 (Debian's etcd-server) started for the module."""


@contextmanager
def serve_on(store: str, tmp: Path, *extra: str) -> Iterator[Served]:
    """``serve`` on the named store (see ``STORES``)."""
    if store == "reference-etcd":
        with serve(tmp, *extra) as served:
            yield served
        return
    cluster = LocalEtcdCluster(1)
    try:
        cluster.start()
        with serve(tmp, "--etcd-servers", cluster.endpoints[0], *extra) as served:
            served.etcd = cluster.endpoints[0]
            yield served
    finally:
        cluster.stop()


@contextmanager
def serve(tmp: Path, *extra: str) -> Iterator[Served]:
    """``kubeoracle serve apiserver --insecure-port 0 --write-kubeconfig`` until the block ends
    (then SIGTERM, as a user's Ctrl-C or a service manager would stop it)."""
    kubeconfig = tmp / "kubeconfig"
    command = [
        sys.executable,
        "-X",
        "faulthandler",
        "-m",
        "runner",
        "serve",
        "apiserver",
        "--insecure-port",
        "0",
        "--write-kubeconfig",
        str(kubeconfig),
        *extra,
    ]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=(tmp / "server.log").open("w"), text=True
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if "listening on" not in line:
        process.kill()
        pytest.fail(f"the server did not start: {line!r} {(tmp / 'server.log').read_text()}")
    served = Served(
        url=line.rsplit(" ", 1)[-1].strip(),
        kubeconfig=kubeconfig,
        cache=tmp / "kube-cache",
        process=process,
    )
    try:
        yield served
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def kubectl(
    served: Served, *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run kubectl against ``served`` with its own discovery cache."""
    command = [KUBECTL, "--kubeconfig", str(served.kubeconfig), "--cache-dir", str(served.cache)]
    environment = {"PATH": os.environ.get("PATH", ""), "HOME": str(served.cache.parent)}
    environment.update(env or {})
    return subprocess.run(
        [*command, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env=environment,
        check=False,
    )


def have_kubectl() -> bool:
    return shutil.which(KUBECTL) is not None


def require_kubectl() -> None:
    """Fail, loudly and never by skipping, when the real kubectl is missing: the kubectl tiers
    need it at /usr/bin/kubectl."""
    if not have_kubectl():
        pytest.fail(f"{KUBECTL} is missing: the kubectl tests need the real kubectl", pytrace=False)
