"""`python -m tests.eval [--analyzer NAME] [--sample N] [--calls PATH]`: the labelled set
through the configured analyzer.

The analyzer is built by the composition root from the PIPELINE_ANALYZER* settings (the
environment, overridden by --analyzer), so the figures are those of the analyzer `serve` runs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from tests.eval.dataset import CALLS, OTHER_CALLS, OTHER_REDACTION
from tests.eval.run import configured_analyzer, evaluate, redaction_summaries, summaries


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.eval", description=__doc__)
    parser.add_argument(
        "--analyzer", help="PIPELINE_ANALYZER for this run (default: the environment's, or rules)"
    )
    parser.add_argument(
        "--sample", type=int, help="only this many calls, spread over the set (a slow LLM)"
    )
    parser.add_argument(
        "--calls", type=Path, default=CALLS, help="a file of labelled calls (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    env = dict(os.environ)
    if args.analyzer:
        env["PIPELINE_ANALYZER"] = args.analyzer
    evaluation = asyncio.run(evaluate(configured_analyzer(env), args.sample, args.calls))
    print("\n".join(evaluation.lines))
    if args.calls == CALLS and args.sample is None and OTHER_CALLS:
        print("\n== the sets written by other authors (tests/eval/data/README.md)")
        print("\n".join(asyncio.run(summaries(configured_analyzer(env), OTHER_CALLS))))
    if args.calls == CALLS and args.sample is None and OTHER_REDACTION:
        print("\n== the redaction sets written by other authors")
        print("\n".join(redaction_summaries(OTHER_REDACTION)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
