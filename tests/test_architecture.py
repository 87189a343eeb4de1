"""The layering of DESIGN.md, enforced on the source: imports point one way and the pure
packages touch no I/O, clock, randomness or threads."""

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("models", "impl", "spec", "proofs", "runner")
PURE_PACKAGES = ("models", "impl", "spec")

ALLOWED_IMPORTS: dict[str, frozenset[str]] = {
    "models": frozenset({"models"}),
    "impl": frozenset({"models", "impl"}),
    "spec": frozenset({"models", "spec"}),
    "proofs": frozenset({"models", "impl", "spec", "proofs"}),
    "runner": frozenset(PACKAGES),
}

# Modules that carry effects: a pure package that imports one could do I/O, read a clock, draw
# randomness or start a thread.
EFFECTFUL_MODULES = frozenset(
    {
        "asyncio",
        "datetime",
        "http",
        "io",
        "multiprocessing",
        "os",
        "pathlib",
        "random",
        "secrets",
        "shutil",
        "signal",
        "socket",
        "subprocess",
        "sys",
        "tempfile",
        "threading",
        "time",
        "urllib",
        "uuid",
    }
)
EFFECTFUL_CALLS = frozenset({"open", "print", "input"})


def source_files(package: str) -> Iterator[Path]:
    yield from sorted((ROOT / package).rglob("*.py"))


def imported_modules(tree: ast.AST) -> Iterator[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom) and node.module is not None and node.level == 0:
            yield node.module


def parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_point_one_way(package: str) -> None:
    offenders = []
    for path in source_files(package):
        for module in imported_modules(parse(path)):
            top = module.split(".")[0]
            if top in PACKAGES and top not in ALLOWED_IMPORTS[package]:
                offenders.append(f"{path.relative_to(ROOT)} imports {module}")
    assert offenders == []


@pytest.mark.parametrize("package", PURE_PACKAGES)
def test_pure_packages_have_no_effects(package: str) -> None:
    offenders = []
    for path in source_files(package):
        tree = parse(path)
        for module in imported_modules(tree):
            if module.split(".")[0] in EFFECTFUL_MODULES:
                offenders.append(f"{path.relative_to(ROOT)} imports {module}")
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in EFFECTFUL_CALLS
            ):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} calls {node.func.id}")
    assert offenders == []


@pytest.mark.parametrize("package", PACKAGES)
def test_only_the_adapter_imports_z3(package: str) -> None:
    offenders = []
    for path in source_files(package):
        if path == ROOT / "proofs" / "z3adapter.py":
            continue
        for module in imported_modules(parse(path)):
            if module.split(".")[0] == "z3":
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_every_module_opens_with_a_docstring() -> None:
    missing = [
        str(path.relative_to(ROOT))
        for package in PACKAGES
        for path in source_files(package)
        if ast.get_docstring(parse(path)) is None
    ]
    assert missing == []


def test_the_checker_catches_a_wrong_way_import(tmp_path: Path) -> None:
    """The import scan sees a ``spec -> impl`` import, so the tests above can fail."""
    bad = tmp_path / "bad.py"
    bad.write_text('"""x"""\nfrom impl.raft import core\nimport random\n', encoding="utf-8")
    modules = list(imported_modules(parse(bad)))
    assert modules == ["impl.raft", "random"]
