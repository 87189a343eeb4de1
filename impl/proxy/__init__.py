"""kube-proxy v1.35 as pure functions and one state machine: iptables, nftables, ipvs rule
generation and the userspace proxy's routing table."""
