"""python -m micrograd: the welcome, demo, bench; and the DOT output."""
import json
import os
import subprocess
import sys

import pytest

import micrograd
from micrograd import viz

from conftest import CORE

BLOCK = """
import sys, importlib.abc
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in {blocked!r}:
            raise ImportError("blocked for the test: " + name)
sys.meta_path.insert(0, Block())
import runpy
sys.argv = ["micrograd"] + {argv!r}
runpy.run_module("micrograd", run_name="__main__")
"""


def cli(*argv, env=None, blocked=(), timeout=600):
    full = {k: v for k, v in os.environ.items() if k != "MICROGRAD_REQUIRE_CORE"}
    full.update(env or {})
    code = BLOCK.format(blocked=set(blocked), argv=list(argv))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=full, timeout=timeout)


def test_welcome_proves_the_install():
    proc = cli()
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert f"micrograd {micrograd.__version__}" in out
    assert f"backend  {micrograd.BACKEND}" in out
    assert "python -m micrograd demo" in out and "python -m micrograd bench" in out
    if CORE is not None:
        assert "Cython" in out and "-ffp-contract=off" in out


def test_welcome_says_why_the_reference_is_active():
    proc = cli(env={"MICROGRAD_PUREPYTHON": "1"})
    assert "backend  python (MICROGRAD_PUREPYTHON is set)" in proc.stdout


def test_version_and_help():
    proc = cli("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"micrograd {micrograd.__version__}"
    proc = cli("--help")
    assert proc.returncode == 0 and "demo" in proc.stdout and "bench" in proc.stdout
    assert cli("frobnicate").returncode == 2


@pytest.mark.slow
def test_demo_trains_to_full_accuracy_and_plots(tmp_path):
    pytest.importorskip("tqdm", reason="the demo extra is not installed")
    pytest.importorskip("matplotlib", reason="the demo extra is not installed")
    png = tmp_path / "moons.png"
    proc = cli("demo", "--plot", str(png))
    assert proc.returncode == 0, proc.stderr
    assert "accuracy 100.0%" in proc.stdout and "ms per step" in proc.stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_demo_options(tmp_path):
    pytest.importorskip("tqdm", reason="the demo extra is not installed")
    proc = cli("demo", "--steps", "5", "--hidden", "4", "--optimizer", "adam", "--lr", "0.1",
               "--backend", "python", "--seed", "3")
    assert proc.returncode == 0, proc.stderr
    assert "on the python backend" in proc.stdout and "5/5" in proc.stderr
    assert cli("demo", "--hidden", "a,b").returncode == 2


def test_missing_extra_is_one_line_and_exit_2():
    proc = cli("demo", "--steps", "1", blocked=("tqdm",))
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "micrograd demo: this needs tqdm, which is not installed: pip install "
        "'micrograd-core[demo]'"]
    assert "Traceback" not in proc.stderr


@pytest.mark.core
@pytest.mark.skipif(CORE is None, reason="micrograd._core is not built")
def test_bench_quick_json():
    proc = cli("bench", "--quick", "--json", "--workload", "ops", "--workload", "chain",
               "--workload", "higher", "--no-torch")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    ops = result["results"]["ops"]
    assert ops["core"]["forward_ns_per_node"] > 0 and ops["backends_agree"] is True
    assert ops["ratio"]["backward_ns_per_node"] > 0
    higher = result["results"]["higher"]
    assert higher["core"]["hvp_ms"] > 0 and higher["python"]["hvp_over_grad"] > 0
    assert set(result["results"]) == {"ops", "chain", "higher"}


@pytest.mark.core
@pytest.mark.skipif(CORE is None, reason="micrograd._core is not built")
def test_bench_table():
    proc = cli("bench", "--quick", "--workload", "chain", "--no-torch")
    assert proc.returncode == 0, proc.stderr
    assert "Chain / operators" in proc.stdout and "py/core" in proc.stdout


def test_to_dot(impl):
    x, y = impl.Number(2.0), impl.Number(-3.0)
    z = (x * y + x).tanh()
    z.backward()
    dot = viz.to_dot(z)
    assert dot.startswith("digraph micrograd {") and dot.rstrip().endswith("}")
    assert dot.count("shape=record") == 5 and dot.count("shape=ellipse") == 3
    assert f"grad {x.gradient:.4g}" in dot and "label=\"tanh\"" in dot
    assert "rankdir=TB" in viz.to_dot(z, rankdir="TB")


def test_large_graph_is_summarized(impl):
    x = impl.Number(1.0)
    y = x
    for _ in range(700):
        y = y * 1.0
    dot = viz.to_dot(y)
    assert dot.count("shape=record") == 500
    assert "graph of 701 nodes, too many to draw readably" in dot and "201 more" in dot


def test_draw_dot(impl):
    graphviz = pytest.importorskip("graphviz", reason="the viz extra is not installed")
    x = impl.Number(2.0)
    g = viz.draw_dot(x * x, format="png", rankdir="TB")
    assert isinstance(g, graphviz.Digraph) and g.format == "png"
    assert "rankdir=TB" in g.source and "label=\"mul\"" in g.source


FAKE_ORIGINAL = '''
class Value:
    """Just enough of micrograd 0.1.0's Value for the bench script."""
    def __init__(self, data, _children=()):
        self.data, self.grad, self._prev, self._back = data, 0, _children, None

    def _op(self, other, data, da, db):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(data(self.data, other.data), (self, other))
        out._back = lambda: (self._add(da(self.data, other.data) * out.grad),
                             other._add(db(self.data, other.data) * out.grad))
        return out

    def _add(self, g):
        self.grad += g

    def __add__(self, o): return self._op(o, lambda a, b: a + b, lambda a, b: 1, lambda a, b: 1)
    def __mul__(self, o): return self._op(o, lambda a, b: a * b, lambda a, b: b, lambda a, b: a)
    __radd__, __rmul__ = __add__, __mul__

    def relu(self):
        return self._op(0.0, lambda a, b: max(a, 0.0), lambda a, b: float(a > 0), lambda a, b: 0)

    def backward(self):
        order, seen, stack = [], set(), [(self, False)]
        while stack:
            node, done = stack.pop()
            if done:
                order.append(node)
            elif id(node) not in seen:
                seen.add(id(node))
                stack.append((node, True))
                stack.extend((k, False) for k in node._prev)
        self.grad = 1
        for node in reversed(order):
            if node._back:
                node._back()
'''

FAKE_NN = '''
import random
from micrograd.engine import Value


class MLP:
    def __init__(self, nin, nouts):
        sizes = [nin] + nouts
        self.layers = [[[Value(random.uniform(-1, 1)) for _ in range(sizes[i] + 1)]
                        for _ in range(sizes[i + 1])] for i in range(len(nouts))]

    def __call__(self, x):
        for layer in self.layers:
            x = [sum((w * xi for w, xi in zip(n[1:], x)), n[0]).relu() for n in layer]
        return x[0]

    def parameters(self):
        return [w for layer in self.layers for n in layer for w in n]

    def zero_grad(self):
        for p in self.parameters():
            p.grad = 0
'''


@pytest.mark.core
@pytest.mark.skipif(CORE is None, reason="micrograd._core is not built")
def test_bench_original_runs_the_other_package(tmp_path):
    pkg = tmp_path / "micrograd"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "engine.py").write_text(FAKE_ORIGINAL)
    (pkg / "nn.py").write_text(FAKE_NN)
    proc = cli("bench", "--quick", "--json", "--workload", "chain", "--no-torch",
               "--original", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    res = json.loads(proc.stdout)["results"]["original"]
    assert res["original"]["file"].startswith(str(tmp_path))
    assert not res["core"]["file"].startswith(str(tmp_path))
    assert res["ratio"]["mlp_ms_per_step"] == (res["original"]["mlp_ms_per_step"]
                                               / res["core"]["mlp_ms_per_step"])
    proc = cli("bench", "--quick", "--workload", "chain", "--no-torch", "--original",
               str(tmp_path / "nowhere"))
    assert proc.returncode == 2 and "--original: " in proc.stderr
    assert "is not a folder" in proc.stderr


# -- issue 19: the command line checks first and explains itself ------------------------

def _usage_error(proc, prog, says):
    """A refused argument: exit 2, one error line naming the command and what
    is wrong, then the hint to --help (not argparse's usage block above it),
    and no sign that any work started."""
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "training" not in proc.stderr
    assert " on core ..." not in proc.stderr            # the bench's progress lines
    error, hint = proc.stderr.splitlines()
    name = prog.replace("python -m ", "")
    assert error.startswith(f"{name}: error: ") and says in error, proc.stderr
    assert hint == f"try: {prog} --help" and proc.stdout == ""


def _unwritable_folder(tmp_path):
    """A folder nobody may create files in: root ignores permission bits, so
    for root a read-only system folder stands in."""
    if os.geteuid() == 0:
        if not os.path.isdir("/sys"):
            pytest.skip("no folder root cannot write in")
        return "/sys"
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    return str(folder)


def test_plot_to_a_folder_is_refused_before_training(tmp_path):
    folder = tmp_path / "moons.png"
    folder.mkdir()
    # many steps: if training started, the timeout says so
    proc = cli("demo", "--steps", "100000", "--plot", str(folder), timeout=60)
    _usage_error(proc, "python -m micrograd demo", f"--plot: {str(folder)!r} is a folder")


def test_plot_to_an_unwritable_path_is_refused_before_training(tmp_path):
    path = os.path.join(_unwritable_folder(tmp_path), "moons.png")
    proc = cli("demo", "--steps", "100000", "--plot", path, timeout=60)
    _usage_error(proc, "python -m micrograd demo", f"--plot: cannot write {path!r}")
    assert not os.path.exists(path)


def test_plot_check_leaves_no_file_behind(tmp_path):
    from micrograd import cli as cli_module
    png = tmp_path / "moons.png"
    assert cli_module._plot_path(str(png)) == str(png)
    assert not png.exists()             # the write test does not leave an empty file


@pytest.mark.parametrize("layout", ["missing", "empty", "engine only"])
def test_bench_original_path_is_checked_before_any_benchmark(tmp_path, layout):
    path = tmp_path / "nowhere"
    if layout != "missing":
        (path / "micrograd").mkdir(parents=True)
    if layout == "engine only":
        (path / "micrograd" / "engine.py").write_text("")
    # a full bench: if it started, the timeout says so
    proc = cli("bench", "--original", str(path), timeout=60)
    _usage_error(proc, "python -m micrograd bench", "--original: ")
    assert "karpathy's micrograd" in proc.stderr


def test_bench_help_names_the_command_and_says_a_whole_sentence(capsys):
    from micrograd import cli as cli_module
    with pytest.raises(SystemExit) as exit:
        cli_module.main(["bench", "--help"])
    assert exit.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: python -m micrograd bench") and "__main__" not in out
    description = out.split("\n\n")[1]
    assert description.rstrip().endswith("."), description


def test_top_level_help_has_no_markup(capsys):
    from micrograd import cli as cli_module
    with pytest.raises(SystemExit):
        cli_module.main(["--help"])
    out = capsys.readouterr().out
    assert "`" not in out
    assert out.split("\n\n")[1].rstrip().endswith(".")


def test_demo_help_describes_the_demo_and_every_option(capsys):
    from micrograd import cli as cli_module
    with pytest.raises(SystemExit):
        cli_module.main(["demo", "--help"])
    out = capsys.readouterr().out
    description = out.split("\n\n")[1]
    assert not description.startswith("options:") and "two moons" in description
    lines = out[out.index("options:"):].splitlines()
    for option in ("--steps", "--seed", "--hidden", "--optimizer", "--lr", "--backend",
                   "--plot"):
        i = next(i for i, line in enumerate(lines) if line.startswith(f"  {option}"))
        # argparse puts the help after two spaces on the option's line, or on
        # the next line, indented; an option without help has neither
        assert "  " in lines[i].strip() or (lines[i + 1].startswith(" " * 6)
                                            and not lines[i + 1].lstrip().startswith("-")), option
    assert "(default 1337)" in out and "(default sgd)" in out


def test_a_typo_in_a_demo_option_shows_the_demo_usage():
    proc = cli("demo", "--stpes", "10", timeout=60)
    _usage_error(proc, "python -m micrograd demo", "unrecognized arguments: --stpes 10")
    assert "did you mean --steps?" in proc.stderr


@pytest.mark.parametrize("text", ["", " ", ","])
def test_an_empty_hidden_list_is_refused(text):
    proc = cli("demo", "--steps", "100000", "--hidden", text, timeout=60)
    _usage_error(proc, "python -m micrograd demo", "--hidden: ")
    assert "at least one" in proc.stderr


@pytest.mark.parametrize("argv, prog, says", [
    (["frobnicate"], "python -m micrograd", "invalid choice: 'frobnicate'"),
    (["--frobnicate"], "python -m micrograd", "unrecognized arguments: --frobnicate"),
    (["demo", "--steps", "0"], "python -m micrograd demo", "--steps: wants an int >= 1"),
    (["demo", "--optimizer", "sgdd"], "python -m micrograd demo", "invalid choice: 'sgdd'"),
    (["demo", "--seed"], "python -m micrograd demo", "--seed: expected one argument"),
    (["bench", "--workload", "nope"], "python -m micrograd bench", "invalid choice: 'nope'"),
    (["bench", "--quick", "extra"], "python -m micrograd bench", "unrecognized arguments"),
])
def test_every_refused_argument_is_one_line_and_a_hint(argv, prog, says):
    """argparse printed its whole usage block before the one line that mattered."""
    _usage_error(cli(*argv, timeout=60), prog, says)


def test_help_still_prints_the_whole_usage(capsys):
    from micrograd import cli as cli_module
    for argv, prog in ((["--help"], "python -m micrograd"),
                       (["demo", "--help"], "python -m micrograd demo"),
                       (["bench", "--help"], "python -m micrograd bench")):
        with pytest.raises(SystemExit) as exit:
            cli_module.main(argv)
        out, err = capsys.readouterr()
        assert exit.value.code == 0 and err == ""
        assert out.startswith(f"usage: {prog} [-h]") and "options:" in out


def test_bench_header_says_torch_was_left_out_not_missing():
    """With --no-torch and torch installed, the header said 'torch not installed'."""
    from micrograd.bench.report import format_table
    machine = dict(date="d", platform="p", processor="c", python="py", cpu_count=2)
    base = dict(machine=machine, quick=True, config=dict(repeats=3), results={}, torch=None)
    left_out = format_table(dict(base, torch_left_out=True))
    missing = format_table(dict(base, torch_left_out=False))
    assert "torch left out (--no-torch)" in left_out and "not installed" not in left_out
    assert "torch not installed" in missing


@pytest.mark.parametrize("text", ["16,,16", "16,", ",16"])
def test_a_hidden_list_with_a_size_left_out_is_refused(text):
    """16,,16 trained a 16,16 network: a size left out is refused, not skipped."""
    proc = cli("demo", "--steps", "100000", "--hidden", text, timeout=60)
    _usage_error(proc, "python -m micrograd demo", "--hidden: ")
