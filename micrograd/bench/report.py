"""Running the workloads on both backends (and the other systems) and
reporting them as a table or as JSON."""
import argparse
import datetime
import json
import os
import platform
import sys

from micrograd import _core_py

from .others import TORCH_BENCHES, load_torch
from .workloads import BENCHES, SIZES, WORKLOADS

try:
    from micrograd import _core
except ImportError:             # a pure-Python install: the reference alone
    _core = None

BACKENDS = {"core": _core, "python": _core_py}


def _ratios(core, ref):
    """python / core for every per-node figure the two share."""
    out = {}
    for k, v in core.items():
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


def run(workloads=None, quick=False, progress=None, with_torch=True):
    """Run the workloads (all by default) on both backends, and on torch where
    it imports and a workload has a torch version; a JSON-able dict."""
    if _core is None:
        raise RuntimeError("micrograd._core is not built: the benchmarks compare it "
                           "with the reference (see README: make build)")
    cfg = SIZES[bool(quick)]
    torch = load_torch() if with_torch else None
    result = dict(machine=machine(), quick=bool(quick), config=cfg, results={},
                  torch=getattr(torch, "__version__", None))
    for name in workloads or WORKLOADS:
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
    "chain": [("operators ns/op", "operator_ns_per_op", ".1f"),
              ("Chain ns/step", "chain_ns_per_step", ".1f"),
              ("Chain / operators", "chain_over_operators", ".2f")],
}


def _get(d, key):
    head, _, tail = key.partition(".")
    return d[head][tail] if tail else d[key]


def format_table(result):
    mc, cfg = result["machine"], result["config"]
    lines = [f"micrograd benchmarks, {mc['date']}{' (quick)' if result['quick'] else ''}",
             f"{mc['platform']} | {mc['processor']} | {mc['python']} | {mc['cpu_count']} CPUs",
             f"medians of {cfg['repeats']} samples; ratios = other / core (above 1: the core "
             f"is faster)" + (f"; torch {result['torch']} float64" if result.get("torch") else
                              "; torch not installed (no torch column)"), ""]
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
    if "memory" in res:
        lines.append(f"memory: RSS growth of a fresh process building y = y * x, "
                     f"{cfg['mem_nodes']:,} nodes")
    torch = result.get("torch")
    head = f"{'workload':<8} {'metric':<22} {'core':>10} {'python':>10} {'py/core':>8}"
    if torch:
        head += f" {'torch':>10} {'torch/core':>10}"
    lines += ["", head, "-" * len(head)]
    for name, per in res.items():
        for label, key, fmt in _ROWS[name]:
            ratio = per["ratio"].get(key)
            line = (f"{name:<8} {label:<22} {_get(per['core'], key):>10{fmt}} "
                    f"{_get(per['python'], key):>10{fmt}} "
                    f"{'' if ratio is None else f'{ratio:.1f}x':>8}")
            if torch and key in per.get("torch", {}):
                line += f" {per['torch'][key]:>10{fmt}} {per['ratio_torch'][key]:>9.1f}x"
            lines.append(line)
    agree = {n: p["backends_agree"] for n, p in res.items() if "backends_agree" in p}
    if agree:
        lines += ["", "root value and leaf gradient identical on both backends: "
                  + ", ".join(f"{n} {'yes' if ok else 'NO'}" for n, ok in agree.items())]
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="smaller sizes, 3 samples")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    p.add_argument("--workload", action="append", choices=WORKLOADS, metavar="NAME",
                   help=f"run only this workload (repeatable): {', '.join(WORKLOADS)}")
    p.add_argument("--no-torch", action="store_true", help="leave out the torch column")
    args = p.parse_args(argv)
    # Progress goes to stderr so stdout stays a clean table or JSON object.
    try:
        result = run(args.workload, args.quick, with_torch=not args.no_torch,
                     progress=lambda msg: print(msg, file=sys.stderr, flush=True))
    except RuntimeError as exc:
        print(f"micrograd bench: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2) if args.json else format_table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
