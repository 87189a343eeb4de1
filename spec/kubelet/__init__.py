"""What a correct kubelet does, judged on its observable state (``models.kubelet.state``)."""
