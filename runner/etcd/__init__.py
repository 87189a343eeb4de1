"""etcd in the runner: the reference servers behind ``serve etcd`` (gateway, backends), the v3
gateway client, local real-etcd clusters and the ``conform etcd`` workload, recorder and judge."""
