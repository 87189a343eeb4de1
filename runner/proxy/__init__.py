"""kube-proxy in the runner: kernel adapters, the namespace lab, the userspace proxy."""
