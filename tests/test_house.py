"""The house: every module imports on its own, and imports form no cycle."""
import ast
import importlib.util
import os
import random
import subprocess
import sys

import pytest

import micrograd

PKG = os.path.dirname(os.path.abspath(micrograd.__file__))
MODULES = sorted(f[:-3] for f in os.listdir(PKG) if f.endswith(".py") and f != "__main__.py")
# the one import that may sit inside a function: the backend switch itself,
# which imports the compiled core only when it is wanted
ALLOWED_INNER = {("_backend", "_core"), ("demo", "matplotlib"), ("demo", "matplotlib.pyplot"),
                 ("viz", "graphviz"), ("cli", None), ("bench", None), ("bench_mlp", None)}


def _tree(name):
    with open(os.path.join(PKG, name + ".py"), encoding="utf-8") as f:
        return ast.parse(f.read())


def _package_imports(tree):
    """The micrograd modules a module imports, wherever the import sits."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                out.add(node.module.split(".")[0])
            else:
                out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("micrograd"):
            parts = node.module.split(".")
            out.update([parts[1]] if len(parts) > 1 else [a.name for a in node.names])
    return {m for m in out if m in MODULES}


def test_no_import_cycle():
    graph = {m: _package_imports(_tree(m)) for m in MODULES}
    state = {}

    def visit(m, path):
        if state.get(m) == "done":
            return
        assert state.get(m) != "open", "import cycle: " + " -> ".join(path + [m])
        state[m] = "open"
        for dep in sorted(graph[m]):
            visit(dep, path + [m])
        state[m] = "done"

    for m in MODULES:
        visit(m, [])


@pytest.mark.parametrize("module", MODULES)
def test_imports_sit_at_the_top(module):
    """No import below code, and none inside a function to dodge a cycle."""
    tree = _tree(module)
    seen_code = False
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            assert not seen_code, f"{module}: import below code at line {node.lineno}"
        elif not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)):
            if not isinstance(node, ast.If):       # `if TYPE_CHECKING:` blocks
                seen_code = True
    for fn in ast.walk(tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(fn):
                if isinstance(node, ast.ImportFrom) and node.level == 1:
                    target = node.module or node.names[0].name
                    assert (module, target) in ALLOWED_INNER or (module, None) in ALLOWED_INNER, \
                        f"{module}.{fn.name} imports {target} inside a function"


@pytest.mark.slow
def test_every_module_imports_first_in_a_fresh_interpreter():
    # optimize needs scipy, an optional extra: without it, its ImportError naming
    # the extra is tested in tests/test_optimize.py
    modules = [m for m in MODULES
               if m != "optimize" or importlib.util.find_spec("scipy") is not None]
    orders = [[m] for m in modules] + [random.Random(seed).sample(modules, len(modules))
                                       for seed in range(3)]
    code = "import importlib, sys\nfor m in sys.argv[1:]: importlib.import_module('micrograd.' + m)"
    for order in orders:
        out = subprocess.run([sys.executable, "-c", code] + order, capture_output=True, text=True)
        assert out.returncode == 0, (order, out.stderr[-2000:])
