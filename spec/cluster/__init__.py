"""What must hold across a whole cluster's components (``properties``)."""
