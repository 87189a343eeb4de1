"""The ``kubeoracle`` command line: :mod:`runner.cli.main` parses and dispatches, one module per
verb (``check``, ``simulate``, ...) registers its parser, :mod:`runner.cli.output` prints."""
