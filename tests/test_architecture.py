"""The layering of DESIGN.md, enforced on the source.

Each rule is a function of a source tree that returns its violations, so that it runs on the
repository (which must have none) and on a small tree with one planted violation (which must
be found: a rule that cannot fail checks nothing). The rules:

- imports point one way between top-level packages (``models`` <- ``impl``, ``spec`` <-
  ``proofs`` <- ``runner``); ``spec`` never imports ``impl``;
- the pure packages (``models``, ``impl``, ``spec``) touch no I/O, clock, randomness, threads,
  logging or dynamic imports (``importlib``, ``__import__``), and keep no module-level mutable
  state (a container at module level is read-only: annotated ``Final`` or as a read-only type,
  and never mutated; no ``global``);
- no import cycle anywhere, counting imports inside functions too;
- inside ``runner/``, layers point one way: the root modules (errors, exit codes, version) <-
  the kernel ``runner/sim`` <- component subpackages (``runner/raft``, ``runner/etcd``, ...)
  <- ``runner/cli``: the kernel imports no component, a component never imports the CLI;
- every component ``impl/<c>`` has ``spec/<c>``, ``tests/<c>`` and ``docs/<c>.md``;
- only the z3 adapter imports z3; every module opens with a docstring.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("models", "impl", "spec", "proofs", "runner")
PURE_PACKAGES = ("models", "impl", "spec")
CYCLE_SCOPE = (*PACKAGES, "tests", "benchmarks")

ALLOWED_IMPORTS: dict[str, frozenset[str]] = {
    "models": frozenset({"models"}),
    "impl": frozenset({"models", "impl"}),
    "spec": frozenset({"models", "spec"}),
    "proofs": frozenset({"models", "impl", "spec", "proofs"}),
    "runner": frozenset(PACKAGES),
}

# Modules that carry effects: a pure package that imports one could do I/O, read a clock, draw
# randomness, start a thread or a process, log, or import code chosen at run time.
EFFECTFUL_MODULES = frozenset(
    {
        "asyncio",
        "concurrent",
        "datetime",
        "http",
        "importlib",
        "io",
        "logging",
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
EFFECTFUL_CALLS = frozenset({"open", "print", "input", "__import__", "exec", "eval"})
MUTABLE_CALLS = frozenset(
    {"list", "dict", "set", "bytearray", "defaultdict", "deque", "Counter", "OrderedDict"}
)
MUTATING_METHODS = frozenset(
    {
        "append",
        "extend",
        "insert",
        "remove",
        "pop",
        "popitem",
        "clear",
        "update",
        "setdefault",
        "add",
        "discard",
        "sort",
        "reverse",
    }
)
READ_ONLY_ANNOTATIONS = frozenset(
    {"Final", "Mapping", "Sequence", "AbstractSet", "Set", "Collection", "Iterable", "tuple"}
)
KNOWN_GAPS: dict[str, str] = {}
"""Rule violations the owners know about, each with why; a test requires every one to still
be real, so an entry must go once it is fixed, and nothing else may be missing."""
RUNNER_KERNEL = "runner.sim"
RUNNER_CLI = "runner.cli"


def source_files(root: Path, package: str) -> Iterator[Path]:
    yield from sorted((root / package).rglob("*.py"))


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(tree: ast.AST) -> Iterator[str]:
    """Every absolute import anywhere in the tree (top level and inside functions)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom) and node.module is not None and node.level == 0:
            yield node.module


def imported_targets(tree: ast.AST, modules: set[str]) -> Iterator[str]:
    """The modules of ``modules`` an import anywhere in the tree loads by name: ``from X import
    Y`` is ``X.Y`` when that is a module (importing a submodule through its package), else
    ``X``. The packages above an imported module are not counted (Python loads them, but no
    code of the importer depends on them)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names if alias.name in modules)
        elif isinstance(node, ast.ImportFrom) and node.module is not None and node.level == 0:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                if submodule in modules:
                    yield submodule
                elif node.module in modules:
                    yield node.module


def parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


# -- rules --------------------------------------------------------------------------------------


def wrong_way_imports(root: Path, package: str) -> list[str]:
    offenders = []
    for path in source_files(root, package):
        for module in imported_modules(parse(path)):
            top = module.split(".")[0]
            if top in PACKAGES and top not in ALLOWED_IMPORTS[package]:
                offenders.append(f"{path.relative_to(root)} imports {module}")
    return sorted(set(offenders))


def effects_in_pure_code(root: Path, package: str) -> list[str]:
    offenders = []
    for path in source_files(root, package):
        tree = parse(path)
        for module in imported_modules(tree):
            if module.split(".")[0] in EFFECTFUL_MODULES:
                offenders.append(f"{path.relative_to(root)} imports {module}")
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in EFFECTFUL_CALLS
            ):
                offenders.append(f"{path.relative_to(root)}:{node.lineno} calls {node.func.id}")
    return sorted(set(offenders))


def _is_mutable_value(value: ast.expr | None) -> bool:
    if isinstance(value, ast.List | ast.Dict | ast.Set | ast.ListComp | ast.DictComp | ast.SetComp):
        return True
    if isinstance(value, ast.Call):
        func = value.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
        return name in MUTABLE_CALLS
    return False


def _read_only_annotation(annotation: ast.expr | None) -> bool:
    if annotation is None:
        return False
    head = annotation.value if isinstance(annotation, ast.Subscript) else annotation
    name = head.id if isinstance(head, ast.Name) else getattr(head, "attr", "")
    return name in READ_ONLY_ANNOTATIONS


def _module_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def _local_names(function: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> set[str]:
    args = function.args
    local = {a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)}
    local.update(a.arg for a in (args.vararg, args.kwarg) if a is not None)
    for node in ast.walk(function):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            local.add(node.id)
    return local


def _mutations(tree: ast.Module, shared: set[str]) -> Iterator[tuple[int, str]]:
    """Mutations of module-level names while the program runs: item stores and deletes,
    mutating method calls, attribute stores inside functions (a function's own local of the same
    name does not count). Setting a table up while the module is imported is not state."""
    scopes: list[tuple[ast.AST, set[str]]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            scopes.append((node, _local_names(node)))
    seen: set[int] = set()
    for scope, local in reversed(scopes):
        for node in ast.walk(scope):
            if id(node) in seen:
                continue
            seen.add(id(node))
            target: ast.expr | None = None
            if isinstance(node, ast.Subscript | ast.Attribute) and isinstance(
                node.ctx, ast.Store | ast.Del
            ):
                target = node.value
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in MUTATING_METHODS
            ):
                target = node.func.value
            if isinstance(target, ast.Name) and target.id in shared and target.id not in local:
                yield target.lineno, target.id


def module_state_in_pure_code(root: Path, package: str) -> list[str]:
    offenders = []
    for path in source_files(root, package):
        tree = parse(path)
        where = path.relative_to(root)
        for node in tree.body:
            value = node.value if isinstance(node, ast.Assign | ast.AnnAssign) else None
            annotation = node.annotation if isinstance(node, ast.AnnAssign) else None
            names = [
                t.id
                for t in (node.targets if isinstance(node, ast.Assign) else [])
                if isinstance(t, ast.Name)
            ]
            if names == ["__all__"]:
                continue
            if _is_mutable_value(value) and not _read_only_annotation(annotation):
                offenders.append(f"{where}:{node.lineno} keeps a mutable container at module level")
        for found in ast.walk(tree):
            if isinstance(found, ast.Global):
                names_text = ", ".join(found.names)
                offenders.append(f"{where}:{found.lineno} declares global {names_text}")
        for line, name in _mutations(tree, _module_names(tree)):
            offenders.append(f"{where}:{line} mutates module-level {name}")
    return sorted(set(offenders))


def import_graph(root: Path, scope: tuple[str, ...]) -> dict[str, set[str]]:
    """Module -> the modules it imports (inside the scope), function-level imports included."""
    paths = {module_name(root, p): p for top in scope for p in source_files(root, top)}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        edges = {m for m in imported_targets(parse(path), set(paths)) if m != name}
        graph[name] = edges
    return graph


def import_cycles(root: Path, scope: tuple[str, ...] = CYCLE_SCOPE) -> list[str]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    graph = import_graph(root, scope)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[str] = []

    def visit(start: str) -> None:
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            advanced = False
            for target in edges:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph[target]))))
                    advanced = True
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    cycles.append(" <-> ".join(sorted(component)))

    for name in sorted(graph):
        if name not in index:
            visit(name)
    return sorted(cycles)


def runner_layer(module: str, subpackages: frozenset[str]) -> int:
    """0: a module directly in ``runner/`` (errors, exit codes, version, input files); 1: the
    kernel; 2: a component subpackage; 3: the CLI."""
    if module.startswith(RUNNER_CLI) or module == "runner.__main__":
        return 3
    if module.startswith(RUNNER_KERNEL):
        return 1
    parts = module.split(".")
    if len(parts) == 1 or (len(parts) == 2 and parts[1] not in subpackages):
        return 0
    return 2


def upward_runner_imports(root: Path) -> list[str]:
    graph = import_graph(root, ("runner",))
    subpackages = frozenset(
        path.name for path in (root / "runner").iterdir() if (path / "__init__.py").exists()
    )
    offenders = []
    for module, edges in sorted(graph.items()):
        layer = runner_layer(module, subpackages)
        for target in sorted(edges):
            if runner_layer(target, subpackages) > layer:
                offenders.append(f"{module} (layer {layer}) imports {target}")
    return offenders


def components_without_companions(root: Path) -> list[str]:
    missing = []
    for component in sorted(p.name for p in (root / "impl").iterdir() if p.is_dir()):
        if component.startswith("_"):
            continue
        for needed in (
            root / "spec" / component,
            root / "tests" / component,
            root / "docs" / f"{component}.md",
        ):
            if not needed.exists():
                missing.append(f"impl/{component} has no {needed.relative_to(root)}")
    return missing


def z3_outside_the_adapter(root: Path, package: str) -> list[str]:
    offenders = []
    for path in source_files(root, package):
        if path == root / "proofs" / "z3adapter.py":
            continue
        for module in imported_modules(parse(path)):
            if module.split(".")[0] == "z3":
                offenders.append(str(path.relative_to(root)))
    return sorted(set(offenders))


def modules_without_docstrings(root: Path) -> list[str]:
    return [
        str(path.relative_to(root))
        for package in PACKAGES
        for path in source_files(root, package)
        if ast.get_docstring(parse(path)) is None
    ]


# -- the repository obeys every rule -------------------------------------------------------------


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_point_one_way(package: str) -> None:
    assert wrong_way_imports(ROOT, package) == []


@pytest.mark.parametrize("package", PURE_PACKAGES)
def test_pure_packages_have_no_effects(package: str) -> None:
    assert effects_in_pure_code(ROOT, package) == []


@pytest.mark.parametrize("package", PURE_PACKAGES)
def test_pure_packages_keep_no_module_level_mutable_state(package: str) -> None:
    assert module_state_in_pure_code(ROOT, package) == []


def test_there_is_no_import_cycle() -> None:
    assert import_cycles(ROOT) == []


def test_runner_layers_point_one_way() -> None:
    assert upward_runner_imports(ROOT) == []


def test_every_component_has_a_spec_tests_and_docs() -> None:
    missing = components_without_companions(ROOT)
    assert [gap for gap in missing if gap not in KNOWN_GAPS] == []


def test_every_known_gap_is_still_real() -> None:
    assert sorted(set(KNOWN_GAPS) - set(components_without_companions(ROOT))) == []


@pytest.mark.parametrize("package", PACKAGES)
def test_only_the_adapter_imports_z3(package: str) -> None:
    assert z3_outside_the_adapter(ROOT, package) == []


def test_every_module_opens_with_a_docstring() -> None:
    assert modules_without_docstrings(ROOT) == []


# -- each rule finds a planted violation ---------------------------------------------------------


def plant(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f'"""planted"""\n{text}', encoding="utf-8")
    return root


def test_the_checker_catches_a_wrong_way_import(tmp_path: Path) -> None:
    """The import scan sees a ``spec -> impl`` import, so the tests above can fail."""
    bad = tmp_path / "bad.py"
    bad.write_text('"""x"""\nfrom impl.raft import core\nimport random\n', encoding="utf-8")
    modules = list(imported_modules(parse(bad)))
    assert modules == ["impl.raft", "random"]
    root = plant(tmp_path / "tree", {"spec/x.py": "def f() -> None:\n    import impl.raft\n"})
    assert wrong_way_imports(root, "spec") == ["spec/x.py imports impl.raft"]


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("import importlib\n", "imports importlib"),
        ("from importlib import import_module\n", "imports importlib"),
        ("x = __import__('os')\n", "calls __import__"),
        ("import logging\n", "imports logging"),
        ("from concurrent.futures import ThreadPoolExecutor\n", "imports concurrent.futures"),
        ("import time\n", "imports time"),
    ],
)
def test_effects_are_found_in_pure_code(tmp_path: Path, text: str, found: str) -> None:
    root = plant(tmp_path, {"impl/c/x.py": text})
    offenders = effects_in_pure_code(root, "impl")
    assert offenders
    assert all(found in offender or "imports" in offender for offender in offenders)
    assert any(found in offender for offender in offenders)


@pytest.mark.parametrize(
    "text",
    [
        "CACHE = {}\n",
        "SEEN: list[int] = []\n",
        "CACHE = dict()\n",
        "TABLE: Final = {1: 2}\ndef f() -> None:\n    TABLE[3] = 4\n",
        "NAMES: Final = (1,)\nSEEN: Final[set[int]] = set()\ndef f() -> None:\n    SEEN.add(1)\n",
        "COUNT = 0\ndef f() -> None:\n    global COUNT\n    COUNT += 1\n",
    ],
)
def test_module_level_mutable_state_is_found(tmp_path: Path, text: str) -> None:
    root = plant(tmp_path, {"models/x.py": "from typing import Final\n" + text})
    assert module_state_in_pure_code(root, "models") != []


def test_read_only_tables_and_locals_are_not_state(tmp_path: Path) -> None:
    text = (
        "from collections.abc import Mapping\nfrom typing import Final\n"
        "__all__ = ['TABLE']\nTABLE: Final = {1: 2}\nNAMES: Mapping[str, int] = {'a': 1}\n"
        "def f() -> dict[int, int]:\n    TABLE = {}\n    TABLE[1] = 2\n    return TABLE\n"
    )
    root = plant(tmp_path, {"models/x.py": text})
    assert module_state_in_pure_code(root, "models") == []


def test_an_import_cycle_is_found_even_through_a_function_level_import(tmp_path: Path) -> None:
    root = plant(
        tmp_path,
        {
            "runner/__init__.py": "",
            "runner/a.py": "import runner.b\n",
            "runner/b.py": "def f() -> None:\n    from runner import c\n",
            "runner/c.py": "from runner.a import x\n",
            "runner/d.py": "import runner.a\n",
        },
    )
    assert import_cycles(root, ("runner",)) == ["runner.a <-> runner.b <-> runner.c"]


@pytest.mark.parametrize(
    ("importer", "imported"),
    [
        ("runner/sim/kernel.py", "runner.raft.world"),
        ("runner/raft/world.py", "runner.cli.main"),
        ("runner/errors.py", "runner.sim.kernel"),
    ],
)
def test_an_upward_runner_import_is_found(tmp_path: Path, importer: str, imported: str) -> None:
    files = {
        "runner/__init__.py": "",
        "runner/errors.py": "",
        "runner/sim/__init__.py": "",
        "runner/sim/kernel.py": "",
        "runner/raft/__init__.py": "",
        "runner/raft/world.py": "from runner.sim import kernel\n",
        "runner/cli/__init__.py": "",
        "runner/cli/main.py": "from runner.raft import world\n",
    }
    files[importer] = f"import {imported}\n"
    root = plant(tmp_path, files)
    offenders = upward_runner_imports(root)
    assert len(offenders) == 1
    assert imported in offenders[0]


def test_a_component_without_spec_tests_or_docs_is_found(tmp_path: Path) -> None:
    root = plant(
        tmp_path,
        {"impl/kubelet/__init__.py": "", "spec/kubelet/__init__.py": "", "docs/kubelet.md": ""},
    )
    assert components_without_companions(root) == ["impl/kubelet has no tests/kubelet"]


def test_z3_outside_the_adapter_is_found(tmp_path: Path) -> None:
    root = plant(tmp_path, {"proofs/x.py": "import z3\n", "proofs/z3adapter.py": "import z3\n"})
    assert z3_outside_the_adapter(root, "proofs") == ["proofs/x.py"]


def test_a_module_without_a_docstring_is_found(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "x.py").write_text("X = 1\n", encoding="utf-8")
    assert modules_without_docstrings(tmp_path) == ["models/x.py"]
