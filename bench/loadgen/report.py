"""What a load-generator run reports: percentiles and the generator's own CPU."""

from __future__ import annotations

import resource

from .switch import Stats


def cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def summary(values: list[float]) -> dict[str, float | int]:
    if not values:
        return {"n": 0, "p50": 0.0, "p99": 0.0, "max": 0.0}
    v = sorted(values)

    def pct(p: float) -> float:
        return round(v[min(len(v) - 1, int(p * len(v)))], 3)

    return {"n": len(v), "p50": pct(0.50), "p99": pct(0.99), "max": round(v[-1], 3)}


def result(stats: Stats, **extra: object) -> dict[str, object]:
    return {
        "started": stats.started,
        "finished": stats.finished,
        "lost": stats.lost,
        "left_open": stats.left_open,
        "accept_to_first_cmd_ms": summary(stats.accept_ms),
        "accept_to_connect_ms": summary(stats.connect_ms),
        "key_to_cmd_ms": summary(stats.key_ms),
        "outcomes": stats.outcomes,
        "problems": stats.problems,
        "loadgen_cpu_s": round(cpu(), 3),
        **extra,
    }
