"""The package's import graph has no cycle: every ``import`` and ``from ... import`` of every module under
sdtmgen/, at module level and inside functions (a lazy import hides a cycle; it does not remove it).

Importing ``sdtmgen.a.b`` runs ``sdtmgen/a/__init__.py`` first, so an import of a module is also an edge to
each package around it (except the importer's own packages, which are initialised, or being initialised,
before the importer runs). A package whose ``__init__`` re-exports names lazily (PEP 562 ``__getattr__``
reading a ``_FROM = {name: submodule}`` table) gives an edge to the submodule that holds the name imported.

Documented exceptions, the public API facade: the ``__getattr__`` of ``sdtmgen/__init__.py`` loads
``sdtmgen.api`` on first use of ``sdtmgen.build`` etc., and ``sdtmgen.validate``'s ``__call__`` (the package is
also the function ``sdtmgen.validate(spec)``) loads it when called; both run after the packages are
initialised, and no module of sdtmgen uses them, so these lazy imports are not edges.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "sdtmgen"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _not_run(tree: ast.Module, path: Path) -> set[int]:
    """Nodes whose imports never run: ``if TYPE_CHECKING:`` blocks (and the facade, see above)."""
    skipped = [n for n in ast.walk(tree) if isinstance(n, ast.If)
               and "TYPE_CHECKING" in ast.unparse(n.test)]
    if path == PACKAGE / "__init__.py":
        skipped += [f for f in tree.body if isinstance(f, ast.FunctionDef) and f.name == "__getattr__"]
    if path == PACKAGE / "validate" / "__init__.py":
        skipped += [f for c in tree.body if isinstance(c, ast.ClassDef)
                    for f in c.body if isinstance(f, ast.FunctionDef) and f.name == "__call__"]
    return {id(n) for block in skipped for n in ast.walk(block)}


def _lazy_exports(tree: ast.Module) -> dict[str, str]:
    """A package ``__init__``'s ``_FROM = {name: submodule}`` table of names its ``__getattr__`` loads on use."""
    for node in tree.body:
        if (isinstance(node, ast.Assign) and [ast.unparse(t) for t in node.targets] == ["_FROM"]
                and isinstance(node.value, ast.Dict)):
            return {ast.literal_eval(k): ast.literal_eval(v) for k, v in zip(node.value.keys, node.value.values)
                    if k is not None}
    return {}


def import_graph(files: dict[str, str] | None = None) -> dict[str, set[str]]:
    """Module -> the modules its imports run. ``files`` (module name -> source text) replaces the package's
    own files, for testing the reader."""
    sources = files if files is not None else {
        name: path.read_text(encoding="utf-8") for name, path in _modules().items()}
    modules = set(sources)
    packages = {name.rpartition(".")[0] for name in modules if "." in name}
    lazy = {name: _lazy_exports(ast.parse(sources[name])) for name in packages if name in sources}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, text in sources.items():
        path = PACKAGE.parent.joinpath(*name.split(".")) / "__init__.py" if name in packages \
            else PACKAGE.parent.joinpath(*name.split(".")).with_suffix(".py")
        tree = ast.parse(text, str(path))
        skip = _not_run(tree, path)
        package = name if name in packages else name.rpartition(".")[0]
        own = {name.rsplit(".", k)[0] for k in range(name.count(".") + 1)}  # initialised before this module
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")
                    anchor = anchor[:len(anchor) - node.level + 1]
                    base = ".".join([*anchor, *([base] if base else [])])
                # `from pkg import module` imports the module; `from pkg import name` imports pkg, and the
                # submodule pkg's __getattr__ loads the name from, if pkg re-exports it lazily
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules
                           else f"{base}.{lazy[base][a.name]}" if a.name in lazy.get(base, {}) else base
                           for a in node.names]
            for target in targets:
                while target and target not in modules:  # `import a.b.c` of a name inside a module
                    target = target.rpartition(".")[0]
                # the target and every package around it: `import a.b.c` runs a/__init__ and a/b/__init__
                parts = target.split(".")
                for k in range(1, len(parts) + 1):
                    module = ".".join(parts[:k])
                    if module in modules and module not in own:
                        graph[name].add(module)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as [a, b, ..., a], or None (iterative depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for start in sorted(graph):
        if state.get(start):
            continue
        path, stack = [start], [iter(sorted(graph[start]))]
        state[start] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            elif not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(sorted(graph[nxt])))
    return None


def test_the_graph_reader_sees_lazy_imports_and_finds_cycles():
    graph = import_graph()
    assert "sdtmgen.steps" in graph["sdtmgen.report.build"]  # an import inside report_from_spec
    assert "sdtmgen.report.build" in graph["sdtmgen.pipeline"]  # imports inside build()
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_a_cycle_through_a_package_init_is_found():
    """q imports p.small, which runs p/__init__, which imports p.writer, which imports q: a cycle no import
    statement spells out, found through the edge q -> p."""
    files = {"sdtmgen.p": "from sdtmgen.p.writer import write\n",
             "sdtmgen.p.writer": "from sdtmgen.p.small import TEXT\nfrom sdtmgen.q import helper\n",
             "sdtmgen.p.small": "TEXT = ''\n",
             "sdtmgen.q": "def helper():\n    from sdtmgen.p.small import TEXT\n",
             "sdtmgen.r": "_FROM = {'thing': 'impl'}\n",
             "sdtmgen.r.impl": "thing = 1\n",
             "sdtmgen.s": "from sdtmgen.r import thing\n"}
    graph = import_graph(files)
    assert graph["sdtmgen.q"] == {"sdtmgen.p", "sdtmgen.p.small"}
    assert graph["sdtmgen.p.writer"] == {"sdtmgen.p.small", "sdtmgen.q"}  # its own package is initialised first
    assert graph["sdtmgen.s"] == {"sdtmgen.r", "sdtmgen.r.impl"}  # the lazily re-exported name's module
    assert find_cycle(graph) == ["sdtmgen.p", "sdtmgen.p.writer", "sdtmgen.q", "sdtmgen.p"]
    files["sdtmgen.q"] = "def helper():\n    pass\n"
    assert find_cycle(import_graph(files)) is None


def test_the_package_has_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)
