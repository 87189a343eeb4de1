"""An etcdctl 3.4 transcript of etcd's auth: users, roles, permissions, tokens, checks.

Run on a fresh endpoint by ``tests/conformance/test_etcdctl_auth_transcript.py`` against real
etcd 3.4.23 and ``serve etcd``; the transcripts must be equal (``tests/etcd/etcdctl.py`` masks
server-chosen IDs). Every user command of ``etcdctl user``/``role``/``auth`` is exercised, with
``--user`` requests allowed and denied on single keys, prefixes, ranges and ``--from-key``
permissions, in txns, and after passwords, roles and permissions change.
"""

from __future__ import annotations

from tests.etcd.etcdctl import Transcript

ROOT = "--user=root:rootpw"
ALICE = "--user=alice:apw"
TXN_ALLOWED = 'value("y1") = "x"\n\nput y2 fromtxn\n\nget y1\n\n'
TXN_DENIED_BRANCH = 'value("y1") = "x"\n\nput y3 x\n\nput a nope\n\n'
TXN_DENIED_COMPARE = 'value("a") = "v0"\n\nput y3 x\n\n\n'


def _setup(t: Transcript) -> None:
    t.run("auth", "enable")
    t.run("user", "add", "root", "--new-user-password=rootpw")
    t.run("user", "add", "alice:apw", "--interactive=false")
    t.run("user", "add", "alice:other", "--interactive=false")
    t.run("user", "add", "bob", "--no-password")
    t.run("user", "list")
    t.run("role", "add", "reader")
    t.run("role", "add", "reader")
    t.run("role", "add", "writer")
    t.run("role", "grant-permission", "reader", "read", "foo")
    t.run("role", "grant-permission", "reader", "read", "--prefix", "pre/")
    t.run("role", "grant-permission", "reader", "write", "foo")
    t.run("role", "grant-permission", "writer", "readwrite", "--from-key", "y")
    t.run("role", "grant-permission", "writer", "write", "w1", "w3")
    t.run("role", "grant-permission", "nosuch", "read", "x")
    t.run("role", "get", "reader")
    t.run("role", "get", "writer")
    t.run("role", "get", "nosuch")
    t.run("role", "list")
    t.run("user", "grant-role", "alice", "reader")
    t.run("user", "grant-role", "alice", "reader")
    t.run("user", "grant-role", "alice", "nosuch")
    t.run("user", "grant-role", "carol", "reader")
    t.run("user", "get", "alice")
    t.run("user", "get", "alice", "--detail")
    t.run("user", "get", "carol")
    t.run("put", "foo", "v0")
    t.run("put", "pre/a", "1")
    t.run("put", "zz-secret", "s")
    t.run("auth", "enable")


def _as_alice(t: Transcript) -> None:
    t.run("get", "foo")
    t.run("put", "foo", "anonymous")
    t.run(ALICE, "get", "foo")
    t.run("--user=alice:wrong", "get", "foo")
    t.run("--user=nobody:pw", "get", "foo")
    t.run(ALICE, "put", "foo", "v0")
    t.run(ALICE, "get", "--prefix", "pre/")
    t.run(ALICE, "get", "--prefix", "pre")
    t.run(ALICE, "get", "zz-secret")
    t.run(ALICE, "put", "pre/b", "2")
    t.run(ALICE, "user", "list")
    t.run(ALICE, "user", "get", "alice")
    t.run(ALICE, "user", "get", "root")
    t.run(ALICE, "role", "get", "reader")
    t.run(ALICE, "role", "get", "writer")
    t.run(ALICE, "role", "add", "mine")
    t.run(ROOT, "user", "grant-role", "alice", "writer")
    t.run(ALICE, "put", "y1", "x")
    t.run(ALICE, "put", "zz-secret", "mine")
    t.run(ALICE, "get", "--from-key", "y")
    t.run(ALICE, "get", "--from-key", "a")
    t.run(ALICE, "put", "a", "x")
    t.run(ALICE, "put", "w2", "x")
    t.run(ALICE, "get", "w2")
    t.run(ALICE, "del", "w1", "w3")
    t.run(ALICE, "del", "w1", "w4")
    t.run(ALICE, "del", "w2", "--prev-kv")
    t.run(ALICE, "txn", stdin=TXN_ALLOWED)
    t.run(ALICE, "txn", stdin=TXN_DENIED_BRANCH)
    t.run(ALICE, "txn", stdin=TXN_DENIED_COMPARE)
    t.run(ALICE, "watch", "a")
    t.run(ALICE, "lock", "ylock", "echo", "held")
    t.run(ALICE, "lock", "alock", "echo", "held")
    t.run(ALICE, "compaction", "2")
    granted = t.run(ALICE, "lease", "grant", "60")
    lease = granted.split()[1] if granted.startswith("lease ") else "missing"
    t.name(lease, "lease")
    t.run(ALICE, "put", "y5", "v", f"--lease={lease}")
    t.run(ROOT, "put", "a", "leased", f"--lease={lease}")
    t.run(ALICE, "put", "y6", "v", f"--lease={lease}")
    t.run(ALICE, "lease", "revoke", lease)
    t.run(ROOT, "lease", "revoke", lease)
    t.run(ALICE, "get", "y5")


def _changes(t: Transcript) -> None:
    t.run(ROOT, "role", "revoke-permission", "writer", "w1", "w3")
    t.run(ROOT, "role", "revoke-permission", "writer", "w1", "w3")
    t.run(ROOT, "role", "revoke-permission", "nosuch", "w1")
    t.run(ALICE, "put", "w2", "x")
    t.run(ROOT, "user", "revoke-role", "alice", "writer")
    t.run(ROOT, "user", "revoke-role", "alice", "writer")
    t.run(ROOT, "user", "revoke-role", "carol", "writer")
    t.run(ALICE, "put", "y1", "y")
    t.run(ROOT, "user", "passwd", "alice", "--interactive=false", stdin="newpw\n")
    t.run(ALICE, "get", "foo")
    t.run("--user=alice:newpw", "get", "foo")
    t.run(ROOT, "user", "passwd", "carol", "--interactive=false", stdin="pw\n")
    t.run("--user=bob:", "get", "foo")
    t.run("--user=bob:pw", "get", "foo")
    t.run(ROOT, "user", "delete", "root")
    t.run(ROOT, "role", "delete", "root")
    t.run(ROOT, "user", "revoke-role", "root", "root")
    t.run(ROOT, "role", "delete", "reader")
    t.run(ROOT, "role", "delete", "reader")
    t.run(ROOT, "user", "get", "alice")
    t.run("--user=alice:newpw", "get", "foo")
    t.run(ROOT, "user", "delete", "alice")
    t.run(ROOT, "user", "delete", "alice")
    t.run("--user=alice:newpw", "get", "foo")
    t.run(ROOT, "role", "list")
    t.run(ROOT, "user", "list")
    t.run(ROOT, "get", "--prefix", "", "--keys-only")
    t.run(ROOT, "auth", "disable")
    t.run("get", "foo")
    t.run(ROOT, "get", "foo")
    t.run("auth", "disable")
    t.run("user", "delete", "root")
    t.run("role", "delete", "root")
    t.run("user", "list")
    t.run("role", "list")


def auth_transcript(endpoint: str) -> list[str]:
    """The auth transcript on a fresh endpoint, normalised."""
    t = Transcript(endpoint)
    _setup(t)
    _as_alice(t)
    _changes(t)
    return [t.normalise(line) for line in t.lines]
