"""Build micrograd._core (Cython over csrc/) unless MICROGRAD_PUREPYTHON is set.

A compile that fails is an error, never a silent fall back to the reference:
MICROGRAD_PUREPYTHON=1 is how to ask for a pure-Python install.  Either way
the package carries the op table, csrc/mg_ops.def, which the reference reads.
"""
import os
import shutil

from setuptools import setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py

OP_TABLE = os.path.join("csrc", "mg_ops.def")


def _flag(name):
    """As micrograd._backend.flag: unset, empty, 0, false, no and off are off."""
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no", "off")


# -pthread: csrc/mg_threads.c (a tape's threads)
CFLAGS = ["-O2", "-std=c99", "-ffp-contract=off", "-fno-fast-math", "-Wall", "-Wextra", "-pthread"]
if _flag("MICROGRAD_DEBUG"):
    CFLAGS = ["-O0", "-g3", "-UNDEBUG", "-std=c99", "-ffp-contract=off"]
CFLAGS += os.environ.get("MICROGRAD_EXTRA_CFLAGS", "").split()


# -Wl,-S: no debug information in the module (GNU ld and Apple's ld alike);
# it made the wheel's .so 5.9 MB where 1.1 MB runs the same code.  Kept for a
# debug build and for one that asks for it (make sanitize's -g: its reports
# name lines).
_KEEP_DEBUG = _flag("MICROGRAD_DEBUG") or any(f.startswith("-g") for f in CFLAGS)
LDFLAGS = [] if os.name == "nt" else ["-pthread"] + ([] if _KEEP_DEBUG else ["-Wl,-S"])

# MSVC spells the same intent differently: no fast-math, no contraction.
MSVC_FLAGS = ["/O2", "/fp:precise"]


class BuildExt(build_ext):
    def build_extensions(self):
        if self.compiler.compiler_type == "msvc":
            for ext in self.extensions:
                ext.extra_compile_args = MSVC_FLAGS
        super().build_extensions()


class BuildPy(build_py):
    """Copies the op table into the package, where micrograd._optable looks."""

    def run(self):
        super().run()
        target = os.path.join(self.build_lib, "micrograd", "mg_ops.def")
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copyfile(OP_TABLE, target)


def _regen():
    """tools/regen.py, which writes the core's part made from the table."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("_mg_regen", os.path.join("tools", "regen.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def extensions():
    if _flag("MICROGRAD_PUREPYTHON"):
        return []
    from Cython.Build import cythonize
    _regen().write_core_table()
    from setuptools import Extension
    csrc = sorted(os.path.join("csrc", f) for f in os.listdir("csrc")
                  if f.startswith("mg_") and f.endswith(".c"))
    # recorded in the module, for `python -m micrograd` and bug reports
    macros = [("MG_BUILD_CFLAGS", '"' + " ".join(CFLAGS).replace('"', "'") + '"')]
    depends = sorted(os.path.join("csrc", f) for f in os.listdir("csrc")
                     if f.endswith((".h", ".def")))
    ext = Extension("micrograd._core", ["micrograd/_core.pyx"] + csrc,
                    include_dirs=["csrc"], depends=depends, extra_compile_args=CFLAGS,
                    define_macros=macros,
                    extra_link_args=LDFLAGS
                    + os.environ.get("MICROGRAD_EXTRA_LDFLAGS", "").split())
    return cythonize([ext], compiler_directives={"language_level": 3})


setup(ext_modules=extensions(), cmdclass={"build_ext": BuildExt, "build_py": BuildPy})
