"""kube-scheduler as pure functions: framework, default plugins, queue and preemption."""
