"""The shape of the code: no import cycle between modules, no two apps importing each other, and the shared
helpers in acsm_portal importing no app. Walks the source (AST), imports nothing.

A module cycle counts the imports run when a module loads (a task importing its service inside its body, as the
styleguide has it, is not one); an app edge counts every import, wherever it stands.
"""

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ("accounts", "cecs", "certifications", "cart", "payments", "audits")
PACKAGES = (*APPS, "acsm_portal")
# The project's own modules that compose the apps (URLs, the dashboard page, settings, the Celery app).
COMPOSERS = ("acsm_portal.urls", "acsm_portal.dashboard", "acsm_portal.demo", "acsm_portal.management",
             "acsm_portal.settings", "acsm_portal.celery", "acsm_portal.tasks", "acsm_portal.wsgi", "acsm_portal.asgi")


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _sources() -> dict[str, Path]:
    return {_module(p): p for package in PACKAGES for p in (ROOT / package).rglob("*.py") if "migrations" not in p.parts}


def _resolve(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(tree: ast.AST, *, at_load: bool):
    """The import statements of ``tree``: all of them, or (``at_load``) those outside function bodies."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif not (at_load and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))):
            yield from _imports(node, at_load=at_load)


def import_graph(*, at_load: bool = False) -> dict[str, set[str]]:
    """Module -> the project modules it imports: every import, or (``at_load``) those run when it loads."""
    sources = _sources()
    graph: dict[str, set[str]] = defaultdict(set)
    for module, path in sources.items():
        for node in _imports(ast.parse(path.read_text(), str(path)), at_load=at_load):
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(module, node, path.name == "__init__.py")
                targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
            for target in targets:
                while target and target not in sources:
                    target = target.rpartition(".")[0]
                if target and target != module and not module.startswith(target + "."):
                    graph[module].add(target)
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    seen, stack = set(), []
    on_stack: set[str] = set()

    def visit(node: str) -> list[str] | None:
        seen.add(node)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt in on_stack:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in seen and (found := visit(nxt)):
                return found
        stack.pop()
        on_stack.discard(node)
        return None

    for start in sorted(graph):
        if start not in seen and (found := visit(start)):
            return found
    return None


def _app(module: str) -> str:
    return module.split(".")[0]


def test_no_module_imports_itself_round_a_cycle():
    graph = import_graph(at_load=True)
    assert _cycle(graph) is None, " -> ".join(_cycle(graph))


def test_no_two_apps_import_each_other():
    apps: dict[str, set[str]] = defaultdict(set)
    for module, targets in import_graph().items():
        for target in targets:
            if _app(module) in APPS and _app(target) in APPS and _app(module) != _app(target):
                apps[_app(module)].add(_app(target))
    assert _cycle(apps) is None, " -> ".join(_cycle(apps))
    # The layers, lowest first: each app may import only those before it.
    order = ["accounts", "cecs", "certifications", "cart", "payments", "audits"]
    upward = sorted((a, b) for a, targets in apps.items() for b in targets if order.index(b) > order.index(a))
    assert upward == []


def test_the_shared_helpers_import_no_app():
    offending = sorted(
        (module, target) for module, targets in import_graph().items() for target in targets
        if _app(module) == "acsm_portal" and not module.startswith(COMPOSERS) and _app(target) in APPS
    )
    assert offending == []


def test_no_app_imports_what_composes_the_apps():
    offending = sorted(
        (module, target) for module, targets in import_graph().items() for target in targets
        if _app(module) in APPS and target.startswith(COMPOSERS)
    )
    assert offending == []


def test_the_walk_finds_what_it_should():
    graph = import_graph()
    assert "certifications.selectors" in graph["acsm_portal.dashboard.selectors"]
    assert "cecs.rules" in graph["certifications.rules"]
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    # An import inside a function body is an app edge, not a load-time one.
    tree = ast.parse("import os\ndef f():\n    import sys\nclass C:\n    import json\n")
    assert [n.names[0].name for n in _imports(tree, at_load=True)] == ["os", "json"]
    assert [n.names[0].name for n in _imports(tree, at_load=False)] == ["os", "sys", "json"]
