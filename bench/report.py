"""Summaries, targets, the Markdown table and the chart of one run."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from .clients import CLIENTS

__all__ = ["TARGETS", "chart", "markdown", "summarise"]

# (metric, comparison, bound, what is compared): ratios of pinws to the fair
# baseline (websocket-client with one reused SSLContext; issue 14's targets),
# except "pins", which compares pinws with itself at 1 pin, and "ct", which
# compares pinws's handshake with ct= with the same without it.
TARGETS = [
    ("connect", "<=", 0.85, "full handshake latency vs fair baseline"),
    # connect_resumed holds pinws resuming and the fair baseline's full
    # handshake, so its ratio is exactly this.
    ("connect_resumed", "<=", 0.5, "resumed connect vs fair baseline full connect"),
    ("echo", ">=", 1.10, "echo round trips vs fair baseline"),
    ("recv_1mib", ">=", 1.05, "1 MiB receive vs fair baseline"),
    ("send_1mib", ">=", 1.05, "1 MiB send vs fair baseline"),
    ("stream_64", ">=", 2.5, "64-byte stream vs fair baseline"),
    ("memory_idle", "<=", 1.0, "memory per idle connection vs fair baseline"),
    ("pins", "<=", 1.02, "handshake with 10 000 pins vs 1 pin"),
    ("ct", "<=", 1.10, "handshake with ct= vs without"),
    ("ct_cold", "<=", 1.10, "first handshake of a CTPolicy vs without ct="),
]


SHORT = {
    "connect": "connect",
    "echo": "echo",
    "recv_1mib": "1 MiB recv",
    "send_1mib": "1 MiB send",
    "stream_64": "64 B stream",
    "memory_idle": "idle memory",
}


def _stats(samples: list[float]) -> dict[str, float]:
    return {
        "median": statistics.median(samples),
        "min": min(samples),
        "max": max(samples),
        "n": len(samples),
    }


def summarise(results: dict[str, Any]) -> None:
    """Add median/min/max, ratios to both baselines and the targets, in place.

    ``ratio`` is to the fair baseline (``results["baseline"]``),
    ``ratio_certifi`` to websocket-client with certifi's bundle
    (``results["certifi_baseline"]``), when that client ran.
    """
    baselines = {
        "ratio": results["baseline"],
        "ratio_certifi": results.get("certifi_baseline"),
    }
    for metric in results["metrics"].values():
        for entry in metric["results"].values():
            if entry["samples"]:
                entry.update(_stats(entry["samples"]))
        for field, baseline in baselines.items():
            base = metric["results"].get(baseline, {}).get("median")
            for entry in metric["results"].values():
                if base and "median" in entry:
                    entry[field] = entry["median"] / base
    targets = []
    metrics = results["metrics"]
    for key, op, bound, what in TARGETS:
        value = None
        if key == "pins":
            counts = sorted(
                int(k.split("_")[1]) for k in metrics if k.startswith("pins_")
            )
            if len(counts) >= 2:
                low = metrics[f"pins_{counts[0]}"]["results"].get("pinws", {})
                high = metrics[f"pins_{counts[-1]}"]["results"].get("pinws", {})
                if "median" in low and "median" in high:
                    value = high["median"] / low["median"]
                    what = f"handshake with {counts[-1]} pins vs {counts[0]} pin"
        elif key in ("ct", "ct_cold"):
            off = metrics.get("ct_off", {}).get("results", {}).get("pinws", {})
            on_key = "ct_on" if key == "ct" else "ct_cold"
            on = metrics.get(on_key, {}).get("results", {}).get("pinws", {})
            if "median" in off and "median" in on:
                value = on["median"] / off["median"]
        else:
            value = (
                metrics.get(key, {}).get("results", {}).get("pinws", {}).get("ratio")
            )
        met = (
            None
            if value is None
            else (value <= bound if op == "<=" else value >= bound)
        )
        targets.append(
            {
                "metric": key,
                "what": what,
                "target": f"{op} {bound}",
                "value": value,
                "met": met,
            }
        )
    results["targets"] = targets


def _fmt(value: float) -> str:
    if value >= 1000:
        return f"{value:,.0f}"
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def markdown(results: dict[str, Any]) -> str:
    """The run as Markdown: machine, versions, the table, the targets."""
    clients = [name for name, c in results["clients"].items() if c["available"]]
    baseline = results["baseline"]
    lines = [
        f"# pinws benchmark ({results['profile']} run, {results['started']}, "
        f"{results['duration_s']} s)",
        "",
        "Machine: " + "; ".join(f"{k}: {v}" for k, v in results["machine"].items()),
        "",
        "Libraries: "
        + ", ".join(f"{k} {v}" for k, v in results["libraries"].items() if v),
        "",
        f"Median (min-max) over rounds; x: ratio of medians to {baseline} "
        "(the fair baseline: unpinned, stdlib ssl, one reused SSLContext "
        "with a small trust store).",
        "",
    ]
    header = ["metric", "unit", *clients]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "---|" * len(header))
    for metric in results["metrics"].values():
        row = [metric["title"], metric["unit"]]
        for name in clients:
            entry = metric["results"].get(name)
            if not entry or "median" not in entry:
                row.append("-")
                continue
            cell = (
                f"{_fmt(entry['median'])} ({_fmt(entry['min'])}-{_fmt(entry['max'])})"
            )
            if "ratio" in entry and name != baseline:
                cell += f" **{entry['ratio']:.2f}x**"
            row.append(cell)
        lines.append("| " + " | ".join(row) + " |")
    lines += _ratios(results, clients)
    lines += ["", "| target | goal | pinws | met |", "|---|---|---|---|"]
    for target in results["targets"]:
        value = "-" if target["value"] is None else f"{target['value']:.3f}x"
        met = {True: "yes", False: "**no**", None: "-"}[target["met"]]
        lines.append(f"| {target['what']} | {target['target']} | {value} | {met} |")
    skipped = {
        n: c["reason"] for n, c in results["clients"].items() if not c["available"]
    }
    if skipped:
        lines += ["", "Skipped: " + "; ".join(f"{n} ({r})" for n, r in skipped.items())]
    if results["errors"]:
        lines += ["", "Errors:"] + [
            f"- {e['metric']} / {e['client']}: {e['error']}" for e in results["errors"]
        ]
    if results.get("budget_exhausted"):
        lines += ["", "The time budget ran out: some metrics have fewer rounds."]
    return "\n".join(lines) + "\n"


def _ratios(results: dict[str, Any], clients: list[str]) -> list[str]:
    """pinws (and the floor) divided by each baseline, metric by metric."""
    certifi = results.get("certifi_baseline")
    columns = [("pinws", "ratio", f"pinws / {results['baseline']} (fair)")]
    if certifi in clients:
        columns.append(("pinws", "ratio_certifi", f"pinws / {certifi} (certifi)"))
    if "floor" in clients:
        columns.append(("floor", "ratio", "floor / fair baseline"))
    lines = ["", "| metric | " + " | ".join(c[2] for c in columns) + " |"]
    lines.append("|" + "---|" * (len(columns) + 1))
    for metric in results["metrics"].values():
        if "pinws" not in metric["results"] or len(metric["results"]) < 2:
            continue
        cells = []
        for name, field, _ in columns:
            value = metric["results"].get(name, {}).get(field)
            cells.append("-" if value is None else f"{value:.2f}x")
        lines.append(f"| {metric['title']} | " + " | ".join(cells) + " |")
    return lines


def chart(results: dict[str, Any], paths: list[Path]) -> bool:
    """Draw the run's chart to each of *paths*; False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    metrics = results["metrics"]
    clients = [name for name, c in results["clients"].items() if c["available"]]
    baseline = results["baseline"]
    colours = dict(
        zip(
            CLIENTS,
            ["#1b9e77", "#333333", "#aaaaaa", "#e7298a", "#d95f02", "#7570b3"],
        )
    )
    fig, axes = plt.subplots(2, 2, figsize=(13, 9))
    ax = axes[0][0]
    main = [k for k, m in metrics.items() if m["group"] == "main"]
    width = 0.8 / max(len(clients), 1)
    for i, name in enumerate(clients):
        xs, ys, lo, hi = [], [], [], []
        for j, key in enumerate(main):
            entry = metrics[key]["results"].get(name, {})
            base = metrics[key]["results"].get(baseline, {}).get("median")
            if "median" not in entry or not base:
                continue
            ratio = entry["median"] / base
            xs.append(j + i * width)
            ys.append(ratio)
            lo.append(ratio - entry["min"] / base)
            hi.append(entry["max"] / base - ratio)
        ax.bar(
            xs, ys, width, yerr=[lo, hi], label=name, color=colours.get(name), capsize=2
        )
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_xticks([j + width * (len(clients) - 1) / 2 for j in range(len(main))])
    ax.set_xticklabels(
        [
            SHORT.get(k, metrics[k]["title"])
            + ("\n(lower is better)" if metrics[k]["better"] == "lower" else "")
            for k in main
        ],
        fontsize=8,
    )
    ax.set_yscale("log")
    # The certifi baseline's memory and connect ratios reach 10-30x.
    top = max([1.0, *(b.get_height() for b in ax.patches)]) * 1.3
    ticks = [t for t in (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100) if t <= top]
    ax.set_ylim(0.1, top)
    ax.set_yticks(ticks)
    ax.set_yticklabels([f"{t:g}" for t in ticks])
    ax.set_ylabel(f"ratio to {baseline} (median, min-max), log scale")
    ax.set_title("Side by side, ratio to the fair unpinned baseline")
    ax.legend(fontsize=8)

    ax = axes[0][1]
    counts = sorted(int(k.split("_")[1]) for k in metrics if k.startswith("pins_"))
    medians = [
        metrics[f"pins_{c}"]["results"].get("pinws", {}).get("median") for c in counts
    ]
    if counts and all(m is not None for m in medians):
        ax.errorbar(
            counts,
            medians,
            yerr=[
                [
                    m - metrics[f"pins_{c}"]["results"]["pinws"]["min"]
                    for c, m in zip(counts, medians)
                ],
                [
                    metrics[f"pins_{c}"]["results"]["pinws"]["max"] - m
                    for c, m in zip(counts, medians)
                ],
            ],
            marker="o",
            color=colours["pinws"],
            capsize=3,
            label="pinws handshake (ms)",
        )
        ax.set_xscale("log")
        ax.set_ylim(bottom=0)
        ax.set_xlabel("pins in the pin set")
        ax.set_ylabel("connect-to-open latency, ms")
        lookups = [
            metrics.get(f"lookup_{c}", {})
            .get("results", {})
            .get("pinws", {})
            .get("median")
            for c in counts
        ]
        if all(v is not None for v in lookups):
            twin = ax.twinx()
            twin.plot(
                counts,
                lookups,
                marker="s",
                linestyle="--",
                color="#666666",
                label="pin lookup (ns)",
            )
            twin.set_ylim(bottom=0)
            twin.set_ylabel("one pin lookup, ns")
            twin.legend(loc="lower right", fontsize=8)
        ax.legend(loc="lower left", fontsize=8)
    ax.set_title("Pin set size (pins on the intermediate)")

    ax = axes[1][0]
    lengths = sorted(int(k.split("_")[1]) for k in metrics if k.startswith("chain_"))
    for name in clients:
        ys = [
            metrics[f"chain_{n}"]["results"].get(name, {}).get("median")
            for n in lengths
        ]
        if lengths and all(y is not None for y in ys):
            ax.plot(lengths, ys, marker="o", label=name, color=colours.get(name))
    ax.set_xticks(lengths)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("certificates in the chain")
    ax.set_ylabel("connect-to-open latency, ms (median)")
    ax.set_title("Chain length")
    ax.legend(fontsize=8)

    ax = axes[1][1]
    keys = [k for k, m in metrics.items() if m["group"] == "concurrent"]
    for i, name in enumerate(clients):
        ys = []
        for key in keys:
            entry = metrics[key]["results"].get(name, {})
            base = metrics[key]["results"].get(baseline, {}).get("median")
            ys.append(entry["median"] / base if "median" in entry and base else 0)
        ax.bar(
            [j + i * width for j in range(len(keys))],
            ys,
            width,
            label=name,
            color=colours.get(name),
        )
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_xticks([j + width * (len(clients) - 1) / 2 for j in range(len(keys))])
    ax.set_xticklabels([metrics[k]["title"].split(": ")[-1] for k in keys], fontsize=8)
    ax.set_ylabel(f"ratio to {baseline} (lower is better)")
    title = (
        metrics[keys[0]]["title"].split(":")[0] if keys else "Concurrent connections"
    )
    ax.set_title(title)
    ax.legend(fontsize=8)

    machine = results["machine"]
    fig.suptitle(
        f"pinws benchmark - {machine['cpu']}, {machine['cores']} cores, "
        f"{machine['python']}",
        fontsize=10,
    )
    fig.tight_layout()
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110)
    plt.close(fig)
    return True
