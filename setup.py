"""Build micrograd._core (Cython over csrc/) unless MICROGRAD_PUREPYTHON is set.

A compile that fails is an error, never a silent fall back to the reference:
MICROGRAD_PUREPYTHON=1 is how to ask for a pure-Python install.
"""
import os

from setuptools import setup
from setuptools.command.build_ext import build_ext

CFLAGS = ["-O2", "-std=c99", "-ffp-contract=off", "-fno-fast-math", "-Wall", "-Wextra"]
if os.environ.get("MICROGRAD_DEBUG", "") not in ("", "0"):
    CFLAGS = ["-O0", "-g3", "-UNDEBUG", "-std=c99", "-ffp-contract=off"]
CFLAGS += os.environ.get("MICROGRAD_EXTRA_CFLAGS", "").split()


# MSVC spells the same intent differently: no fast-math, no contraction.
MSVC_FLAGS = ["/O2", "/fp:precise"]


class BuildExt(build_ext):
    def build_extensions(self):
        if self.compiler.compiler_type == "msvc":
            for ext in self.extensions:
                ext.extra_compile_args = MSVC_FLAGS
        super().build_extensions()


def extensions():
    if os.environ.get("MICROGRAD_PUREPYTHON", "") not in ("", "0"):
        return []
    from Cython.Build import cythonize
    from setuptools import Extension
    csrc = sorted(os.path.join("csrc", f) for f in os.listdir("csrc")
                  if f.startswith("mg_") and f.endswith(".c"))
    # recorded in the module, for `python -m micrograd` and bug reports
    macros = [("MG_BUILD_CFLAGS", '"' + " ".join(CFLAGS).replace('"', "'") + '"')]
    ext = Extension("micrograd._core", ["micrograd/_core.pyx"] + csrc,
                    include_dirs=["csrc"], extra_compile_args=CFLAGS, define_macros=macros,
                    extra_link_args=os.environ.get("MICROGRAD_EXTRA_LDFLAGS", "").split())
    return cythonize([ext], compiler_directives={"language_level": 3})


setup(ext_modules=extensions(), cmdclass={"build_ext": BuildExt})
