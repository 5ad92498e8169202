"""Backend selection (one module decides) and API parity of the twins."""
import os
import subprocess
import sys
import threading

import pytest

import micrograd
from micrograd import _backend, _core_py

from conftest import CORE

BLOCK_CORE = """
import sys, importlib.abc
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "micrograd._core":
            raise ImportError("blocked for the test")
sys.meta_path.insert(0, Block())
"""


def run_py(code, **env):
    full_env = {k: v for k, v in os.environ.items()
                if k not in ("MICROGRAD_PUREPYTHON", "MICROGRAD_REQUIRE_CORE")}
    full_env.update(env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=full_env, timeout=120)


def test_public_names_come_from_the_chosen_backend():
    impl = _backend.impl
    assert micrograd.BACKEND == impl.BACKEND
    assert micrograd.Number is impl.Number and micrograd.sum is impl.sum
    assert micrograd.dot is impl.dot and micrograd.no_grad is impl.no_grad
    if os.environ.get("MICROGRAD_PUREPYTHON", "") not in ("", "0"):
        assert micrograd.BACKEND == "python" and impl is _core_py
    elif CORE is not None:
        assert micrograd.BACKEND == "core" and impl is CORE


def test_purepython_env_forces_the_reference():
    proc = run_py("import micrograd; print(micrograd.BACKEND, micrograd._backend.REASON)",
                  MICROGRAD_PUREPYTHON="1")
    assert proc.stdout.split()[0] == "python" and "MICROGRAD_PUREPYTHON" in proc.stdout


@pytest.mark.core
@pytest.mark.skipif(CORE is None, reason="micrograd._core is not built")
def test_core_is_default_when_built():
    proc = run_py("import micrograd; print(micrograd.BACKEND)")
    assert proc.stdout.strip() == "core", proc.stderr


def test_missing_core_falls_back_unless_required():
    proc = run_py(BLOCK_CORE + "import micrograd; print(micrograd.BACKEND, micrograd._backend.REASON)")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("python") and "blocked for the test" in proc.stdout
    proc = run_py(BLOCK_CORE + "import micrograd", MICROGRAD_REQUIRE_CORE="1")
    assert proc.returncode != 0
    assert "ImportError: MICROGRAD_REQUIRE_CORE is set" in proc.stderr


def test_pickle_loads_into_the_active_backend():
    code = ("import pickle, micrograd; n = micrograd.Number(1.5); n.gradient = -2.0; "
            "import sys; sys.stdout.buffer.write(pickle.dumps(n))")
    blob = subprocess.run([sys.executable, "-c", code], capture_output=True,
                          env=dict(os.environ), timeout=60).stdout
    for env in ({"MICROGRAD_PUREPYTHON": "1"}, {}):
        proc = run_py(f"import pickle, micrograd; n = pickle.loads(bytes.fromhex('{blob.hex()}')); "
                      "print(type(n) is micrograd.Number, n.value, n.gradient)", **env)
        assert proc.stdout.split() == ["True", "1.5", "-2.0"], proc.stderr


@pytest.mark.core
def test_twins_export_the_same_api(both):
    core, py = both
    assert set(core.__all__) == set(py.__all__)
    public = lambda cls: {n for n in dir(cls) if not n.startswith("_")}  # noqa: E731
    assert public(core.Number) == public(py.Number)
    assert core.BACKEND == "core" and py.BACKEND == "python"


def test_no_grad_is_per_thread(impl):
    seen = []
    with impl.no_grad():
        t = threading.Thread(target=lambda: seen.append(impl.is_grad_enabled()))
        t.start()
        t.join()
        assert not impl.is_grad_enabled()
    assert seen == [True]


def test_both_backends_provide_the_interface_and_no_more_in_public(impl):
    """micrograd._backend.INTERFACE is the one list of what a backend module
    provides: each has every name, and its __all__ is the public ones."""
    from micrograd import _backend
    assert [n for n in _backend.INTERFACE if not hasattr(impl, n)] == []
    assert sorted(impl.__all__) == sorted(_backend.PUBLIC)


def test_only_the_reference_imports_its_parts():
    """The reference's parts (micrograd/_*_py.py) are imported by each other
    and by micrograd._core_py, the reference backend module; everything else
    reaches a backend through micrograd._backend (optim/clipping.py took
    fdiv and cpow from _ops_py)."""
    import ast
    import micrograd
    root = os.path.dirname(micrograd.__file__)
    parts = {f[:-3] for f in os.listdir(root) if f.startswith("_") and f.endswith("_py.py")}
    bad = []
    for folder, _, files in os.walk(root):
        for name in files:
            if not name.endswith(".py") or name[:-3] in parts:
                continue
            with open(os.path.join(folder, name), encoding="utf-8") as f:
                tree = ast.parse(f.read())
            for node in ast.walk(tree):
                names = []
                if isinstance(node, ast.ImportFrom):
                    names = [node.module or ""] + [a.name for a in node.names]
                elif isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                hit = [n for n in names if n.split(".")[-1] in parts - {"_core_py"}]
                if hit:
                    bad.append((os.path.relpath(os.path.join(folder, name), root), hit))
    assert bad == []


def test_an_unbuilt_checkout_says_so_once_on_stderr(monkeypatch, capsys):
    """A checkout whose core was never built fell back to the reference in
    silence, and `python -m micrograd` called it a pure-Python install.  Now
    a source tree says how to build, on stderr, once; an install says what
    it is, and nothing on stderr."""
    import importlib.util
    from micrograd import _backend
    monkeypatch.delenv("MICROGRAD_PUREPYTHON", raising=False)
    monkeypatch.delenv("MICROGRAD_REQUIRE_CORE", raising=False)
    import micrograd
    monkeypatch.setitem(sys.modules, "micrograd._core", None)     # import fails
    monkeypatch.delattr(micrograd, "_core", raising=False)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    module, reason = _backend._pick()
    err = capsys.readouterr().err
    assert module.BACKEND == "python"
    if _backend.in_source_tree():
        assert reason == _backend.UNBUILT and "make build" in reason
        assert err.count("\n") == 1 and "make build" in err
    else:
        assert reason.startswith("this is a pure-Python install") and err == ""
