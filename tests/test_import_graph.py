"""No import circle among our own modules: the import graph (ast, function-level imports included) has no cycle."""
import ast
from pathlib import Path

from tests.conftest import ROOT

SKIP = {"tests", "log", "runs", "data", "checkpoints", "config", "docs"}  # not importable code of the house


def our_modules(root: Path = ROOT) -> dict[str, Path]:
    """Dotted name -> file of every module in our top-level modules and packages (tests excluded)."""
    modules = {}
    for path in sorted(root.glob("*.py")):
        modules[path.stem] = path
    for package in sorted(p for p in root.iterdir() if p.is_dir() and p.name not in SKIP):
        if not (package / "__init__.py").is_file() and not any(package.glob("*.py")):
            continue
        for path in sorted(package.rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Our modules that `name` imports anywhere in its file (module level, functions, try blocks)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()

    def ours(dotted: str):
        while dotted and dotted not in modules:  # `import a.b.c` of an attribute path: the module part
            dotted = dotted.rpartition(".")[0]
        if dotted and dotted != name:
            found.add(dotted)

    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                ours(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1] if package else []
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            for alias in node.names:
                full = f"{stem}.{alias.name}" if stem else alias.name
                ours(full if full in modules else stem)
    return found


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    """Every module that `start` imports, directly or through others (itself only if it is on a circle)."""
    seen, todo = set(), list(graph[start])
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            todo.extend(graph.get(node, ()))
    return seen


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each group of modules that import one another in a circle, as a sorted list of names."""
    reach = {node: reachable(graph, node) for node in graph}
    cycles, placed = [], set()
    for node in sorted(graph):
        if node in reach[node] and node not in placed:
            circle = sorted(other for other in reach[node] if node in reach[other])
            placed.update(circle)
            cycles.append(circle)
    return cycles


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    modules = our_modules(root)
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def test_the_checker_finds_a_planted_circle(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "a.py").write_text("from pkg.b import thing\n")
    (tmp_path / "pkg" / "b.py").write_text("def thing():\n    from . import c\n")
    (tmp_path / "pkg" / "c.py").write_text("import pkg.a\n")
    (tmp_path / "top.py").write_text("import pkg.a\n")
    graph = import_graph(tmp_path)
    assert graph["top"] == {"pkg.a"}
    assert find_cycles(graph) == [["pkg.a", "pkg.b", "pkg.c"]]


def test_no_import_circle():
    graph = import_graph()
    assert "engine.train" in graph and "footage.frames" in graph  # the walk sees the house
    cycles = find_cycles(graph)
    assert not cycles, "import circles: " + "; ".join(" <-> ".join(c) for c in cycles)


# lower layers never import higher ones (same layer: allowed); top-level modules not listed are the CLIs
LAYERS = {"modules": 0, "atomic": 0, "errors": 0, "output_paths": 0, "cli_types": 0, "registry": 0, "reporting": 0,
          "video": 1, "faces": 1, "motion": 1, "footage": 1,
          "engine": 2, "stages": 2, "evaluation": 2, "webapp": 3}


def test_imports_point_one_way():
    upward = []
    for name, deps in sorted(import_graph().items()):
        layer = LAYERS.get(name.split(".")[0])
        if layer is None or layer == 3:  # a CLI, or the app (which runs the CLIs' own parse and call)
            continue
        for dep in sorted(deps):
            dep_layer = LAYERS.get(dep.split(".")[0], 4)  # 4: a CLI
            if dep_layer > layer or (name.startswith("modules") and not dep.startswith("modules")):
                upward.append(f"{name} -> {dep}")
    assert not upward, "imports against the arrows (CLIs -> engine/stages/evaluation -> footage/faces/motion/video " \
                       "-> modules): " + "; ".join(upward)
