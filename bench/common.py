"""What every benchmark shares: percentiles, the machine's load, targets and the tables."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from pathlib import Path

import attrs

ROOT = Path(__file__).resolve().parents[1]
BUSY_CORES = 0.25  # other processes' CPU above which the figures are flagged as pessimistic


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of `values`; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def ratio(value: float, baseline: float) -> float:
    if baseline == 0 or math.isnan(value) or math.isnan(baseline):
        return math.nan
    return value / baseline


def load_average() -> tuple[float, float, float]:
    try:
        return os.getloadavg()
    except OSError:  # not on every platform
        return (math.nan, math.nan, math.nan)


def cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _busy_jiffies() -> tuple[int, int] | None:
    """(busy, total) clock ticks of every core since boot, from /proc/stat (Linux)."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


def others_cpu(window_s: float = 1.0) -> float:
    """How many cores' worth of CPU other processes used over the next `window_s` (this
    process's own use taken out); NaN where /proc/stat is missing."""
    first, cpu0 = _busy_jiffies(), time.process_time()
    time.sleep(window_s)
    second, cpu1 = _busy_jiffies(), time.process_time()
    if first is None or second is None or second[1] == first[1]:
        return math.nan
    busy_cores = (second[0] - first[0]) / (second[1] - first[1]) * cpu_count()
    return max(0.0, busy_cores - (cpu1 - cpu0) / window_s)


def process_cpu_s(pid: int) -> float:
    """CPU seconds (user + system, every thread) that process `pid` has used so far; NaN when
    it cannot be read (no /proc, or the process is gone)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return math.nan
    fields = text.rsplit(")", 1)[1].split()  # the fields from the 3rd (state) on
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    """The live child processes of `pid` (Linux), of every one of its threads."""
    found: list[int] = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return found
    for task in tasks:
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return found


def process_tree_cpu_s(pid: int) -> float:
    """CPU seconds used by process `pid` and its live children (the other serving processes of
    `serve --processes N`); NaN when `pid` cannot be read."""
    total = process_cpu_s(pid)
    for child in children(pid):
        used = process_cpu_s(child)
        if not math.isnan(used):
            total += used
    return total


def tree_cpu_s() -> float:
    """CPU seconds used by this process and its live children (a worker process the code under
    test started, say): time.process_time() alone sees only this process."""
    total = time.process_time()
    for child in children(os.getpid()):
        used = process_cpu_s(child)
        if not math.isnan(used):
            total += used
    return total


def own_cpu_s() -> float:
    """CPU seconds used by this process and its children: those it has reaped (servers it ran
    and stopped) and those still alive (a worker process the code under test started)."""
    t = os.times()
    total = t.user + t.system + t.children_user + t.children_system
    for child in children(os.getpid()):
        used = process_cpu_s(child)
        if not math.isnan(used):
            total += used
    return total


class OthersWatch:
    """How much CPU other processes used while a benchmark ran: the whole machine's busy time
    less this process tree's, in cores on average."""

    def __init__(self) -> None:
        self._busy0 = _busy_jiffies()
        self._own0 = own_cpu_s()
        self._wall0 = time.perf_counter()

    def cores(self) -> float:
        busy1, own1, wall1 = _busy_jiffies(), own_cpu_s(), time.perf_counter()
        if self._busy0 is None or busy1 is None or busy1[1] == self._busy0[1]:
            return math.nan
        machine = (busy1[0] - self._busy0[0]) / (busy1[1] - self._busy0[1]) * cpu_count()
        return max(0.0, machine - (own1 - self._own0) / (wall1 - self._wall0))

    def note(self) -> str:
        cores = self.cores()
        note = f"other processes used {cores:.2f} cores on average during the run"
        if cores > BUSY_CORES:
            note += "  << BUSY: the figures are pessimistic"
        return note


def machine_note(before: bool = True) -> str:
    """The cores and the load average. Before a benchmark, also how much CPU other processes
    are using right now (the load average still carries the last benchmark's own load), with a
    warning when it is enough to skew the figures."""
    one, five, fifteen = load_average()
    note = f"{cpu_count()} cores, load average {one:.2f} {five:.2f} {fifteen:.2f}"
    if before:
        others = others_cpu()
        note += f", other processes using {others:.2f} cores"
        if others > BUSY_CORES:
            note += "  << BUSY: the figures are pessimistic"
    return note


@attrs.frozen
class Check:
    """One figure judged against its target."""

    benchmark: str
    figure: str
    measured: float
    target: float
    unit: str
    higher_is_better: bool
    baseline_note: str = ""
    failures: int = 0  # requests or calls that failed: the figure does not stand with any

    @property
    def passed(self) -> bool:
        if math.isnan(self.measured) or self.failures:
            return False
        if self.higher_is_better:
            return self.measured >= self.target
        return self.measured <= self.target

    @property
    def verdict(self) -> str:
        return "PASS" if self.passed else "FAIL"

    @property
    def measured_text(self) -> str:
        text = f"{fmt(self.measured)} {self.unit}".strip()
        return text + (f" ({self.failures} failed)" if self.failures else "")

    @property
    def target_text(self) -> str:
        return f"{'>=' if self.higher_is_better else '<='} {fmt(self.target)} {self.unit}".strip()


def fmt(value: float, digits: int = 3) -> str:
    if math.isnan(value):
        return "n/a"
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:,.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    return f"{value:.{digits}g}"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)
    ]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines)
