"""Runs an etcdctl 3.4 transcript against an endpoint and normalises what differs by design.

A transcript is a list of steps; each step runs the real ``etcdctl`` (Debian's etcd-client) and
records its exit code, its stdout and the ``Error:`` lines of its stderr (etcdctl's retry
warnings carry timestamps and are dropped). IDs that each server picks (lease IDs, member and
cluster IDs, Raft terms and indexes, database sizes) are replaced by placeholders, so two
servers that behave alike produce equal transcripts, revisions included.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from typing import Any

ETCDCTL_TIMEOUT_SECONDS = 20.0
_ID_FIELDS = frozenset({"cluster_id", "member_id", "raft_term", "ID", "lease", "leader"})
_SIZE_FIELDS = frozenset({"dbSize", "dbSizeInUse", "raftIndex", "raftAppliedIndex", "raftTerm"})


def etcdctl_binary() -> str:
    """The etcdctl on PATH (installed by scripts/test from Debian's etcd-client)."""
    path = shutil.which("etcdctl")
    assert path is not None, "etcdctl is not installed (scripts/test installs etcd-client)"
    return path


@dataclass
class Transcript:
    """The normalised record of one run, and the names given to server-chosen IDs."""

    endpoint: str
    lines: list[str] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)

    def base(self) -> list[str]:
        return [
            etcdctl_binary(),
            f"--endpoints={self.endpoint}",
            "--dial-timeout=5s",
            "--command-timeout=10s",
        ]

    def name(self, server_id: str, kind: str) -> str:
        """A stable placeholder for an ID this server chose (``<lease-1>``...)."""
        if server_id not in self.names:
            count = sum(1 for value in self.names.values() if value.startswith(f"<{kind}-"))
            self.names[server_id] = f"<{kind}-{count + 1}>"
        return self.names[server_id]

    def normalise(self, text: str) -> str:
        text = text.replace(self.endpoint, "<endpoint>")
        for server_id, placeholder in sorted(self.names.items(), key=lambda item: -len(item[0])):
            text = re.sub(rf"\b{re.escape(server_id)}\b", placeholder, text)
        return text

    def run(self, *args: str, stdin: str = "") -> str:
        """Run one etcdctl command; returns its raw stdout (for IDs the next steps need)."""
        done = subprocess.run(
            [*self.base(), *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=ETCDCTL_TIMEOUT_SECONDS,
            env={**os.environ, "ETCDCTL_API": "3"},
            check=False,
        )
        self.record(args, done.returncode, done.stdout, done.stderr)
        return done.stdout

    def record(self, args: tuple[str, ...], code: int, stdout: str, stderr: str) -> None:
        errors = [line for line in stderr.splitlines() if line.startswith("Error:")]
        output = stdout
        if "-w" in args and "json" in args:
            output = "\n".join(_json_line(line) for line in stdout.splitlines())
        self.lines.append(self.normalise(f"$ etcdctl {' '.join(args)}  -> exit {code}"))
        self.lines.extend(self.normalise(output).splitlines())
        self.lines.extend(self.normalise(line) for line in errors)

    def stream(self, *args: str, lines: int, then: list[tuple[str, ...]] | None = None) -> None:
        """Start a long-running command (watch, elect), run ``then`` while it runs, and keep
        its first ``lines`` lines of output; it is then interrupted as a user would (SIGINT)."""
        process = subprocess.Popen(
            [*self.base(), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "ETCDCTL_API": "3"},
        )
        try:
            time.sleep(1.0)  # the stream is open before the steps that feed it
            for step in then or []:
                self.run(*step)
            assert process.stdout is not None
            os.set_blocking(process.stdout.fileno(), False)
            collected = b""
            deadline = time.monotonic() + ETCDCTL_TIMEOUT_SECONDS
            while collected.count(b"\n") < lines and time.monotonic() < deadline:
                with contextlib.suppress(BlockingIOError):
                    collected += os.read(process.stdout.fileno(), 65536)
                time.sleep(0.05)
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()
        output = collected.decode("utf-8", "replace")
        self.lines.append(f"$ etcdctl {' '.join(args)}  (stream, first {lines} lines)")
        self.lines.extend(self.normalise(output).splitlines()[:lines])


def _json_line(line: str) -> str:
    try:
        return json.dumps(_json_ids(json.loads(line)))
    except ValueError:
        return line


def _json_ids(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: "<id>"
            if key in _ID_FIELDS and item
            else "<n>"
            if key in _SIZE_FIELDS
            else _json_ids(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_json_ids(item) for item in value]
    return value


TXN_SWAP = 'value("foo") = "baz"\n\nput foo swapped\nget foo\n\nget foo\n\n'
TXN_FAILS = 'mod("foo") > "1000"\n\nput foo never\n\ndel foo2 --prev-kv\nget foo\n\n'


def transcript(endpoint: str) -> list[str]:
    """The transcript of every etcdctl command the reference supports, on a fresh endpoint."""
    t = Transcript(endpoint)
    t.run("put", "foo", "bar")
    t.run("put", "foo", "baz", "--prev-kv")
    t.run("put", "foo2", "x")
    t.run("put", "zoo", "last")
    t.run("get", "foo")
    t.run("get", "foo", "-w", "json")
    t.run("get", "--prefix", "foo")
    t.run("get", "foo", "--rev", "2")
    t.run("get", "--prefix", "foo", "--sort-by=MODIFY", "--order=DESCEND")
    t.run("get", "--prefix", "", "--sort-by=VALUE", "--order=ASCEND", "--keys-only")
    t.run("get", "--from-key", "foo2", "--limit", "1", "-w", "json")
    t.run("get", "foo", "--rev", "99")
    t.run("txn", "-w", "json", stdin=TXN_SWAP)
    t.run("txn", stdin=TXN_FAILS)
    t.run("txn", stdin=TXN_SWAP)
    t.run("del", "zoo", "--prev-kv")
    t.run("del", "nothing")
    t.run("put", "", "empty")
    granted = t.run("lease", "grant", "60")
    lease = granted.split()[1] if granted.startswith("lease ") else "missing"
    t.name(lease, "lease")
    t.run("put", "leased", "v", f"--lease={lease}")
    t.run("lease", "timetolive", lease, "--keys")
    t.run("lease", "keep-alive", "--once", lease)
    t.run("lease", "list")
    t.run("lease", "revoke", lease)
    t.run("lease", "revoke", lease)
    t.run("get", "leased", "-w", "json")
    t.stream("watch", "--prefix", "foo", "--rev", "2", lines=12)
    # From the next revision, so that the watch sees both writes however long it takes to open.
    revision = _header_revision(t.run("get", "w", "-w", "json"))
    t.stream(
        "watch", "w", "--rev", str(revision + 1), lines=6, then=[("put", "w", "1"), ("del", "w")]
    )
    t.run("compaction", "3")
    t.run("get", "foo", "--rev", "2")
    t.run("compaction", "3")
    t.run("compaction", "1000")
    t.run("lock", "mylock", "echo", "held")
    t.run("get", "--prefix", "mylock", "-w", "json")
    t.stream("elect", "myelection", "alice", lines=2)
    t.run("get", "--prefix", "myelection", "-w", "json")
    t.run("put", "last", "one", "-w", "json")
    status = t.run("endpoint", "status", "-w", "json")
    t.lines.append(f"endpoint status version: {_status_version(status)}")
    return [_key_ids(t.normalise(line)) for line in t.lines]


def _header_revision(output: str) -> int:
    try:
        return int(json.loads(output)["header"]["revision"])
    except (ValueError, LookupError, TypeError):
        return 0


def _status_version(output: str) -> str:
    try:
        statuses = json.loads(output)
        return str(statuses[0]["Status"]["version"])
    except (ValueError, LookupError, TypeError):
        return "unreadable: " + output


def _key_ids(line: str) -> str:
    """Lock and election keys end in their session's lease ID (hex); a lease's remaining TTL
    depends on how long the steps before took."""
    line = re.sub(r"\b(mylock|myelection)/[0-9a-f]+\b", r"\1/<lease>", line)
    return re.sub(r"remaining\((5[0-9]|60)s\)", "remaining(50-60s)", line)
