"""``serve proxy``: kube-proxy's loop around the pure machine.

Two ``Watcher`` threads (Services, EndpointSlices) feed informer events to a queue; the loop
hands them to ``impl.proxy.machine.on_event`` and, once both initial lists are in, runs a sync
no more often than ``min_sync_seconds`` after changes and at least every ``sync_seconds``
(kube-proxy's ``minSyncPeriod`` 1 s and ``syncPeriod`` 30 s). Each sync's commands are carried
out: with ``dry_run`` the rules are printed, then a unified diff against the previous sync's;
otherwise they go to the kernel (``runner.proxy.kernel``) or, in userspace mode, to a
``UserspaceProxy``. ``SyncApplied`` reports the outcome back to the machine.
"""

from __future__ import annotations

import asyncio
import difflib
import queue
import threading
import time
from collections.abc import Callable
from typing import TextIO

from impl.proxy.machine import init, on_event
from models.proxy.events import (
    EnsureJumpRules,
    InitialListsSynced,
    IptablesRestore,
    IpvsApply,
    NftablesRun,
    ProxyCommand,
    ProxyEvent,
    SyncApplied,
    SyncDue,
    UserspaceTable,
)
from models.proxy.state import ProxyMachineConfig, ProxyState
from runner.apiserver.client import Endpoint
from runner.proxy import kernel
from runner.proxy.metrics import ProxyMetrics
from runner.proxy.netns import run
from runner.proxy.userspace import UserspaceProxy
from runner.proxy.watch import COLLECTIONS, Watcher


def command_text(command: ProxyCommand) -> str:
    """What a command would feed its tool (for ``--dry-run``)."""
    match command:
        case EnsureJumpRules(rules=rules):
            return "".join(
                f"# ensure -t {r.table} -I {r.chain} {' '.join(r.arguments())}\n" for r in rules
            )
        case IptablesRestore(text=text) | NftablesRun(text=text):
            return text
        case IpvsApply(ipvsadm=ipvsadm, ipset=ipset, iptables=iptables):
            return (
                f"# ipvsadm-restore\n{ipvsadm}# ipset restore\n{ipset}"
                f"# iptables-restore\n{iptables}"
            )
        case UserspaceTable(routes=routes):
            return "".join(
                f"{r.protocol} {r.address}:{r.port} -> {', '.join(r.backends) or r.verdict}\n"
                for r in routes
            )


def _host(argv: list[str], stdin: str | None) -> str:
    try:
        return run(argv, stdin)
    except Exception as error:
        raise kernel.KernelError(str(error)) from error


class ProxyServer:
    """The loop (see the module docstring); ``run`` returns after ``max_syncs`` syncs, after
    ``duration_seconds``, or when ``stop`` is set."""

    def __init__(
        self,
        server: str | Endpoint,
        config: ProxyMachineConfig,
        out: TextIO,
        *,
        dry_run: bool,
        min_sync_seconds: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        metrics: ProxyMetrics | None = None,
    ) -> None:
        self.server = server
        self.config = config
        self.out = out
        self.dry_run = dry_run
        self.min_sync_seconds = min_sync_seconds
        self.clock = clock
        self.metrics = metrics or ProxyMetrics(config.mode)
        self.stop = threading.Event()
        self.events: queue.Queue[tuple[str, ProxyEvent | str]] = queue.Queue()
        self.state: ProxyState = init(config).state
        self.previous_text = ""
        self.syncs = 0
        self.userspace: UserspaceProxy | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    def run(self, max_syncs: int | None = None, duration_seconds: float | None = None) -> int:
        threads = [
            threading.Thread(target=Watcher(self.server, kind, self.events, self.stop).run,
                             daemon=True, name=f"watch-{kind}")
            for kind in COLLECTIONS
        ]  # fmt: skip
        for thread in threads:
            thread.start()
        started, listed, dirty, last_sync = self.clock(), set[str](), False, -1e9
        try:
            while not self.stop.is_set():
                now = self.clock()
                if duration_seconds is not None and now - started > duration_seconds:
                    break
                try:
                    kind, item = self.events.get(timeout=0.1)
                except queue.Empty:
                    kind, item = "", ""
                if item == "listed":
                    listed.add(kind)
                    if listed == set(COLLECTIONS):
                        self._feed(InitialListsSynced())
                        dirty = True
                elif isinstance(item, str) and item:
                    self.out.write(f"# {kind}: {item}\n")
                elif not isinstance(item, str):
                    self._feed(item)
                    self.metrics.changed(item)
                    dirty = True
                due = now - last_sync >= (self.min_sync_seconds if dirty else 30.0)
                if self.state.lists_synced and due:
                    self._sync(now)
                    last_sync, dirty = now, False
                    if max_syncs is not None and self.syncs >= max_syncs:
                        break
        finally:
            self.stop.set()
            if self.loop is not None and self.userspace is not None:
                asyncio.run_coroutine_threadsafe(self.userspace.close(), self.loop).result(5)
                self.loop.call_soon_threadsafe(self.loop.stop)
        return 0

    def _feed(self, event: ProxyEvent) -> list[ProxyCommand]:
        step = on_event(self.config, self.state, event)
        self.state = step.state
        return list(step.commands)

    def _sync(self, now: float) -> None:
        started = self.clock()
        commands = self._feed(SyncDue(now_seconds=now))
        if not commands:
            return
        self.syncs += 1
        ok = True
        if self.dry_run:
            self._print(commands)
        else:
            ok = self._apply(commands)
        self._feed(SyncApplied(ok=ok))
        self.metrics.synced(commands, self.clock() - started, ok)

    def _print(self, commands: list[ProxyCommand]) -> None:
        text = "".join(command_text(c) for c in commands)
        self.out.write(f"# sync {self.syncs} ({self.config.mode})\n{text}")
        if self.previous_text:
            diff = difflib.unified_diff(self.previous_text.splitlines(), text.splitlines(),
                                        "previous", "this sync", lineterm="")  # fmt: skip
            self.out.write(f"# diff against sync {self.syncs - 1}\n")
            self.out.writelines(line + "\n" for line in diff)
        self.out.flush()
        self.previous_text = text

    def _apply(self, commands: list[ProxyCommand]) -> bool:
        try:
            for command in commands:
                if isinstance(command, UserspaceTable):
                    self._userspace(command)
                else:
                    kernel.apply(_host, command)
        except kernel.KernelError as error:
            self.out.write(f"# sync failed: {error}\n")
            return False
        return True

    def _userspace(self, table: UserspaceTable) -> None:
        if self.loop is None:
            self.loop = asyncio.new_event_loop()
            threading.Thread(target=self.loop.run_forever, daemon=True, name="userspace").start()
            self.userspace = UserspaceProxy()
        assert self.userspace is not None
        asyncio.run_coroutine_threadsafe(self.userspace.replace(table.routes), self.loop).result(10)
        for route in table.routes:
            port = self.userspace.ports.get(f"{route.protocol}/{route.address}:{route.port}")
            self.out.write(f"# {route.protocol} {route.address}:{route.port} on 127.0.0.1:{port}\n")
