"""Types and the installed layout: the stub agrees with the built module, a
typed user program passes `mypy --strict`, and the package ships py.typed."""
import os
import subprocess
import sys

import pytest

import micrograd

from conftest import CORE

HERE = os.path.dirname(os.path.abspath(__file__))
CONFIG = os.path.join(os.path.dirname(HERE), "pyproject.toml")


def mypy(*args):
    pytest.importorskip("mypy", reason="mypy is not installed (the test extra has it)")
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True,
                          cwd=os.path.dirname(HERE), timeout=600)


@pytest.mark.core
@pytest.mark.skipif(CORE is None, reason="micrograd._core is not built")
def test_stub_agrees_with_the_built_module():
    proc = mypy("mypy.stubtest", "micrograd._core", "--mypy-config-file", CONFIG)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_typed_user_program_passes_mypy_strict():
    proc = mypy("mypy", "--strict", "--config-file", CONFIG,
                os.path.join(HERE, "typed_example.py"))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_typed_user_program_runs():
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(micrograd.__file__)))
    proc = subprocess.run([sys.executable, os.path.join(HERE, "typed_example.py")],
                          capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr


def test_package_ships_its_types():
    pkg = os.path.dirname(micrograd.__file__)
    assert os.path.exists(os.path.join(pkg, "py.typed"))
    if CORE is not None:
        assert os.path.exists(os.path.join(pkg, "_core.pyi"))


def test_one_version_source():
    from micrograd import _version
    assert micrograd.__version__ == _version.__version__
    try:
        from importlib.metadata import PackageNotFoundError, version
        assert version("micrograd-core") == micrograd.__version__
    except PackageNotFoundError:
        pytest.skip("micrograd-core is not installed as a distribution (a bare checkout)")


def test_cibuildwheel_configuration():
    if not __import__("shutil").which("cibuildwheel"):
        pytest.skip("cibuildwheel is not installed (pip install cibuildwheel to check this)")
    for platform, tag in (("linux", "manylinux_x86_64"), ("macos", "macosx_arm64"),
                          ("windows", "win_amd64")):
        proc = subprocess.run(["cibuildwheel", "--print-build-identifiers", "--platform", platform],
                              capture_output=True, text=True, cwd=os.path.dirname(HERE),
                              timeout=120)
        assert proc.returncode == 0, proc.stderr
        ids = proc.stdout.split()
        assert [f"cp3{m}-{tag}" in ids for m in range(9, 14)] == [True] * 5, ids
        assert not any(i.startswith(("cp38", "cp314", "pp")) for i in ids)


def test_every_subpackage_is_packaged():
    """A folder of the package with an __init__.py must be listed in
    pyproject.toml, or the wheel silently leaves it out."""
    tomllib = pytest.importorskip("tomllib", reason="tomllib is Python 3.11+")
    with open(CONFIG, "rb") as f:
        listed = set(tomllib.load(f)["tool"]["setuptools"]["packages"])
    root = os.path.dirname(HERE)
    if not os.path.isfile(os.path.join(root, "micrograd", "__init__.py")):
        pytest.skip("needs the source tree (the tests run outside it, against a wheel)")
    found = {os.path.relpath(d, root).replace(os.sep, ".")
             for d, _, files in os.walk(os.path.join(root, "micrograd"))
             if "__init__.py" in files and "__pycache__" not in d}
    assert found == listed
