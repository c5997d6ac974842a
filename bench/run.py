"""`make bench`: each benchmark in turn, then one table of its targets with PASS or FAIL.

    python -m bench.run [--only intake,mixed,pipeline,transcription]

  intake         one `serve` process at saturation: signed webhooks/s (bench/intake.py); the
                 aiohttp hello-world under the same load, printed as a reference only
  mixed          webhooks at 100/s while the worker transcribes back to back (bench/mixed.py)
  pipeline       calls/s through every stage, outside services instant (bench/pipeline.py)
  transcription  Whisper's real-time factor (bench/transcription.py)

Every server and client runs on this machine and talks to 127.0.0.1 only. Exit status 0 when
every target passed, 1 otherwise."""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Callable, Sequence

from bench import intake, mixed, pipeline, transcription
from bench.common import Check, machine_note, others_busy, table

BENCHMARKS: dict[str, Callable[[], tuple[list[Check], list[str]]]] = {
    "intake": intake.run,
    "mixed": mixed.run,
    "pipeline": pipeline.run,
    "transcription": transcription.run,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default=",".join(BENCHMARKS), help="which, comma-separated")
    chosen = [b.strip() for b in parser.parse_args(argv).only.split(",") if b.strip()]
    unknown = sorted(set(chosen) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    started = time.perf_counter()
    print(f"bench: {machine_note()}", flush=True)
    others: list[float] = []
    rows: list[list[str]] = []
    lines: list[str] = []
    passed = True
    for name in (b for b in BENCHMARKS if b in chosen):
        others.append(others_busy())
        try:
            checks, more = BENCHMARKS[name]()
        except Exception:
            traceback.print_exc()
            rows.append([name, "did not run (see the error above)", "", "", "ERROR", ""])
            passed = False
            continue
        rows += [check.row() for check in checks]
        lines += more
        passed = passed and all(check.passed for check in checks)
    elapsed = time.perf_counter() - started
    print(
        f"\n== summary ({elapsed:.0f} s; before each benchmark other processes used "
        f"{' / '.join(f'{cores:.2f}' for cores in others)} cores) =="
    )
    print(table(["benchmark", "figure", "measured", "target", "verdict", "note"], rows))
    print("\n".join(lines))
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
