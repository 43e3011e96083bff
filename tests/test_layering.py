"""The layers: theory ← numerics ← verify. theory/ imports neither numerics/ nor verify/; numerics/ does not
import verify/; and no package module imports itself back through a cycle (function-level imports count)."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYERS = {"theory": 0, "numerics": 1, "verify": 2}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path) -> set[str]:
    """Every package module ``path`` imports, at any depth of its code."""
    tree = ast.parse(path.read_text())
    here = module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            out.add(base)
            out.update(f"{base}.{a.name}" for a in node.names)
    return {m for m in out if m.split(".")[0] in LAYERS}


def graph() -> dict[str, set[str]]:
    files = {module_name(p): p for layer in LAYERS for p in (ROOT / layer).rglob("*.py")}
    return {name: {m for m in imports(p) if m in files and m != name} for name, p in files.items()}


def test_no_upward_import():
    bad = [f"{a} imports {b}" for a, deps in graph().items() for b in deps
           if LAYERS[b.split(".")[0]] > LAYERS[a.split(".")[0]]]
    assert not bad, "\n".join(bad)


def test_no_import_cycle():
    g = graph()
    # a package's __init__ re-exporting its own submodules is not a cycle of separate modules
    g = {a: {b for b in deps if not (b.startswith(a + ".") or a.startswith(b + "."))} for a, deps in g.items()}
    state, cycles = {}, []

    def visit(node, stack):
        state[node] = 1
        for nxt in sorted(g[node]):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = 2

    for node in sorted(g):
        if node not in state:
            visit(node, [node])
    assert not cycles, "\n".join(cycles)
