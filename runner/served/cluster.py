"""``kubeoracle serve cluster``: a whole cluster in one command, as kind makes one, out of the
served components, each in its own process exactly as its own ``serve`` verb runs it.

Theory of operation. The supervisor starts, in order:

1. ``serve apiserver`` on the secure port (HTTPS with the generated PKI, RBAC and the admin
   client certificate; its plain port is on loopback with a free port, as the components'
   plumbing needs none of it), writing its admin kubeconfig into the cluster folder; the
   supervisor waits for ``/readyz``;
2. two ``serve controller-manager`` replicas, which contend for the
   ``kube-system/kube-controller-manager`` Lease (one leads, the other stands by);
3. ``serve scheduler`` (the ``kube-system/kube-scheduler`` Lease);
4. ``serve kubelet --nodes N`` (N nodes in one process, simulated or process runtime);
5. ``serve proxy`` for the first node (userspace mode by default: no root needed).

Every component authenticates with the admin's client certificate (kind gives each its own
identity; kubeoracle's RBAC has no ``system:kube-scheduler`` roles yet). Each one's output goes
to ``<folder>/logs/<component>.log``. The cluster is ready when every node is Ready and both
Leases are held; then the admin kubeconfig is copied to ``--write-kubeconfig`` (so a script can
wait for that file) and one line says so.

While it serves, a controller-manager or scheduler process that exits (it does when it loses
its Lease) is started again a second later, as the kubelet restarts kind's static pods; any
other component that exits ends the cluster (exit 1, naming it and the end of its log). On
SIGINT or SIGTERM every component but the API server gets SIGTERM at once, then (once they are
gone) the API server; SIGKILL after ``STOP_SECONDS``; and the supervisor exits 0. The
components run in their own session, so a Ctrl-C at the terminal reaches only the supervisor,
which stops them; on Linux each also gets SIGTERM if the supervisor itself dies
(``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Final

from runner.apiserver.client import (
    ApiClient,
    Endpoint,
    credentials_folder,
    endpoint_from_kubeconfig,
)
from runner.exit_codes import ExitCode
from runner.input_files import write_output

STOP_SECONDS: Final = 10.0
"""How long the components together get to stop after SIGTERM before SIGKILL."""
POLL_SECONDS: Final = 0.25
RESTART_SECONDS: Final = 1.0
LOG_TAIL_LINES: Final = 15
VERB: Final = "kubeoracle serve cluster"


@dataclass
class Component:
    """One process of the cluster: its name, its ``kubeoracle`` arguments, whether it is
    restarted when it exits, and its log."""

    name: str
    argv: list[str]
    restart: bool
    log: Path
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    _log_file: IO[bytes] | None = field(default=None, repr=False)

    def start(self) -> None:
        if self._log_file is None:
            self.log.parent.mkdir(parents=True, exist_ok=True)
            self._log_file = self.log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "runner", *self.argv],
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )

    def describe(self) -> str:
        """``name (pid N)``."""
        pid = self.process.pid if self.process is not None else 0
        return f"{self.name} (pid {pid})"

    def exited(self) -> int | None:
        """The exit code if the process has ended, else None."""
        return None if self.process is None else self.process.poll()

    def terminate(self) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            self.process.wait(timeout=5)

    def close(self) -> None:
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def tail(self) -> str:
        """The last lines of its log."""
        try:
            lines = self.log.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(f"  | {line}" for line in lines[-LOG_TAIL_LINES:])


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the supervisor dies (Linux ``prctl``)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return
    with contextlib.suppress(OSError, AttributeError):
        pr_set_pdeathsig = 1
        ctypes.CDLL(name, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


@dataclass(frozen=True)
class ClusterConfig:
    """What ``serve cluster``'s flags ask for."""

    nodes: int
    runtime: str
    kubeconfig: Path
    folder: Path
    bind_address: str
    secure_port: int
    proxy_mode: str
    proxy_dry_run: bool
    kubelet_port: int
    wait_seconds: float
    node_name_prefix: str = "kubeoracle-node-"
    admission_plugins: tuple[str, ...] = (
        "Priority",
        "DefaultTolerationSeconds",
        "TaintNodesByCondition",
    )


class ClusterError(Exception):
    """A component ended, or the cluster did not become ready, while it should not; ``usage``
    when the API server refused its flags at start-up (a port in use: exit 2)."""

    def __init__(self, message: str, usage: bool = False) -> None:
        super().__init__(message)
        self.usage = usage


def components(config: ClusterConfig, admin: Path) -> list[Component]:
    """Every process of the cluster in start-up order (the API server first)."""
    logs = config.folder / "logs"
    kubeconfig = ["--kubeconfig", str(admin)]
    served = ["--bind-address", "127.0.0.1", "--secure-port", "0"]
    apiserver = [
        "serve",
        "apiserver",
        "--bind-address",
        config.bind_address,
        "--insecure-port",
        "0",
        "--secure-port",
        str(config.secure_port),
        "--cert-dir",
        str(config.folder / "pki"),
        "--write-kubeconfig",
        str(admin),
        "--enable-admission-plugins",
        ",".join(config.admission_plugins),
    ]
    result = [Component("apiserver", apiserver, False, logs / "apiserver.log")]
    for replica in (1, 2):
        name = f"controller-manager-{replica}"
        argv = ["serve", "controller-manager", *kubeconfig, *served, "--controllers", "*"]
        result.append(Component(name, argv, True, logs / f"{name}.log"))
    argv = ["serve", "scheduler", *kubeconfig, *served]
    result.append(Component("scheduler", argv, True, logs / "scheduler.log"))
    kubelet = ["serve", "kubelet", *kubeconfig, "--nodes", str(config.nodes)]
    kubelet += ["--runtime", config.runtime, "--node-name-prefix", config.node_name_prefix]
    if config.runtime == "process":
        kubelet += ["--port", str(config.kubelet_port)]
    result.append(Component("kubelet", kubelet, False, logs / "kubelet.log"))
    if config.proxy_mode != "none":
        proxy = ["serve", "proxy", *kubeconfig, "--mode", config.proxy_mode]
        proxy += ["--hostname-override", f"{config.node_name_prefix}0"]
        proxy += ["--metrics-bind-address", "0"]
        if config.proxy_dry_run:
            proxy.append("--dry-run")
        result.append(Component("proxy", proxy, False, logs / "proxy.log"))
    return result


class Cluster:
    """Starts, watches and stops the components (see the module docstring)."""

    def __init__(self, config: ClusterConfig, say: Callable[[str], None]) -> None:
        self.config = config
        self.say = say
        self.admin = config.folder / "admin.kubeconfig"
        self.components = components(config, self.admin)
        self.stop = threading.Event()

    def serve(self) -> ExitCode:
        """Run until SIGINT/SIGTERM (0) or until a component fails (1)."""
        started = time.monotonic()
        try:
            try:
                with credentials_folder() as folder:
                    endpoint = self._start_apiserver(folder)
                    if endpoint is None:
                        return ExitCode.PASS  # stopped while starting
                    for component in self.components[1:]:
                        component.start()
                    self.say(f"started {', '.join(c.describe() for c in self.components)}")
                    if not self._wait_ready(endpoint, started):
                        return ExitCode.PASS
                self._watch()
            except ClusterError as failure:
                print(f"{VERB}: {failure}", file=sys.stderr, flush=True)
                return ExitCode.USAGE if failure.usage else ExitCode.VIOLATION
            return ExitCode.PASS
        finally:
            self._stop_all()

    # Start-up ---------------------------------------------------------------------------

    def _start_apiserver(self, folder: Path) -> Endpoint | None:
        apiserver = self.components[0]
        self.admin.unlink(missing_ok=True)
        apiserver.start()
        deadline = time.monotonic() + self.config.wait_seconds
        while not self._listening(apiserver):
            self._check(apiserver, usage=apiserver.exited() == ExitCode.USAGE)
            if self.stop.wait(POLL_SECONDS):
                return None
            if time.monotonic() > deadline:
                raise ClusterError(f"the API server did not listen:\n{apiserver.tail()}")
        self._loopback_server()
        endpoint = endpoint_from_kubeconfig(self.admin, folder)
        client = ApiClient(endpoint)
        try:
            while client.request("GET", "/readyz")[0] != 200:
                self._check(apiserver)
                if self.stop.wait(POLL_SECONDS):
                    return None
                if time.monotonic() > deadline:
                    raise ClusterError(f"the API server is not ready:\n{apiserver.tail()}")
        finally:
            client.close()
        self.say(f"API server {endpoint.url} (PKI, kubeconfig and logs in {self.config.folder})")
        return endpoint

    def _loopback_server(self) -> None:
        """A wildcard ``--bind-address`` (0.0.0.0, ::) is no address to connect to, nor one the
        serving certificate names: the kubeconfig's server becomes 127.0.0.1 (in the
        certificate), as kind's kubeconfig names the host's loopback."""
        text = self.admin.read_text(encoding="utf-8")
        fixed = re.sub(r"(server: https://)(0\.0\.0\.0|\[?::\]?):(\d+)", r"\g<1>127.0.0.1:\3", text)
        if fixed != text:
            self.admin.write_text(fixed, encoding="utf-8")

    def _listening(self, apiserver: Component) -> bool:
        """Has the API server written its kubeconfig and said where its secure port is?"""
        if not self.admin.exists():
            return False
        try:
            text = apiserver.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return False
        return "listening on https://" in text

    def _check(self, component: Component, usage: bool = False) -> None:
        code = component.exited()
        if code is not None:
            raise ClusterError(
                f"{component.name} exited with code {code}:\n{component.tail()}", usage
            )

    def _wait_ready(self, endpoint: Endpoint, started: float) -> bool:
        """Wait until every node is Ready and both Leases are held; False if stopped."""
        deadline = started + self.config.wait_seconds
        client = ApiClient(endpoint)
        try:
            while True:
                for component in self.components:
                    self._check(component)
                status = readiness(client, self.config.nodes)
                if status.ready:
                    break
                if time.monotonic() > deadline:
                    raise ClusterError(f"not ready after {self.config.wait_seconds:g} s: {status}")
                if self.stop.wait(POLL_SECONDS):
                    return False
        finally:
            client.close()
        text = self.admin.read_text(encoding="utf-8")
        write_output(self.config.kubeconfig, text, "kubeconfig")
        self.config.kubeconfig.chmod(0o600)
        seconds = time.monotonic() - started
        self.say(
            f"ready in {seconds:.1f} s: {status}; kubeconfig written to {self.config.kubeconfig}"
        )
        self.say(f"try: kubectl --kubeconfig {self.config.kubeconfig} get nodes -o wide")
        return True

    # Serving ----------------------------------------------------------------------------

    def _watch(self) -> None:
        while not self.stop.wait(POLL_SECONDS):
            for component in self.components:
                code = component.exited()
                if code is None:
                    continue
                if not component.restart:
                    raise ClusterError(
                        f"{component.name} exited with code {code}:\n{component.tail()}"
                    )
                component.restarts += 1
                self.say(
                    f"{component.name} exited with code {code}; restarting it "
                    f"(restart {component.restarts})"
                )
                if self.stop.wait(RESTART_SECONDS):
                    return
                component.start()
                self.say(f"started {component.describe()}")

    def _stop_all(self) -> None:
        """SIGTERM every component but the API server at once, wait for them, then the API
        server (the others still talk to it while they stop); SIGKILL whatever is left at
        ``STOP_SECONDS``."""
        running = [c for c in reversed(self.components) if c.exited() is None and c.process]
        if running:
            print(f"{VERB}: stopping {', '.join(c.name for c in running)}", file=sys.stderr)
        deadline = time.monotonic() + STOP_SECONDS
        apiserver = self.components[0]
        for wave in ([c for c in running if c is not apiserver], [apiserver]):
            for component in wave:
                component.terminate()
            while any(c.exited() is None for c in wave) and time.monotonic() < deadline:
                time.sleep(0.05)
        for component in running:
            if component.exited() is None:
                print(f"{VERB}: {component.name} did not stop in time: SIGKILL", file=sys.stderr)
                component.kill()
        for component in self.components:
            component.close()
        print(f"{VERB}: stopped", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Readiness:
    """What the cluster has of what it needs to be ready."""

    nodes_ready: int
    nodes_wanted: int
    leaders: tuple[tuple[str, str], ...]

    @property
    def ready(self) -> bool:
        return self.nodes_ready >= self.nodes_wanted and all(holder for _, holder in self.leaders)

    def __str__(self) -> str:
        held = ", ".join(f"{lease} {'led by ' + holder if holder else 'not led'}"
                         for lease, holder in self.leaders)  # fmt: skip
        return f"{self.nodes_ready}/{self.nodes_wanted} nodes Ready, {held}"


LEASES: Final = ("kube-controller-manager", "kube-scheduler")


def readiness(client: ApiClient, nodes: int) -> Readiness:
    """Count the Ready nodes and read the two Leases' holders."""
    ready = 0
    status, body = client.request("GET", "/api/v1/nodes")
    if status == 200 and isinstance(body, dict):
        for node in body.get("items") or []:
            conditions = (node.get("status") or {}).get("conditions") or []
            if any(_ready(condition) for condition in conditions):
                ready += 1
    leaders = []
    for lease in LEASES:
        path = f"/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/{lease}"
        status, body = client.request("GET", path)
        holder = ""
        if status == 200 and isinstance(body, dict):
            holder = str((body.get("spec") or {}).get("holderIdentity") or "")
        leaders.append((lease, holder))
    return Readiness(nodes_ready=ready, nodes_wanted=nodes, leaders=tuple(leaders))


def _ready(condition: Any) -> bool:
    return (
        isinstance(condition, dict)
        and condition.get("type") == "Ready"
        and condition.get("status") == "True"
    )


def remove_folder(folder: Path) -> None:
    """Remove a cluster folder the supervisor made."""
    shutil.rmtree(folder, ignore_errors=True)
