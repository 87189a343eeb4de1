"""The kubelet's vocabulary: configuration, events, commands and observable state."""
