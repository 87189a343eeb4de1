"""kube-controller-manager's controllers as pure reconcilers (see ``machine.py`` for the shape)."""
