"""Build micrograd._core (Cython over csrc/) unless MICROGRAD_PUREPYTHON is set."""
import os
from setuptools import setup

CFLAGS = ["-O2", "-std=c99", "-ffp-contract=off", "-fno-fast-math", "-Wall", "-Wextra"]
if os.environ.get("MICROGRAD_DEBUG", "") not in ("", "0"):
    CFLAGS = ["-O0", "-g3", "-UNDEBUG", "-std=c99", "-ffp-contract=off"]
CFLAGS += os.environ.get("MICROGRAD_EXTRA_CFLAGS", "").split()


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


setup(ext_modules=extensions())
