"""Charts and a table from a recorded benchmark run.

    python -m micrograd bench --json --original PATH > benchmarks/bench.json
    python benchmarks/plot.py benchmarks/bench.json OUT_DIR

writes OUT_DIR/bench_table.md (the run's figures as Markdown tables, one per
workload) and one bar chart per workload, OUT_DIR/bench_<workload>.svg: each
system a bar, one unit per chart, on a log scale only where the bars span
more than a factor of 100 (a log axis makes 64 against 193 bytes look like a
tenfold gap).  The documentation build calls render() (docs/_ext/mgdocs.py), so the
performance page always shows the recorded run and nothing drawn by hand.
"""
import json
import os
import sys
import textwrap

# workload -> (title, unit, [(metric label, key)]); the sizes are in the table
CHARTS = {
    "ops": ("Many short lanes of y = (y*a + b).tanh()", "ns per node", [
        ("forward", "forward_ns_per_node"), ("backward", "backward_ns_per_node")]),
    "deep": ("A deep chain, y = y * 1.0000001 + 0.0", "ns per node", [
        ("forward", "forward_ns_per_node"), ("backward", "backward_ns_per_node"),
        ("free", "free_ns_per_node")]),
    "mlp": ("Classic MLP training step", "ms per step", [
        ("nn + optim", "nn_ms_per_step"), ("engine.Value", "compat_ms_per_step")]),
    "chain": ("Chain against operators", "ns per step", [
        ("operators", "operator_ns_per_op"), ("Chain", "chain_ns_per_step")]),
    "memory": ("Memory", "bytes per node", [("RSS growth", "bytes_per_node")]),
    "higher": ("Gradient and second order", "ms", [
        ("gradient", "grad_ms"), ("Hessian-vector product", "hvp_ms"),
        ("backward(create_graph=True)", "create_graph_ms")]),
}
SYSTEMS = [("core", "micrograd core"), ("python", "micrograd reference"),
           ("torch", "PyTorch (float64)")]
SWEEP = [("tape_1", "tape, 1 thread"), ("tape_2", "tape, 2 threads"),
         ("jax_1", "JAX jit, 1 thread"), ("jax", "JAX jit, default threads"),
         ("torch", "PyTorch eager, 1 thread")]
MOONS = [("core", "tape (core)"), ("op_by_op", "op by op (core)"), ("python", "tape (reference)"),
         ("torch", "PyTorch eager"), ("jax", "JAX jit"), ("casadi", "CasADi"),
         ("casadi_c", "CasADi as C")]


def log_scale(series):
    """Whether a chart's bars span more than a factor of 100 (then a log axis)."""
    shown = [v for _, values in series for v in values if v]
    return bool(shown) and max(shown) > 100 * min(shown)


def _bars(path, title, unit, groups, series):
    """A grouped bar chart: groups on the x axis, one bar per series."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 3.4))
    width = 0.8 / max(len(series), 1)
    for i, (label, values) in enumerate(series):
        xs = [g + (i - (len(series) - 1) / 2) * width for g in range(len(groups))]
        bars = ax.bar(xs, [v or 0 for v in values], width, label=label)
        for bar, v in zip(bars, values):
            if v:
                ax.annotate(f"{v:.3g}", (bar.get_x() + bar.get_width() / 2, v),
                            ha="center", va="bottom", fontsize=7)
    if log_scale(series):
        ax.set_yscale("log")
    # wrapped, so that long labels side by side do not run into each other
    ax.set_xticks(range(len(groups)), [textwrap.fill(g, 16) for g in groups], fontsize=8)
    ax.set_ylabel(unit)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, frameon=False)
    fig.tight_layout()
    fig.savefig(path, format="svg")
    plt.close(fig)


def charts(result, out):
    """One SVG per workload present in the run; the names written."""
    res, written = result["results"], []
    for name, (title, unit, metrics) in CHARTS.items():
        if name not in res:
            continue
        series = [(label, [res[name][key].get(m) for _, m in metrics])
                  for key, label in SYSTEMS if key in res[name]]
        _bars(os.path.join(out, f"bench_{name}.svg"), title, unit,
              [label for label, _ in metrics], series)
        written.append(name)
    if "moons" in res:
        m = res["moons"]
        present = [(k, label) for k, label in MOONS if k in m and "step_ms" in m[k]]
        _bars(os.path.join(out, "bench_moons.svg"), "Two-moons training step (MLP 2-16-16-1)",
              "µs per step", ["step"], [(label, [1e3 * m[k]["step_ms"]]) for k, label in present])
        written.append("moons")
    if "sweep" in res:
        points = res["sweep"]["points"]
        present = [(k, label) for k, label in SWEEP
                   if any("step_ms" in (p.get(k) or {}) for p in points)]
        _bars(os.path.join(out, "bench_sweep.svg"), "MLP 2-W-W-1 training step by batch and width",
              "ms per step", [f"B {p['batch']:,}, W {p['width']}" for p in points],
              [(label, [(p.get(k) or {}).get("step_ms") for p in points]) for k, label in present]
              + [("multiply-add bound", [p["bound_ms"] for p in points])])
        written.append("sweep")
    if "original" in res:
        from micrograd.bench.original import ROWS
        o = res["original"]

        def get(d, key):
            head, _, tail = key.partition(".")
            return d[head][tail] if tail else d[key]
        # one unit per chart: the ops and nodes in ns, the training step in ms
        for suffix, unit, rows in (("", "ns per op or node", [r for r in ROWS if " ns" in r[0]]),
                                   ("_step", "ms per step", [r for r in ROWS if " ms" in r[0]])):
            _bars(os.path.join(out, f"bench_original{suffix}.svg"),
                  "The original micrograd against the core", unit, [label for label, _ in rows],
                  [("original micrograd", [get(o["original"], k) for _, k in rows]),
                   ("micrograd core", [get(o["core"], k) for _, k in rows])])
        written.append("original")
    return written


def _cell(text):
    return text.replace("*", "\\*").replace("|", "\\|")     # Markdown, not emphasis


def _fmt(v):
    return "" if v is None else f"{v:,.3g}" if abs(v) < 1000 else f"{v:,.0f}"


def tables(result):
    """The run's figures as Markdown: the machine, then a table per workload
    charted here (rows the metrics, columns the systems and the ratios)."""
    mc = result["machine"]
    lines = [f"Recorded {mc['date'][:10]} on {mc['python']}, {mc['cpu_count']} CPUs "
             f"({mc['processor']}); medians; a ratio is other / core.", ""]
    res = result["results"]
    for name, (title, unit, metrics) in CHARTS.items():
        if name not in res:
            continue
        present = [(k, label) for k, label in SYSTEMS if k in res[name]]
        head = [_cell(f"{title} ({unit})")] + [label for _, label in present] + \
            [f"{label} / core" for k, label in present if k != "core"]
        lines += ["| " + " | ".join(head) + " |", "|---" + "|---:" * (len(head) - 1) + "|"]
        for label, key in metrics:
            core = res[name]["core"].get(key)
            vals = [res[name][k].get(key) for k, _ in present]
            ratios = [v / core if v is not None and core else None
                      for (k, _), v in zip(present, vals) if k != "core"]
            lines.append("| " + " | ".join([label] + [_fmt(v) for v in vals + ratios]) + " |")
        lines.append("")
    if "original" in res:
        from micrograd.bench.original import ROWS
        o = res["original"]
        lines += ["| the original micrograd against the core | original | core | original / core |",
                  "|---|---:|---:|---:|"]
        for label, key in ROWS:
            head, _, tail = key.partition(".")
            a, b = ((o[s][head][tail] if tail else o[s][key]) for s in ("original", "core"))
            lines.append(f"| {label} | {_fmt(a)} | {_fmt(b)} | {_fmt(a / b)} |")
        lines.append("")
    return "\n".join(lines)


def render(json_path, out):
    """The tables and the charts of a recorded run into folder out."""
    with open(json_path, encoding="utf-8") as f:
        result = json.load(f)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "bench_table.md"), "w", encoding="utf-8") as f:
        f.write(tables(result))
    return charts(result, out)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    print("wrote", ", ".join(render(sys.argv[1], sys.argv[2])))
