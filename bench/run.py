"""`make bench`: the intake, pipeline and transcription benchmarks in turn, then one table of
every target with PASS or FAIL. About three minutes on a 2-core machine.

    python -m bench.run [--quick] [--only intake,pipeline,transcription] [--strict]

Exit status 0 when every benchmark ran (whatever the verdicts), 1 when one could not run, or
with --strict when a target is missed."""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Callable, Sequence

from bench import intake, pipeline, transcription
from bench.common import Check, OthersWatch, machine_note, table

BENCHMARKS = ("intake", "pipeline", "transcription")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter phases, for a smoke run")
    parser.add_argument("--only", default=",".join(BENCHMARKS), help="which, comma-separated")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    chosen = [b.strip() for b in args.only.split(",") if b.strip()]
    unknown = sorted(set(chosen) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")

    runners: dict[str, Callable[[], Sequence[Check]]] = {
        "intake": lambda: (
            intake.run(intake.Durations.quick() if args.quick else intake.Durations()).checks
        ),
        "pipeline": lambda: (
            pipeline.run(pipeline.Budget.quick() if args.quick else pipeline.Budget()).checks
        ),
        "transcription": lambda: transcription.run().checks,
    }
    started = time.perf_counter()
    print(f"bench: {machine_note()}", flush=True)
    checks: list[Check] = []
    broken: list[str] = []
    during: list[str] = []
    for name in BENCHMARKS:
        if name not in chosen:
            continue
        watch = OthersWatch()
        try:
            checks.extend(runners[name]())
        except Exception:
            traceback.print_exc()
            broken.append(name)
        during.append(f"  {name}: {watch.note()}")

    elapsed = time.perf_counter() - started
    print(f"\n== summary ==  ({elapsed:.0f} s; at the end {machine_note(before=False)})")
    rows = [
        [
            c.benchmark,
            c.figure,
            c.measured_text,
            c.target_text,
            c.baseline_note,
            c.verdict,
        ]
        for c in checks
    ]
    rows += [[name, "did not run (see the error above)", "", "", "", "ERROR"] for name in broken]
    print(table(["benchmark", "figure", "measured", "target", "baseline", "verdict"], rows))
    print("\n".join(during))
    if broken:
        return 1
    if args.strict and not all(c.passed for c in checks):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
