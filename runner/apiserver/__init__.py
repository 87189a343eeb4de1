"""kube-apiserver: the store drivers, the HTTP server, ``serve apiserver`` and ``conform
apiserver``.

Only names the command-line parsers need live here (importing this package stays light).
"""

from typing import Final

MUTANTS: Final = ("stale-list", "skip-watch-event", "ignore-resource-version")
"""The deliberately broken servers of ``serve apiserver --mutant`` (runner.apiserver.mutants)."""
