"""What kube-controller-manager's controllers must do, judged on the cluster's stored objects:
safety properties each step (``safety``), eventually stable reconciliation at the end (``esr``)."""
