"""Running the workloads on both backends (and the other systems) and
reporting them as a table or as JSON."""
import argparse
import datetime
import json
import os
import platform
import sys

from micrograd import _core_py
from micrograd.cli import Parser

from . import original as original_bench
from . import sweep as sweep_bench
from . import tape as tape_bench
from .others import MOONS, TORCH_BENCHES, load_torch
from .workloads import BENCHES, SIZES, WORKLOADS, mlp_run

TAPE_WORKLOADS = ("moons", "replay", "trace", "tape_memory", "sweep")

try:
    from micrograd import _core
except ImportError:             # a pure-Python install: the reference alone
    _core = None

BACKENDS = {"core": _core, "python": _core_py}


def _ratios(core, ref):
    """python / core for every per-node figure the two share."""
    out = {}
    for k, v in core.items():
        # a figure that is itself a ratio (hvp_over_grad) has no python/core ratio
        if "_over_" in k:
            continue
        if isinstance(v, float) and isinstance(ref.get(k), float) and v > 0:
            out[k] = ref[k] / v
    for k, v in core.get("per_op_ns", {}).items():
        out[f"per_op_ns.{k}"] = ref["per_op_ns"][k] / v
    return out


def machine():
    return dict(date=datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
                platform=platform.platform(), processor=platform.processor() or platform.machine(),
                python=f"{platform.python_implementation()} {platform.python_version()}",
                cpu_count=os.cpu_count())


def run_tape(name, cfg, progress, with_others):
    """One of the tape's workloads: core and reference, and for moons the
    other systems and the op-by-op core, all in this run."""
    say = progress or (lambda msg: None)
    steps = cfg["moons_steps"]
    if name == "sweep":
        systems = sweep_bench.SYSTEMS if with_others else ("tape_1", "tape_2")
        return sweep_bench.run(systems=systems, progress=say,
                               steps=5 if cfg is SIZES[True] else None)
    if name == "tape_memory":
        say("tape_memory on core (two processes) ...")
        return {"core": tape_bench.memory(1), "core_2_threads": tape_bench.memory(2)}
    out = {}
    for backend, m in BACKENDS.items():
        say(f"{name} on {backend} ...")
        if name == "moons":
            out[backend] = tape_bench.moons(m, steps if backend == "core" else max(2, steps // 10))
        elif name == "replay":
            out[backend] = tape_bench.replay(m, repeats=cfg["repeats"] if backend == "core" else 1)
        else:
            out[backend] = tape_bench.trace(m, repeats=cfg["repeats"] if backend == "core" else 1)
    if name == "moons":
        say("moons op by op on core (fresh interpreter) ...")
        opbyop = mlp_run("nn", cfg["mlp_steps"], False)
        out["op_by_op"] = {"step_ms": 1e3 * opbyop["median_s_per_step"]}
        for system, fn in MOONS.items():
            if system == "torch" or with_others:
                say(f"moons on {system} ...")
                got = fn(steps)
                if got is not None:
                    out[system] = got
        ours = out["core"]["step_ms"]
        out["ratio_to_tape"] = {k: v["step_ms"] / ours for k, v in out.items()
                                if isinstance(v, dict) and "step_ms" in v}
        ref = out["core"]["losses"]              # each against the core at the same step
        out["losses_agree"] = {k: abs(v["final_loss"] - ref[v["steps"] - 1]) / abs(ref[v["steps"] - 1])
                               for k, v in out.items() if isinstance(v, dict) and "final_loss" in v}
    return out


def run(workloads=None, quick=False, progress=None, with_torch=True, with_others=True,
        original=None):
    """Run the workloads (all by default) on both backends, and on torch where
    it imports and a workload has a torch version; with `original`, the path
    of karpathy's micrograd, its column too; a JSON-able dict."""
    if _core is None:
        raise RuntimeError("micrograd._core is not built: the benchmarks compare it "
                           "with the reference (see README: make build)")
    cfg = SIZES[bool(quick)]
    torch = load_torch() if with_torch else None
    result = dict(machine=machine(), quick=bool(quick), config=cfg, results={},
                  torch=getattr(torch, "__version__", None), torch_left_out=not with_torch)
    for name in workloads or WORKLOADS + TAPE_WORKLOADS:
        if name in TAPE_WORKLOADS:
            result["results"][name] = run_tape(name, cfg, progress, with_others and with_torch)
            continue
        per = {}
        for backend, m in BACKENDS.items():
            if progress:
                progress(f"{name} on {backend} ...")
            per[backend] = BENCHES[name](m, cfg)
        per["ratio"] = _ratios(per["core"], per["python"])
        if torch is not None and name in TORCH_BENCHES:
            if progress:
                progress(f"{name} on torch ...")
            per["torch"] = TORCH_BENCHES[name](torch, cfg)
            per["ratio_torch"] = {k: v / per["core"][k] for k, v in per["torch"].items()}
        if "check" in per["core"]:      # both backends promise the same bits
            per["backends_agree"] = per["core"]["check"] == per["python"]["check"]
        result["results"][name] = per
    if original is not None:
        if progress:
            progress(f"the original micrograd from {original} ...")
        result["results"]["original"] = original_bench.run(original, quick)
    return result


_ROWS = {   # workload -> (label, key, format) rows of the table
    "ops": [("forward ns/node", "forward_ns_per_node", ".1f"),
            ("forward ns/binary op", "forward_ns_per_binary_op", ".1f"),
            ("  mul alone ns/op", "per_op_ns.mul", ".1f"),
            ("  add alone ns/op", "per_op_ns.add", ".1f"),
            ("  tanh alone ns/op", "per_op_ns.tanh", ".1f"),
            ("backward ns/node", "backward_ns_per_node", ".1f"),
            ("free ns/node", "free_ns_per_node", ".1f")],
    "deep": [("forward ns/node", "forward_ns_per_node", ".1f"),
             ("backward ns/node", "backward_ns_per_node", ".1f"),
             ("free ns/node", "free_ns_per_node", ".1f"),
             ("forward s", "forward_s", ".3f"),
             ("backward s", "backward_s", ".3f"),
             ("free s", "free_s", ".3f")],
    "memory": [("bytes/node", "bytes_per_node", ".1f")],
    "mlp": [("nn+optim ms/step", "nn_ms_per_step", ".2f"),
            ("Value+MLP ms/step", "compat_ms_per_step", ".2f")],
    "higher": [("gradient ms", "grad_ms", ".2f"),
               ("Hessian-vector ms", "hvp_ms", ".2f"),
               ("  HVP / gradient", "hvp_over_grad", ".2f"),
               ("create_graph / grad", "create_graph_over_grad", ".2f"),
               ("anomaly mode / grad", "anomaly_over_grad", ".2f"),
               ("transforms.hvp / grad", "functional_hvp_over_grad", ".2f")],
    "chain": [("operators ns/op", "operator_ns_per_op", ".1f"),
              ("Chain ns/step", "chain_ns_per_step", ".1f"),
              ("Chain / operators", "chain_over_operators", ".2f")],
}


def _get(d, key):
    head, _, tail = key.partition(".")
    return d[head][tail] if tail else d[key]


_SYSTEMS = {"core": "micrograd tape (core)", "python": "micrograd tape (reference)",
            "op_by_op": "micrograd op by op (core)", "torch": "PyTorch eager, batched",
            "jax": "JAX jit(value_and_grad) + SGD", "casadi": "CasADi SX map (serial)",
            "casadi_c": "CasADi as generated C"}


def _tape_lines(res):
    lines = []
    if "sweep" in res:
        lines += sweep_bench.table_lines(res["sweep"])
    if "moons" in res:
        m = res["moons"]
        lines += ["", "moons step: MLP 2-16-16-1 on 100 points, mean hinge + 1e-4 L2, SGD "
                  "(median step; ratio = step / the core tape's step; loss difference "
                  "against the core tape's at the same step)",
                  f"{'system':<32} {'step us':>10} {'first call ms':>14} {'ratio':>8} "
                  f"{'final loss rel. diff':>21}", "-" * 89]
        for key, label in _SYSTEMS.items():
            if key not in m:
                continue
            v = m[key]
            first = v.get("first_call_ms")
            diff = m["losses_agree"].get(key)
            lines.append(f"{label:<32} {1e3 * v['step_ms']:>10.1f} "
                         f"{'' if first is None else f'{first:.2f}':>14} "
                         f"{m['ratio_to_tape'][key]:>7.2f}x "
                         f"{'' if diff is None else f'{diff:.1e}':>21}")
    if "replay" in res:
        lines += ["", "replay at a batch of 256, ns per instruction per lane (per scalar op "
                  "for the dense tape's dot products)", f"{'tape':<34} {'core fwd':>9} "
                  f"{'core bwd':>9} {'python fwd':>11} {'python bwd':>11}", "-" * 78]
        for name, label in (("arith", "+ - * (3,498 instructions)"),
                            ("dense", "dense MLP 4-64-64-1")):
            c, p = res["replay"]["core"][name], res["replay"]["python"][name]
            lines.append(f"{label:<34} {c['forward_ns']:>9.2f} {c['backward_ns']:>9.2f} "
                         f"{p['forward_ns']:>11.1f} {p['backward_ns']:>11.1f}")
            if "forward_ns_per_op" in c:
                lines.append(f"{'  per scalar op':<34} {c['forward_ns_per_op']:>9.2f} "
                             f"{c['backward_ns_per_op']:>9.2f}")
    if "trace" in res:
        c, p = res["trace"]["core"], res["trace"]["python"]
        lines += ["", "trace (record + flatten), ms            core     python", "-" * 56,
                  f"{'moons graph':<36} {c['moons_ms']:>8.2f} {p['moons_ms']:>10.1f}",
                  f"{'10^5 instructions':<36} {c['instructions_1e5_ms']:>8.1f} "
                  f"{p['instructions_1e5_ms']:>10.1f}",
                  f"{'9,000-op recurrence, traced + grad':<36} "
                  f"{c['recurrence_9000_total_ms']:>8.2f} {p['recurrence_9000_total_ms']:>10.1f}"]
    if "tape_memory" in res:
        t = res["tape_memory"]
        lines += ["", f"peak RSS added by backward over 10^6 moons rows: "
                  f"{t['core']['peak_bytes'] / 2**20:.1f} MiB (1 thread), "
                  f"{t['core_2_threads']['peak_bytes'] / 2**20:.1f} MiB (2 threads)"]
    return lines


def format_table(result):
    mc, cfg = result["machine"], result["config"]
    lines = [f"micrograd benchmarks, {mc['date']}{' (quick)' if result['quick'] else ''}",
             f"{mc['platform']} | {mc['processor']} | {mc['python']} | {mc['cpu_count']} CPUs",
             f"medians of {cfg['repeats']} samples; ratios = other / core (above 1: the core "
             f"is faster)" + (f"; torch {result['torch']} float64" if result.get("torch") else
                              "; torch left out (--no-torch)" if result.get("torch_left_out")
                              else "; torch not installed (no torch column)"), ""]
    res = result["results"]
    if "ops" in res:
        o = res["ops"]["core"]
        lines.append(f"ops:    {cfg['lanes']} lanes x {cfg['steps']} steps of y = (y*a + b).tanh(): "
                     f"{o['binary_ops']:,} binary + {o['tanh_ops']:,} tanh + 1 sum = {o['nodes']:,} nodes")
    if "deep" in res:
        lines.append(f"deep:   chain y = y * 1.0000001 + 0.0, depth {cfg['depth']:,} "
                     f"= {res['deep']['core']['nodes']:,} nodes")
    if "chain" in res:
        lines.append(f"chain:  {res['chain']['core']['steps']:,} steps cycling mul(a), add(b), tanh(), "
                     f"as a Chain and as operators")
    if "mlp" in res:
        lines.append(f"mlp:    MLP(2, [16, 16, 1]), 100 two-moons points, hinge + L2, SGD; "
                     f"median of {cfg['mlp_steps']} steps, fresh interpreter per run")
    if "higher" in res:
        lines.append(f"higher: sum of tanh(x_i x_i+1 + 0.5) sin(x_i) over {cfg['higher_n']:,} "
                     f"inputs: gradient, Hessian-vector product, create_graph, anomaly mode")
    if "memory" in res:
        lines.append(f"memory: RSS growth of a fresh process building y = y * x, "
                     f"{cfg['mem_nodes']:,} nodes")
    torch = result.get("torch")
    head = f"{'workload':<8} {'metric':<22} {'core':>10} {'python':>10} {'py/core':>8}"
    if torch:
        head += f" {'torch':>10} {'torch/core':>10}"
    lines += ["", head, "-" * len(head)]
    for name, per in res.items():
        for label, key, fmt in _ROWS.get(name, ()):
            ratio = per["ratio"].get(key)
            line = (f"{name:<8} {label:<22} {_get(per['core'], key):>10{fmt}} "
                    f"{_get(per['python'], key):>10{fmt}} "
                    f"{'' if ratio is None else f'{ratio:.1f}x':>8}")
            if torch and key in per.get("torch", {}):
                line += f" {per['torch'][key]:>10{fmt}} {per['ratio_torch'][key]:>9.1f}x"
            lines.append(line)
    lines += _tape_lines(res)
    if "original" in res:
        lines += original_bench.table_lines(res["original"])
    agree = {n: p["backends_agree"] for n, p in res.items() if "backends_agree" in p}
    if agree:
        lines += ["", "root value and leaf gradient identical on both backends: "
                  + ", ".join(f"{n} {'yes' if ok else 'NO'}" for n, ok in agree.items())]
    return "\n".join(lines)


DESCRIPTION = ("The benchmarks: the compiled core against the pure-Python reference, and "
               "against PyTorch, JAX and CasADi where they import, in one run. Progress goes "
               "to stderr; a table (or one JSON object) to stdout.")


def _original_path(text):
    """An argparse type for --original: the folder is checked before any
    benchmark runs, not after minutes of them."""
    why = original_bench.problem(text)
    if why is not None:
        raise argparse.ArgumentTypeError(why)
    return text


def main(argv=None):
    # prog: run as `python -m micrograd bench`, argparse would say __main__.py
    p = Parser(prog="python -m micrograd bench", description=DESCRIPTION)
    p.add_argument("--quick", action="store_true", help="smaller sizes, 3 samples")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    p.add_argument("--workload", action="append", choices=WORKLOADS + TAPE_WORKLOADS,
                   metavar="NAME", help=f"run only this workload (repeatable): "
                                        f"{', '.join(WORKLOADS + TAPE_WORKLOADS)}")
    p.add_argument("--no-torch", action="store_true",
                   help="leave out the other systems (PyTorch, JAX, CasADi)")
    p.add_argument("--original", metavar="PATH", type=_original_path,
                   help="also run karpathy's micrograd from PATH (the folder holding its "
                        "micrograd package) and report its column")
    args = p.parse_args(argv)
    # Progress goes to stderr so stdout stays a clean table or JSON object.
    try:
        result = run(args.workload, args.quick, with_torch=not args.no_torch,
                     progress=lambda msg: print(msg, file=sys.stderr, flush=True),
                     original=args.original)
    except RuntimeError as exc:
        print(f"micrograd bench: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2) if args.json else format_table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
