"""Service proxy vocabulary: node facts and options, the service and endpoint view, packets
and outcomes."""
