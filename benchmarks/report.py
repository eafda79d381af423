"""Benchmark output: a Markdown table with ratios and targets, JSON, and a PNG chart."""
from __future__ import annotations

import dataclasses
import json
import math

from .harness import STATIC


def fmt_time(seconds):
    if seconds is None or seconds != seconds:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds * 1e9:.3g} ns"


def _groups(measurements):
    out = {}
    for m in measurements:
        out.setdefault((m.workload, m.metric), []).append(m)
    return out


def _find(measurements, workload, system, metric):
    for m in measurements:
        if m.workload == workload and m.system == system and m.metric == metric \
                and m.median_s == m.median_s:
            return m
    return None


def _best(m):
    return m.best_s if m.best_s is not None else m.median_s


def evaluate(targets, measurements):
    """[(target, measured ratio or seconds, met or None when not measurable, the same
    measured on the best samples)]: medians decide; best samples show the undisturbed cost."""
    rows = []
    for t in targets:
        fast = _find(measurements, t.workload, t.faster, t.metric)
        if t.slower is None:
            value = fast.median_s if fast else None
            rows.append((t, value, None if value is None else value < t.limit_s,
                         _best(fast) if fast else None))
            continue
        slow = _find(measurements, t.workload, t.slower, t.metric)
        if fast is None or slow is None:
            rows.append((t, None, None, None))
            continue
        ratio = slow.median_s / fast.median_s
        rows.append((t, ratio, ratio >= t.ratio, _best(slow) / _best(fast)))
    return rows


def markdown(measurements, targets, header=""):
    lines = [header] if header else []
    lines += ["| workload | what | system | median | p25-p75 | best | vs graphc static | "
              "compile | notes |", "|---|---|---|---:|---:|---:|---:|---:|---|"]
    for (workload, metric), group in _groups(measurements).items():
        base = _find(measurements, workload, STATIC, metric)
        for m in group:
            ratio = "-"
            if base is not None and m.median_s == m.median_s:
                r = m.median_s / base.median_s
                ratio = "1 (base)" if m is base else f"{r:.3g}x slower" if r >= 1 \
                    else f"{1 / r:.3g}x faster"
            spread = f"{fmt_time(m.low_s)}-{fmt_time(m.high_s)}" if m.samples > 1 else "-"
            note = m.note
            if "GB/s" in m.extra:
                note = f"{m.extra['GB/s']:.1f} GB/s" + (f"; {note}" if note else "")
            best = fmt_time(m.best_s) if m.samples > 1 else "-"
            lines.append(f"| {workload} | {metric} | {m.system} | {fmt_time(m.median_s)} | "
                         f"{spread} | {best} | {ratio} | {fmt_time(m.compile_s)} | {note} |")
    lines += ["", "| target | measured (medians) | on best samples | required | met |",
              "|---|---:|---:|---:|---|"]
    for t, value, met, best in evaluate(targets, measurements):
        if t.slower is None:
            measured, required = fmt_time(value), f"< {fmt_time(t.limit_s)}"
            on_best = "-"
        else:
            measured = "-" if value is None else f"{value:.3g}x"
            on_best = "-" if best is None else f"{best:.3g}x"
            required = f">= {t.ratio:.3g}x"
        verdict = "not measured" if met is None else "yes" if met else "**no**"
        lines.append(f"| {t.workload}: {t.text} | {measured} | {on_best} | {required} | "
                     f"{verdict} |")
    return "\n".join(lines) + "\n"


def to_json(measurements, targets, meta):
    def clean(x):
        return None if isinstance(x, float) and (math.isnan(x) or math.isinf(x)) else x
    return json.dumps({
        "meta": meta,
        "measurements": [{k: clean(v) for k, v in dataclasses.asdict(m).items()}
                         for m in measurements],
        "targets": [{"workload": t.workload, "target": t.text, "measured": clean(v),
                     "measured_on_best": clean(best),
                     "required": t.ratio if t.slower else t.limit_s, "met": met}
                    for t, v, met, best in evaluate(targets, measurements)],
    }, indent=1)


def chart(measurements, path):
    """One panel per workload and metric: median time per system (log scale), p25-p75 bars."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter
    groups = [(k, [m for m in g if m.median_s == m.median_s])
              for k, g in _groups(measurements).items()]
    groups = [(k, g) for k, g in groups if g]
    cols = 3
    rows = max(1, math.ceil(len(groups) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 2.6 * rows), squeeze=False)
    for ax, ((workload, metric), group) in zip(axes.flat, groups):
        names = [m.system for m in group]
        med = [m.median_s for m in group]
        err = [[max(m.median_s - (m.low_s or m.median_s), 0) for m in group],
               [max((m.high_s or m.median_s) - m.median_s, 0) for m in group]]
        colors = ["tab:blue" if n.startswith("graphc") else "tab:gray" for n in names]
        ax.barh(names, med, xerr=err, color=colors)
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())  # minor labels overlap on short ranges
        ax.invert_yaxis()
        ax.set_title(f"{workload}: {metric}", fontsize=9)
        ax.tick_params(labelsize=7)
        ax.set_xlabel("seconds (log)", fontsize=7)
    for ax in list(axes.flat)[len(groups):]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
