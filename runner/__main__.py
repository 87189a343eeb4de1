"""``python -m runner`` runs the kubeoracle command line."""

import sys

from runner.cli import main

sys.exit(main())
