"""The committed gRPC code in runner/etcd/etcdpb is exactly what scripts/etcd-protos generates
from the vendored .proto files (so nobody edits generated code by hand, and a proto change is
never committed without its code)."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = Path("runner/etcd/etcdpb")


def test_generated_code_matches_the_protos(tmp_path: Path) -> None:
    subprocess.run(
        [str(ROOT / "scripts/etcd-protos"), str(tmp_path)],
        check=True,
        env={**os.environ, "PYTHON": sys.executable},
        timeout=120,
    )
    generated = sorted(path.name for path in (tmp_path / PACKAGE).iterdir())
    committed = sorted(
        path.name for path in (ROOT / PACKAGE).iterdir() if path.name.endswith((".py", ".pyi"))
    )
    assert generated == [name for name in committed if name != "__init__.py"]
    assert len(generated) == 20  # five protos: message code, service code, and their stubs
    for name in generated:
        assert (tmp_path / PACKAGE / name).read_bytes() == (ROOT / PACKAGE / name).read_bytes()
