"""etcd reference models: the keyspace with revisions, registers and kv, and the watch checker."""
