"""``python -m runner`` runs the kubeoracle command line."""

import sys

from runner.cli.main import main

sys.exit(main())
