"""A network-namespace lab for loading proxy rules into a real kernel and sending real traffic.

``Lab`` creates network namespaces with ``ip netns add`` (names carry the process id, so two
runs never collide) and always deletes them on exit, even when a test fails:

- ``node``: the proxy's node. ``192.168.0.2/24`` faces the clients; ``192.168.10.1`` (on its
  loopback) is its address towards the pods; forwarding is on. Service address ranges that no
  rule translates are routed into ``sink``, where they are lost (forwarding is off there), so
  a packet the rules fail to handle is never answered.
- one namespace per pod address (backends and pod clients), each with its own veth to the node
  and a ``/32`` route on the node, as routed pod networks do: pods never reach each other
  except through the node, so every reply passes the node's connection tracking.
- ``client``: addresses outside the cluster, one veth to the node, default route via the node.

``serve`` starts TCP and UDP listeners on backend addresses in their pods' namespaces; each
answers a connection with ``ip:port|peer`` (its own address and the address the client appears
to come from, which shows masquerading). ``probe`` makes one connection from a namespace and a
bound source address and reports the answer, a refusal (REJECT) or silence (DROP). Sockets are
made in a thread that has entered the namespace (``setns``), so everything runs in this process.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import select
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from typing import Final, Literal, TypeVar

import msgspec

from runner.proxy.kernel import KernelError

CLONE_NEWNET: Final = 0x40000000
NODE_CLIENT_SIDE: Final = "192.168.0.2"
NODE_POD_SIDE: Final = "192.168.10.1"
ROUTED_TO_SINK: Final = ("172.30.0.0/16", "192.168.99.0/24", "1.2.3.0/24", "10.0.0.0/8")
T = TypeVar("T")


class LabError(Exception):
    """A command the lab needs failed (the message has its output)."""


class Answer(msgspec.Struct, frozen=True, kw_only=True):
    """What one probe saw: ``kind`` backend (``backend`` answered, seeing ``peer``), refused,
    or silent."""

    kind: Literal["backend", "refused", "silent"]
    backend: str = ""
    peer: str = ""


def run(argv: list[str], stdin: str | None = None) -> str:
    completed = subprocess.run(
        argv, input=stdin, capture_output=True, text=True, check=False, timeout=60
    )
    if completed.returncode != 0:
        raise LabError(f"{' '.join(argv[:6])}: {completed.stderr.strip() or completed.stdout}")
    return completed.stdout


def in_namespace(name: str, work: Callable[[], T]) -> T:
    """Run ``work`` in a thread that has entered network namespace ``name``."""
    results: list[T] = []
    errors: list[BaseException] = []

    def body() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        descriptor = os.open(f"/var/run/netns/{name}", os.O_RDONLY)
        try:
            if libc.setns(descriptor, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), f"setns into {name}")
            results.append(work())
        except BaseException as error:  # re-raised in the caller's thread
            errors.append(error)
        finally:
            os.close(descriptor)

    thread = threading.Thread(target=body, name=f"netns-{name}")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return results[0]


class Lab:
    """The namespaces, their addresses, and the backend listeners (see the module docstring)."""

    def __init__(self, backends: tuple[str, ...], pod_clients: tuple[str, ...],
                 outside_clients: tuple[str, ...]) -> None:  # fmt: skip
        suffix = f"{os.getpid() % 100000}{id(self) % 1000}"
        self.suffix = suffix
        self.node, self.sink, self.client = (f"ko-{r}-{suffix}" for r in ("node", "sink", "cli"))
        self.backends = backends
        addresses = sorted({b.split("/")[1].rsplit(":", 1)[0] for b in backends} | set(pod_clients))
        self.pods = {address: f"ko-p{index}-{suffix}" for index, address in enumerate(addresses)}
        self.outside_clients = outside_clients
        self._stop = threading.Event()
        self._server: threading.Thread | None = None

    def __enter__(self) -> Lab:
        try:
            self._create()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def namespaces(self) -> tuple[str, ...]:
        return (self.node, self.sink, self.client, *self.pods.values())

    def namespace_of(self, address: str) -> str:
        """Where a client with source ``address`` runs."""
        if address in self.pods:
            return self.pods[address]
        return self.client if address in self.outside_clients else self.node

    def close(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.join(timeout=5)
        for name in self.namespaces():
            subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)

    def ip(self, namespace: str, *args: str) -> None:
        run(["ip", "-n", namespace, *args])

    def exec(self, namespace: str, argv: list[str], stdin: str | None = None) -> str:
        return run(["ip", "netns", "exec", namespace, *argv], stdin)

    def _create(self) -> None:
        for name in self.namespaces():
            run(["ip", "netns", "add", name])
            self.ip(name, "link", "set", "lo", "up")
        self.ip(self.node, "addr", "add", f"{NODE_POD_SIDE}/32", "dev", "lo")
        self._veth(self.client, "c", self.outside_clients)
        self.ip(self.node, "addr", "add", f"{NODE_CLIENT_SIDE}/24", "dev", "n-c")
        self.ip(self.node, "route", "add", "203.0.113.0/24", "dev", "n-c")
        self.ip(self.client, "route", "add", "default", "via", NODE_CLIENT_SIDE, "dev", "c-n",
                "onlink")  # fmt: skip
        self._veth(self.sink, "s", ())
        for cidr in ROUTED_TO_SINK:
            self.ip(self.node, "route", "add", cidr, "dev", "n-s")
        for index, (address, namespace) in enumerate(sorted(self.pods.items())):
            tag = f"p{index}"
            self._veth(namespace, tag, (address,))
            self.ip(self.node, "route", "add", f"{address}/32", "dev", f"n-{tag}", "src",
                    NODE_POD_SIDE)  # fmt: skip
            self.ip(namespace, "route", "add", "default", "via", NODE_POD_SIDE, "dev",
                    f"{tag}-n", "onlink")  # fmt: skip
        self.exec(self.node, ["sysctl", "-qw", "net.ipv4.ip_forward=1"])

    def _veth(self, namespace: str, tag: str, addresses: tuple[str, ...]) -> None:
        outer, inner = f"n-{tag}", f"{tag}-n"
        run(["ip", "link", "add", outer, "netns", self.node, "type", "veth", "peer", "name",
             inner, "netns", namespace])  # fmt: skip
        self.ip(self.node, "link", "set", outer, "up")
        for address in addresses:
            self.ip(namespace, "addr", "add", f"{address}/32", "dev", inner)
        self.ip(namespace, "link", "set", inner, "up")

    def serve(self) -> None:
        """Start answering on every backend (``TCP/ip:port`` or ``UDP/ip:port``)."""
        sockets: list[tuple[socket.socket, str]] = []
        for backend in self.backends:
            address = backend.split("/")[1].rsplit(":", 1)[0]
            sockets.append(in_namespace(self.pods[address], _listener(backend)))
        self._server = threading.Thread(target=_answer, args=(sockets, self._stop), daemon=True)
        self._server.start()

    def execute(self, argv: list[str], stdin: str | None) -> str:
        """Run a program in the node namespace (a ``runner.proxy.kernel.Executor``)."""
        try:
            return self.exec(self.node, argv, stdin)
        except LabError as error:
            raise KernelError(str(error)) from error

    def probe(
        self, source: str, destination: str, port: int, protocol: str, timeout: float = 0.4
    ) -> Answer:
        """One connection from ``source`` (run where that address lives)."""
        return in_namespace(
            self.namespace_of(source),
            lambda: _connect(source, destination, port, protocol, timeout),
        )


def _listener(backend: str) -> Callable[[], tuple[socket.socket, str]]:
    return lambda: _listen(backend)


def _listen(backend: str) -> tuple[socket.socket, str]:
    protocol, _, address = backend.partition("/")
    host, _, port = address.rpartition(":")
    kind = socket.SOCK_STREAM if protocol == "TCP" else socket.SOCK_DGRAM
    listener = socket.socket(socket.AF_INET, kind)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, int(port)))
    if protocol == "TCP":
        listener.listen(64)
    listener.setblocking(False)
    return listener, address


def _answer(sockets: list[tuple[socket.socket, str]], stop: threading.Event) -> None:
    by_fd = {s.fileno(): (s, name) for s, name in sockets}
    try:
        while not stop.is_set():
            ready, _, _ = select.select(list(by_fd), [], [], 0.1)
            for fd in ready:
                listener, name = by_fd[fd]
                if listener.type == socket.SOCK_STREAM:
                    with contextlib.suppress(OSError):
                        connection, peer = listener.accept()
                        with connection:
                            connection.sendall(f"{name}|{peer[0]}".encode())
                else:
                    with contextlib.suppress(OSError):
                        _, peer = listener.recvfrom(64)
                        listener.sendto(f"{name}|{peer[0]}".encode(), peer)
    finally:
        for listener, _ in sockets:
            listener.close()


def _connect(source: str, destination: str, port: int, protocol: str, timeout: float) -> Answer:
    kind = socket.SOCK_STREAM if protocol == "TCP" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as client:
        client.settimeout(timeout)
        client.bind((source, 0))
        try:
            client.connect((destination, port))
            if protocol == "UDP":
                client.send(b"?")
            data = client.recv(256).decode()
        except ConnectionRefusedError:
            return Answer(kind="refused")
        except (TimeoutError, OSError):
            return Answer(kind="silent")
    backend, _, peer = data.partition("|")
    return Answer(kind="backend", backend=backend, peer=peer) if data else Answer(kind="silent")


@contextlib.contextmanager
def lab(backends: tuple[str, ...], pod_clients: tuple[str, ...],
        outside_clients: tuple[str, ...]) -> Iterator[Lab]:  # fmt: skip
    """A started lab (listeners answering), torn down on exit."""
    with Lab(backends, pod_clients, outside_clients) as started:
        started.serve()
        yield started
