"""Markdown tables from a callback_ingest results file, as docs/PERFORMANCE.md shows them.

.venv/bin/python bench/report.py bench/results/callback_ingest-<timestamp>.json
"""

import json
import sys
from pathlib import Path
from typing import Any


def _ms(figures: dict[str, Any], point: str) -> str:
    return f"{figures[point]:.1f}"


def tables(report: dict[str, Any]) -> str:
    if not report.get("runs"):
        return f"{Path(report.get('_path', '')).name}: no load runs (--probe-only)"
    lines = [
        f"Run {Path(report.get('_path', '')).name}: commit {report['machine'].get('code', {}).get('commit', '?')[:7]}, "
        f"load average at start {report.get('load_average_at_start', ['?'])[0]:.1f}",
        "",
        "| gunicorn | phase | target | msg/s | p50 ms | p95 ms | p99 ms | errors | server CPU ms/req: all "
        "(gunicorn + PostgreSQL) | cores: gunicorn / PostgreSQL / generator / others |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for worker_class, run in report["runs"].items():
        config = run["gunicorn"]
        name = f"{worker_class} x{config['workers']}" + (
            f" ({config['threads']} threads)" if config["threads"] > 1 else ""
        )
        fixed = run["fixed_rate"]
        for target in ("callback", "bare"):
            lines.append(_row(name, f"fixed {fixed['rate']:g}/s", target, fixed[target]))
        for connections, entry in run["saturation"].items():
            median = entry["median"]
            for target in ("callback", "bare"):
                lines.append(
                    _row(name, f"saturation c={connections} (median of {len(entry['rounds'])})", target, median[target])
                )
            lines.append(
                f"| {name} | saturation c={connections} | **callback ÷ bare** | "
                f"**{median['ratio_callback_over_bare']:.3f}** | | | | | **{median['ratio_by_server_cpu']:.3f}** | |"
            )
        duplicates = run["duplicates"]
        lines.append(
            _row(name, f"duplicates x{duplicates['copies']} c={duplicates['concurrency']}", "callback", duplicates)
        )
    return "\n".join(lines)


def _row(name: str, phase: str, target: str, figures: dict[str, Any]) -> str:
    latency = figures["latency_ms"]
    cpu = figures["cpu_ms_per_request"]
    cores = figures["cpu_cores"]
    return (
        f"| {name} | {phase} | {target} | {figures['throughput_rps']:.0f} | {_ms(latency, 'p50')} | "
        f"{_ms(latency, 'p95')} | {_ms(latency, 'p99')} | {figures['errors']} | "
        f"{cpu['server_total']:.2f} ({cpu['gunicorn']:.2f} + {cpu['postgresql']:.2f}) | "
        f"{cores['gunicorn']:.2f} / {cores['postgresql']:.2f} / {cores['load_generator']:.2f} / "
        f"{cores['other_processes']:.2f} |"
    )


if __name__ == "__main__":
    for argument in sys.argv[1:]:
        data = json.loads(Path(argument).read_text())
        data["_path"] = argument
        print(tables(data), end="\n\n")
