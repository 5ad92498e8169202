"""`make wheel-test`: the sdist holds what building needs; the wheel holds the
compiled core, its stub and py.typed.  Usage: python tests/check_dist.py DIST_DIR"""
import glob
import os
import sys
import tarfile
import zipfile

SDIST_NEEDS = ["micrograd/_core.pyx", "micrograd/_core_number.pxi", "micrograd/_core_chain.pxi",
               "micrograd/_core_params.pxi", "micrograd/_core_gradmode.pxi",
               "micrograd/_ccore.pxd", "csrc/mg_ops.def", "csrc/mg_formulas.h",
               "csrc/mg_graph.h", "csrc/mg_graph.c", "csrc/mg_ops.c", "csrc/mg_topo.c",
               "csrc/mg_backward.c", "csrc/mg_optim.c", "csrc/mg_optim.h", "csrc/test_mg.c",
               "csrc/mg_tape.h", "csrc/mg_tape.c", "csrc/mg_replay.c", "csrc/mg_interp.c",
               "csrc/mg_gemm.h", "csrc/mg_gemm.c", "csrc/test_gemm.c", "csrc/mg_peak.c",
               "csrc/mg_peak.h", "csrc/mg_threads.c",
               "tools/regen.py", "setup.py", "pyproject.toml", "README.md", "LICENSE",
               "tests/conftest.py", "tests/test_backward.py"]
WHEEL_MAX = 1_000_000              # bytes: a download a newcomer does not notice
WHEEL_NEEDS = ["micrograd/_core.pyi", "micrograd/functions.pyi", "micrograd/py.typed",
               "micrograd/__init__.py", "micrograd/mg_ops.def", "micrograd/optim/__init__.py",
               "micrograd/bench/__init__.py"]


def main(dist):
    sdist, = glob.glob(os.path.join(dist, "*.tar.gz"))
    wheel, = glob.glob(os.path.join(dist, "*.whl"))
    with tarfile.open(sdist) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    missing = [n for n in SDIST_NEEDS if n not in names]
    with zipfile.ZipFile(wheel) as whl:
        wnames = set(whl.namelist())
    missing += [n for n in WHEEL_NEEDS if n not in wnames]
    if not any(n.startswith("micrograd/_core.") and n.endswith((".so", ".pyd")) for n in wnames):
        missing.append("micrograd/_core.*.so in the wheel")
    # a lean wheel: no generated C, no debug information (the sdist has the sources)
    extra = sorted(n for n in wnames if n.endswith(".c"))
    size = os.path.getsize(wheel)
    if extra or size > WHEEL_MAX:
        print(f"check_dist: the wheel is {size:,} bytes (at most {WHEEL_MAX:,}) and holds "
              f"{extra or 'no C'}")
        return 1
    if missing:
        print("check_dist: missing " + ", ".join(missing))
        return 1
    print(f"check_dist: {os.path.basename(sdist)} and {os.path.basename(wheel)} hold what they need")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
