"""The command line: `python -m micrograd [demo | bench]`.

Without a subcommand it proves the install: version, the active backend and
why, how the core was built, and what to try next.  `demo` trains an MLP on
two moons with a progress bar (and `--plot` draws it); `bench` runs the
benchmarks.  A missing optional package is one line naming the extra to
install, and exit status 2; so is a refused argument (with a hint to --help).
"""
import argparse
import difflib
import os
import math
import platform
import subprocess
import sys

from . import __version__
from ._backend import BACKEND, REASON

DIST = "micrograd-core"


class MissingExtra(Exception):
    """An optional package is not installed."""


def need(module, extra):
    try:
        return __import__(module)
    except ImportError:
        raise MissingExtra(f"this needs {module}, which is not installed: "
                           f"pip install '{DIST}[{extra}]'") from None


def welcome():
    print(f"micrograd {__version__}: scalar reverse-mode autodiff with its graph in C")
    print(f"  backend  {BACKEND} ({REASON})")
    try:
        from . import _core
        info = _core.BUILD_INFO
        print(f"  core     built by {info['compiler']} with Cython {info['cython']}, "
              f"flags {info['cflags']}")
    except ImportError as exc:
        print(f"  core     not available: {exc}")
    print(f"  python   {platform.python_implementation()} {platform.python_version()} "
          f"({sys.executable})")
    print()
    print("Next, try:")
    print("  python -m micrograd demo --plot moons.png   train an MLP on two moons, draw it")
    print("  python -m micrograd bench --quick           the core against the reference, ~30 s")
    print("  python -c 'from micrograd import Number; x = Number(3.0); y = x * x + x; "
          "y.backward(); print(x.gradient)'")
    print("  python -m micrograd --help                  all commands")
    return 0


class Parser(argparse.ArgumentParser):
    """argparse, but a refused argument is one line (and a hint), not the
    usage block with the error under it: the error is what the user needs to
    read, and --help still prints the whole usage."""

    def error(self, message):
        # prog is "python -m micrograd demo"; the line names "micrograd demo",
        # as the command's other messages do
        name = self.prog.replace("python -m ", "", 1)
        self.exit(2, f"{name}: error: {message}\ntry: {self.prog} --help\n")


def _checked(kind, wants, test=None):
    """An argparse type: kind(text), refused with `wants` if kind raises
    ValueError or test(value) is false."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"wants {wants}, not {text!r}") from None
        if test is not None and not test(value):
            raise argparse.ArgumentTypeError(f"wants {wants}, not {text!r}")
        return value
    parse.__name__ = kind.__name__       # argparse names the type in some messages
    return parse


def _hidden(text):
    pieces = text.split(",")
    if any(not h.strip() for h in pieces) and text.strip(" ,"):
        raise ValueError(text)            # 16,,16 or 16,: a size left out, not skipped
    pieces = [h for h in pieces if h.strip()]
    if not pieces:
        # An empty list would silently train a linear model, which the demo
        # does not offer: say so rather than run something else.
        raise argparse.ArgumentTypeError(f"wants at least one hidden layer size, like "
                                         f"16,16, not {text!r}")
    sizes = [int(h) for h in pieces]
    if any(h < 1 for h in sizes):
        raise ValueError(text)
    return sizes


def _plot_path(text):
    folder = os.path.dirname(os.path.abspath(text))
    if not text.lower().endswith((".png", ".svg", ".pdf")):
        raise argparse.ArgumentTypeError(f"wants a .png, .svg or .pdf file name, not {text!r}")
    if not os.path.isdir(folder):
        raise argparse.ArgumentTypeError(f"folder {folder!r} does not exist")
    if os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"{text!r} is a folder: give a file name in it")
    # Try the write itself now, not after training: permission bits do not tell
    # (root ignores them, read-only mounts and /sys refuse anyway).
    existed = os.path.exists(text)
    try:
        with open(text, "ab" if existed else "xb"):
            pass
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"cannot write {text!r}: {exc.strerror}") from None
    if not existed:
        os.remove(text)
    return text


def _other_backend(wanted, argv):
    """Run the same command on the other backend in a fresh interpreter (the
    backend is chosen once per process) and return its exit status."""
    env = dict(os.environ)
    env.pop("MICROGRAD_PUREPYTHON", None)
    if wanted == "python":
        env["MICROGRAD_PUREPYTHON"] = "1"
    else:
        env["MICROGRAD_REQUIRE_CORE"] = "1"
    return subprocess.run([sys.executable, "-m", "micrograd", *argv], env=env).returncode


def demo(args, argv):
    if args.backend and args.backend != BACKEND:
        return _other_backend(args.backend, argv)
    tqdm = need("tqdm", "demo").tqdm
    if args.plot:
        need("matplotlib", "demo")
    from .demo import train
    hidden = args.hidden
    bar = tqdm(total=args.steps, desc=f"training ({BACKEND})", unit="step")

    def report(step, loss, accuracy):
        bar.set_postfix(loss=f"{loss:.4f}", acc=f"{accuracy:.0%}", refresh=False)
        bar.update(1)

    try:
        result = train(steps=args.steps, seed=args.seed, hidden=hidden, optimizer=args.optimizer,
                       lr=args.lr, on_step=report)
    finally:
        bar.close()             # before any message about why training stopped
    print(f"final loss {result['losses'][-1]:.4f}, accuracy {result['accuracy']:.1%}, "
          f"{1e3 * result['seconds_per_step']:.2f} ms per step on the {BACKEND} backend")
    if args.plot:
        from .demo import plot
        try:
            plot(result, args.plot)
        except OSError as exc:      # checked before training, but the disk may have changed
            print(f"micrograd demo: cannot write {args.plot}: {exc.strerror or exc}",
                  file=sys.stderr)
            return 1
        print(f"wrote {args.plot}: the decision boundary with the data, and the loss curve")
    return 0


DESCRIPTION = ("micrograd's command line. Without a command: the version, the active "
               "backend and why, and what to try next.")

DEMO = ("Train micrograd's classic network, an MLP on two moons (100 points, hinge loss, "
        "SGD), with a progress bar, and optionally draw what it learned. Every argument "
        "is checked before training starts.")


def _unknown(parser, rest):
    """Refuse unknown arguments with the usage of the command they were given
    to, suggesting the nearest option for a typo."""
    options = [o for a in parser._actions for o in a.option_strings if o.startswith("--")]
    hint = ""
    for arg in rest:
        near = difflib.get_close_matches(arg.split("=")[0], options, n=1)
        if arg.startswith("--") and near:
            hint = f" (did you mean {near[0]}?)"
            break
    parser.error(f"unrecognized arguments: {' '.join(rest)}{hint}")


def main(argv=None):
    parser = Parser(prog="python -m micrograd", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"micrograd {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="{demo,bench}")
    d = sub.add_parser("demo", help="train an MLP on two moons with a progress bar",
                       description=DEMO)
    d.add_argument("--steps", type=_checked(int, "an int >= 1", lambda n: n >= 1), default=100,
                   help="training steps (default 100)")
    d.add_argument("--seed", type=_checked(int, "an int in [0, 2**32)",
                                              lambda n: 0 <= n < 2 ** 32),
                   default=1337, help="seed for the data and the weights (default 1337)")
    d.add_argument("--hidden", type=_checked(_hidden, "sizes >= 1 like 16,16"),
                   default=[16, 16], help="hidden layer sizes, comma-separated, at least one "
                                          "(default 16,16)")
    d.add_argument("--optimizer", choices=["sgd", "adam"], default="sgd",
                   help="the optimizer (default sgd)")
    d.add_argument("--lr", type=_checked(float, "a finite number > 0",
                                         lambda r: math.isfinite(r) and r > 0), default=None,
                   help="learning rate (default: sgd 1.0 decaying to 0.1, adam 0.05)")
    d.add_argument("--backend", choices=["core", "python"], default=None,
                   help="train on the compiled core or the pure-Python reference (default: "
                        "the active backend, see python -m micrograd)")
    d.add_argument("--plot", metavar="FILE.png", type=_plot_path,
                   help="draw the decision boundary and loss curve (.png, .svg or .pdf)")
    # bench parses its own arguments (micrograd/bench/report.py), so its
    # --help and errors come from there
    sub.add_parser("bench", help="the benchmarks on both backends (and torch), side by side",
                   add_help=False)
    argv = sys.argv[1:] if argv is None else list(argv)
    args, rest = parser.parse_known_args(argv)
    try:
        if args.command == "bench":
            from .bench import main as bench_main
            return bench_main(rest)
        if rest:
            _unknown(d if args.command == "demo" else parser, rest)
        if args.command == "demo":
            return demo(args, argv)
        return welcome()
    except MissingExtra as exc:
        print(f"micrograd {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        name = f"micrograd {args.command}" if args.command else "micrograd"
        print(f"{name}: interrupted", file=sys.stderr)
        return 130
