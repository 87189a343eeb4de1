"""Running the reference controllers: in process against the reference API server, in the
simulator, and as ``serve controller-manager`` against any API server."""
