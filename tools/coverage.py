"""Line and branch coverage of the tape's C (``make coverage``).

    python tools/coverage.py [--as-built] [--reuse] [pytest arguments]

Never touches the in-place build: copies micrograd/, csrc/, tests/, tools/,
setup.py and pyproject.toml (and README.md and LICENSE, which the package
metadata names) into build/coverage/src, fresh each time; builds the core
there with gcov instrumentation (MICROGRAD_EXTRA_CFLAGS="--coverage -O0
-fprofile-update=atomic", MICROGRAD_EXTRA_LDFLAGS="--coverage"); checks that
the core the tests import is that instrumented copy; runs tests/test_tape*.py
and tests/test_forward.py and tests/test_custom_op.py (a tape's custom-op
callbacks) there; then runs ``gcov -b -c`` on the objects of
csrc/mg_replay.c, mg_tape.c, mg_gemm.c, mg_interp.c and mg_forward.c (forward
mode on graphs) and prints, per file, the
lines executed, the branches executed and the branches taken at least once,
and, for all but mg_interp.c, every function never called and every branch
never taken, by line.  The gcov reports stay in build/coverage/gcov.

--reuse keeps the instrumented build of the last run and copies only tests/
again (iterating on tests); --as-built measures mg_replay.c as it is built
(see below).

What the numbers mean:
- mg_replay.c starts with ``#pragma GCC optimize("O3", ...)``, which overrides
  -O0 for its functions (O3's if-conversion and loop versioning hide source
  branches and add their own), and its MG_VECTOR functions are
  target_clones("avx2", "default"): each is compiled twice plus a resolver,
  and gcov lists every branch once per clone, so on a machine with AVX2 the
  "default" clone's branches all show as never executed; for the per-op
  kernels (below) the clones' branches come as one list that cannot be told
  apart.  So by default both are blanked in the copy (lines keep their
  numbers): the report is of the source's branches.  With --as-built they
  stay, and "clones merged" counts a branch of a cloned function as taken
  if any clone took it (gcov's own summary, printed first, does not).
- The per-op kernels come from ``#include "mg_ops.def"`` inside macros
  (LOOP1/LOOP2, BWD1, ADD_TO); gcov attributes them to mg_ops.def's lines, so
  they are reported as ``mg_ops.def`` lines, one per op, under the file that
  includes them; a line's branches are its forward and backward kernels'.
"""
import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "build", "coverage")
SRC = os.path.join(OUT, "src")
GCOV_DIR = os.path.join(OUT, "gcov")
COPIED = ["micrograd", "csrc", "tests", "tools", "setup.py", "pyproject.toml",
          "README.md", "LICENSE"]
FILES = ["mg_replay.c", "mg_tape.c", "mg_gemm.c", "mg_interp.c", "mg_forward.c"]
DETAILED = ["mg_replay.c", "mg_tape.c", "mg_gemm.c", "mg_forward.c"]
# build products of the in-place build that must not come along
SKIP = shutil.ignore_patterns("__pycache__", "*.so", "*.o", "*.gcda", "*.gcno", "_core.c",
                              "_core.html", ".hypothesis", ".pytest_cache")


def step(text):
    print(f"coverage: {text}", flush=True)


def copy_tree():
    if os.path.exists(SRC):
        shutil.rmtree(SRC)
    os.makedirs(SRC)
    for name in COPIED:
        src = os.path.join(ROOT, name)
        if os.path.isdir(src):
            shutil.copytree(src, os.path.join(SRC, name), ignore=SKIP)
        elif os.path.exists(src):
            shutil.copy2(src, os.path.join(SRC, name))


def environment():
    env = dict(os.environ)
    env.pop("MICROGRAD_PUREPYTHON", None)
    # atomic counters: the tests replay on two threads too
    env["MICROGRAD_EXTRA_CFLAGS"] = "--coverage -O0 -fprofile-update=atomic"
    env["MICROGRAD_EXTRA_LDFLAGS"] = "--coverage"
    env["PYTHONPATH"] = SRC
    env["MICROGRAD_REQUIRE_CORE"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def build(env):
    subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "--inplace"], cwd=SRC,
                   env=env, check=True)


def verify_import(env):
    """The core the tests import is the instrumented one of the copy."""
    probe = ("import micrograd._core as c, micrograd; "
             "print(c.__file__); print(micrograd.__file__); print(c.BUILD_INFO['cflags'])")
    out = subprocess.run([sys.executable, "-c", probe], cwd=SRC, env=env, check=True,
                         capture_output=True, text=True).stdout.splitlines()
    core, package, cflags = out[0], out[1], out[2]
    inside = os.path.realpath(SRC) + os.sep
    if not (os.path.realpath(core).startswith(inside)
            and os.path.realpath(package).startswith(inside) and "--coverage" in cflags):
        sys.exit(f"coverage: the tests would import {core} (package {package}, "
                 f"cflags {cflags!r}), not the instrumented copy in {SRC}")
    step(f"the tests import {os.path.relpath(core, ROOT)} (cflags: {cflags})")


def objects_dir():
    """Where setup.py put the objects of csrc/ (and gcov its .gcno/.gcda)."""
    for dirpath, _, files in os.walk(os.path.join(SRC, "build")):
        if "mg_replay.gcno" in files or "mg_replay.o" in files:
            return dirpath
    sys.exit("coverage: no object of csrc/mg_replay.c with gcov notes was found")


def run_tests(env, extra):
    tests = sorted(os.path.join("tests", f) for f in os.listdir(os.path.join(SRC, "tests"))
                   if (f.startswith("test_tape") and f.endswith(".py"))
                   or f in ("test_forward.py", "test_custom_op.py"))
    # the Ctrl-C test replays 200,000 lanes in a subprocess before it signals:
    # minutes in a -O0 gcov build, and it exercises no lowering
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests,
           "-k", "not ctrl_c", *extra]
    step("running " + " ".join(cmd[1:]))
    return subprocess.run(cmd, cwd=SRC, env=env).returncode


# -- gcov's text output ----------------------------------------------------------------------
FUNCTION = re.compile(r"^function (\S+) called (\d+) returned \S+ blocks executed (\S+)")
BRANCH = re.compile(r"^branch\s+(\d+) (never executed|taken (\d+))")
LINE = re.compile(r"^\s*([^:]+):\s*(\d+):(.*)$")
INSTANCE = re.compile(r"^([A-Za-z_][\w.]*):$")       # a clone's section of a line


def parse_gcov(path):
    """{line: {"count": str, "text": str, "branches": {(function, index, seq): taken
    or None}, "functions": [(name, calls)]}} from one .gcov file (-b -c).  A
    line of a function compiled several times (target_clones) comes once
    merged, then once per clone in a section headed by the clone's name: its
    branches are listed per clone."""
    lines, current, function, pending = {}, None, None, []
    with open(path, encoding="utf-8", errors="replace") as f:
        for raw in f:
            raw = raw.rstrip("\n")
            m = FUNCTION.match(raw)
            if m:
                function = m.group(1)
                pending.append((m.group(1), int(m.group(2))))
                continue
            m = INSTANCE.match(raw)
            if m:
                function = m.group(1)
                continue
            m = BRANCH.match(raw)
            if m and current is not None:
                taken = None if m.group(2) == "never executed" else int(m.group(3))
                current["branches"][(function, int(m.group(1)), len(current["branches"]))] = taken
                continue
            m = LINE.match(raw)
            if m:
                number = int(m.group(2))
                if number == 0:
                    continue
                entry = lines.setdefault(number, {"count": m.group(1).strip(), "text": m.group(3),
                                                  "branches": {}, "functions": []})
                entry["functions"].extend(pending)
                pending = []
                current = entry
    return lines


def clone_base(name):
    """foo.avx2, foo.default, foo.resolver -> foo (a target_clones function)."""
    return re.sub(r"\.(avx2|default|resolver|arch_\w+|sse\w*|isra\.\d+|part\.\d+|"
                  r"constprop\.\d+|cold)$", "", name)


def branch_outcomes(entry):
    """Per branch position on a line, merged over clones: (executed, taken).
    Clones list the same branches in the same order, so branch k of each
    clone's block of branches on the line is one source branch."""
    per_clone = {}
    for (function, index, seq), taken in entry["branches"].items():
        per_clone.setdefault(function, []).append(taken)
    merged = {}
    for function, outcomes in per_clone.items():
        base = clone_base(function or "")
        for k, taken in enumerate(outcomes):
            executed, hit = merged.get((base, k), (False, False))
            merged[(base, k)] = (executed or taken is not None, hit or bool(taken))
    return merged


def gcov(objdir, name):
    """Runs gcov -b -c on one source's object; returns (gcov's summary of the
    file, {gcov file name: parsed lines})."""
    os.makedirs(GCOV_DIR, exist_ok=True)
    source = os.path.join(SRC, "csrc", name)
    obj = os.path.join(objdir, name[:-2] + ".o")
    # run where the object's relative source path (csrc/...) resolves, then
    # move the reports aside
    res = subprocess.run(["gcov", "-b", "-c", "-l", "-o", obj, source], cwd=SRC,
                         capture_output=True, text=True, check=True)
    for f in os.listdir(SRC):
        if f.endswith(".gcov"):
            shutil.move(os.path.join(SRC, f), os.path.join(GCOV_DIR, f))
    summary, block = {}, None
    for line in res.stdout.splitlines():
        m = re.match(r"File '(.+)'", line)
        if m:
            block = os.path.basename(m.group(1))
            continue
        m = re.match(r"(Lines executed|Branches executed|Taken at least once|Calls executed):"
                     r"(\S+)% of (\d+)", line)
        if m and block == name:
            summary[m.group(1)] = (float(m.group(2)), int(m.group(3)))
    reports = {}
    for f in os.listdir(GCOV_DIR):
        if f == name + ".gcov":
            reports[name] = parse_gcov(os.path.join(GCOV_DIR, f))
        elif f.startswith(name + "##") and f.endswith(".gcov"):
            reports[f[len(name) + 2:-5]] = parse_gcov(os.path.join(GCOV_DIR, f))
    return summary, reports


def merged_summary(lines):
    """Lines executed, branches executed, branches taken, over clones merged."""
    code = executed = nb = nbe = nbt = 0
    for entry in lines.values():
        if entry["count"] == "-":
            continue
        code += 1
        executed += entry["count"] not in ("#####", "=====")
        for executed_b, taken in branch_outcomes(entry).values():
            nb += 1
            nbe += executed_b
            nbt += taken
    pct = lambda a, b: 100.0 * a / b if b else 100.0           # noqa: E731
    return (pct(executed, code), code), (pct(nbe, nb), nb), (pct(nbt, nb), nb)


def report(name, summary, reports, detailed):
    print(f"\n== csrc/{name}")
    for key in ("Lines executed", "Branches executed", "Taken at least once"):
        if key in summary:
            pct, n = summary[key]
            print(f"   gcov:   {key:<20} {pct:6.2f}% of {n}")
    for fname in sorted(reports, key=lambda f: (f != name, f)):
        lines = reports[fname]
        if fname not in (name, "mg_ops.def"):
            continue
        (lp, ln), (bp, bn), (tp, tn) = merged_summary(lines)
        label = fname if fname == name else f"{fname} (included by {name})"
        print(f"   clones merged, {label}: lines {lp:6.2f}% of {ln}, branches executed "
              f"{bp:6.2f}% of {bn}, taken at least once {tp:6.2f}% of {tn}")
        if not detailed:
            continue
        never_called = sorted({(clone_base(fn), n) for n, e in lines.items()
                               for fn, calls in e["functions"] if calls == 0}
                              - {(clone_base(fn), n) for n, e in lines.items()
                                 for fn, calls in e["functions"] if calls > 0})
        for fn, n in never_called:
            print(f"   never called: {fn} (line {n})")
        missed = []
        for n in sorted(lines):
            e = lines[n]
            outcomes = branch_outcomes(e)
            not_taken = sorted(k for (_, k), (_, taken) in outcomes.items() if not taken)
            if not_taken:
                missed.append(n)
                never = [k for (_, k), (ex, _) in outcomes.items() if not ex]
                what = (f"branches {not_taken} of {len(outcomes)} never taken"
                        + (f" ({len(never)} never executed)" if never else ""))
                print(f"   {fname}:{n}: {what}: {e['text'].strip()[:90]}")
        if not missed:
            print("   every branch taken")


def as_source():
    """Coverage of the source's branches, not of one build's code: in the copy,
    mg_replay.c's '#pragma GCC optimize("O3", ...)' (which would override -O0
    for its functions: if-conversion and loop versioning hide source branches
    and add their own) and its target_clones attribute (which compiles each
    MG_VECTOR function twice, so that gcov lists every branch once per clone,
    and for the per-op kernels, which it attributes to mg_ops.def's lines,
    cannot tell the clones apart) are blanked.  Every line keeps its number."""
    path = os.path.join(SRC, "csrc", "mg_replay.c")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    text, pragmas = re.subn(r"^#pragma GCC optimize\(.*\)$", "/* (pragma blanked for coverage) */",
                            text, flags=re.M)
    text, clones = re.subn(r"__attribute__\(\(target_clones\([^)]*\)\)\)", "", text)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    step(f"mg_replay.c in the copy: {pragmas} optimize pragma and {clones} target_clones "
         f"blanked (--as-built keeps them)")


def main(argv):
    as_built = "--as-built" in argv
    reuse = "--reuse" in argv
    argv = [a for a in argv if a not in ("--as-built", "--reuse")]
    if shutil.which("gcov") is None:
        sys.exit("coverage: gcov is not installed")
    env = environment()
    if reuse and os.path.exists(os.path.join(SRC, "build")):
        # iterating on tests: the instrumented build stays, the tests are new
        step("--reuse: keeping the instrumented build, copying tests/ afresh")
        shutil.rmtree(os.path.join(SRC, "tests"))
        shutil.copytree(os.path.join(ROOT, "tests"), os.path.join(SRC, "tests"), ignore=SKIP)
        for dirpath, _, files in os.walk(os.path.join(SRC, "build")):
            for f in files:
                if f.endswith(".gcda"):
                    os.remove(os.path.join(dirpath, f))
    else:
        step(f"copying the sources into {os.path.relpath(SRC, ROOT)}")
        copy_tree()
        if not as_built:
            as_source()
        step("building the core there with --coverage -O0")
        build(env)
    verify_import(env)
    objdir = objects_dir()
    status = run_tests(env, argv)
    if status != 0:
        step(f"the tests failed (pytest exit status {status}); the coverage of what ran follows")
    if os.path.exists(GCOV_DIR):
        shutil.rmtree(GCOV_DIR)
    for name in FILES:
        summary, reports = gcov(objdir, name)
        report(name, summary, reports, name in DETAILED)
    return status             # the report either way; failing tests still fail


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
