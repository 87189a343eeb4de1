"""kube-scheduler's default plugins, one module per plugin family."""
