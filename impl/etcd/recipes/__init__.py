"""etcd's lock and election recipes (``clientv3/concurrency`` in etcd 3.4) as pure clients.

Both recipes queue clients by the create revision of one key per client, ``<prefix>/<lease ID
in hex>``, attached to the client's lease: the lowest create revision holds the lock (or leads);
every other client waits for the DELETE of the key just before its own, then looks again. They
are only as safe as the lease: when a holder's lease expires (a process paused longer than the
TTL), its key is deleted, the next client takes over, and the paused one still believes it holds
the lock. The key's create revision is a fencing token that a resource can check.
"""
