"""What a correct kube-scheduler binding means, judged without the implementation."""
