"""The layout keeps its shape: imports flow one way, no module reads another's private names,
every module says what it holds.

The import graph is read from the source (every `import`, at the top of a
module or inside a function), so an import moved into a function to get
round a cycle still counts as the cycle it is.
"""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def modules(root: Path) -> dict[str, Path]:
    """Module name -> file, for dsl/, interpreter/ and cli.py under `root`."""
    files = [*root.glob("dsl/**/*.py"), *root.glob("interpreter/**/*.py"), root / "cli.py"]
    out = {}
    for path in files:
        if path.is_file():
            parts = list(path.relative_to(root).with_suffix("").parts)
            out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def imports(name: str, path: Path, known: dict[str, Path]) -> list[tuple[str, str, int]]:
    """(module imported, name taken from it or "", line) for each import of a project module in `path`."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(alias.name, "", node.lineno) for alias in node.names if alias.name in known]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            for alias in node.names:
                if f"{base}.{alias.name}" in known:
                    found.append((f"{base}.{alias.name}", "", node.lineno))
                elif base in known:
                    found.append((base, alias.name, node.lineno))
    return found


def graph(root: Path) -> dict[str, set[str]]:
    known = modules(root)
    return {name: {target for target, _, _ in imports(name, path, known)} - {name} for name, path in known.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Each import cycle, as the modules along it (depth-first search, one cycle per back edge)."""
    found, state, path = [], {}, []

    def visit(node: str) -> None:
        state[node] = "open"
        path.append(node)
        for target in sorted(edges.get(node, ())):
            if state.get(target) == "open":
                found.append(path[path.index(target) :] + [target])
            elif target not in state:
                visit(target)
        path.pop()
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node)
    return found


def layer_problems(edges: dict[str, set[str]]) -> list[str]:
    """Imports against the one direction `dsl` <- `interpreter` <- `cli`."""
    out = []
    for source, targets in sorted(edges.items()):
        for target in sorted(targets):
            if source.split(".")[0] == "dsl" and target.split(".")[0] in ("interpreter", "cli"):
                out.append(f"{source} imports {target}")
            if source.split(".")[0] == "interpreter" and target == "cli":
                out.append(f"{source} imports {target}")
    return out


def private_reads(root: Path) -> list[str]:
    """`from x import _name`, and `x._name` on an imported project module, in another module than x."""
    known = modules(root)
    out = []
    for name, path in sorted(known.items()):
        found = imports(name, path, known)
        out += [
            f"{path.relative_to(root)}:{line}: from {target} import {taken}"
            for target, taken, line in found
            if taken.startswith("_") and not taken.startswith("__")
        ]
        aliases = {}
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for alias in node.names:
                    full = alias.name if isinstance(node, ast.Import) else f"{node.module}.{alias.name}"
                    if full in known and full != name:
                        aliases[alias.asname or alias.name.split(".")[-1]] = full
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in aliases
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
            ):
                out.append(f"{path.relative_to(root)}:{node.lineno}: {aliases[node.value.id]}.{node.attr}")
    return out


def undocumented(root: Path) -> list[str]:
    """Modules that do not open with a docstring saying what they hold."""
    out = []
    for path in modules(root).values():
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
        if not doc or len(doc.split()) < 5:
            out.append(str(path.relative_to(root)))
    return sorted(out)


def test_there_is_no_import_cycle():
    assert cycles(graph(ROOT)) == []


def test_imports_flow_from_cli_to_interpreter_to_dsl():
    assert layer_problems(graph(ROOT)) == []


def test_no_module_reads_another_modules_private_names():
    assert private_reads(ROOT) == []


def test_every_module_opens_with_a_docstring_saying_what_it_holds():
    assert undocumented(ROOT) == []


def test_the_checks_find_what_they_look_for(tmp_path):
    """A cycle hidden in a function, an import against the layers, a private name, a module without docstring."""
    files = {
        "dsl/__init__.py": '"""Reading plans, for this test only."""\n',
        "dsl/a.py": '"""Module a, which imports b."""\nfrom dsl import b\nfrom interpreter.y import run\n',
        "dsl/b.py": '"""Module b, which imports a late."""\ndef f():\n    from dsl.a import g\n',
        "interpreter/__init__.py": "",
        "interpreter/x.py": '"""Module x of the interpreter."""\nfrom dsl import b\nfrom dsl.b import _hidden\nimport cli\nb._inner\n',
        "interpreter/y.py": '"""Module y of the interpreter."""\n',
        "cli.py": '"""The command line of this test."""\n',
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(textwrap.dedent(text))
    edges = graph(tmp_path)
    assert cycles(edges) == [["dsl.a", "dsl.b", "dsl.a"]]
    assert layer_problems(edges) == ["dsl.a imports interpreter.y", "interpreter.x imports cli"]
    assert private_reads(tmp_path) == ["interpreter/x.py:3: from dsl.b import _hidden", "interpreter/x.py:5: dsl.b._inner"]
    assert undocumented(tmp_path) == ["interpreter/__init__.py"]
