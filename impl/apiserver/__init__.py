"""kube-apiserver as a pure machine: HTTP requests in; answers, etcd operations and watch
events out (``machine.init``/``machine.on_event``)."""
