"""The kubelet: a pure node agent (``impl.kubelet.machine``)."""
