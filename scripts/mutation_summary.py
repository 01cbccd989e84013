"""Per-room counts of a mutmut run, read from the results it keeps in mutants/ (scripts/mutation).

``mutmut results`` lists survivors one per line; this prints the figures a
reviewer compares across runs: generated, killed, survived, timed out,
suspicious, without a test, and the score over the mutants a test reached.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
from collections import Counter
from pathlib import Path

#: mutmut 3.8's exit-code meaning (mutmut/stats.py status_by_exit_code)
STATUS = {1: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests", 34: "skipped", 36: "timeout"}
STATUS.update(dict.fromkeys((-24, 24, 152, 255), "timeout"))
STATUS.update({37: "caught by type check", None: "not checked", 2: "interrupted", -11: "segfault", -9: "segfault"})


def counts(pattern: str, mutants: Path = Path("mutants")) -> Counter[str]:
    found: Counter[str] = Counter()
    for meta in mutants.rglob("*.py.meta"):
        for name, code in json.loads(meta.read_text())["exit_code_by_key"].items():
            if fnmatch.fnmatch(name, pattern):
                found[STATUS.get(code, "suspicious")] += 1
    return found


def main() -> None:
    """Print one room's line; with ``--min-score``, fail under it (.ci/mutation)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("pattern", help="mutant names, as given to mutmut run (messaging.http.api.*)")
    parser.add_argument("--seconds", type=int, help="the run's wall time")
    parser.add_argument("--min-score", type=float, help="exit 1 when the score (percent) is under this")
    args = parser.parse_args()
    found = counts(args.pattern)
    total = sum(found.values())
    reached = total - found["no tests"] - found["not checked"] - found["skipped"]
    caught = found["killed"] + found["timeout"]
    percent = 100 * caught / reached if reached else 0.0
    score = f"{percent:.1f}%" if reached else "n/a"
    print(
        f"{args.pattern}: generated {total}, killed {found['killed']}, survived {found['survived']}, "
        f"timeout {found['timeout']}, suspicious {found['suspicious']}, no tests {found['no tests']}, "
        f"not checked {found['not checked']}; score {score} ({caught}/{reached})"
        + (f"; wall time {args.seconds} s" if args.seconds is not None else "")
    )
    if args.min_score is not None and percent < args.min_score:
        print(f"{args.pattern}: score under {args.min_score:g}%")
        raise SystemExit(1)


if __name__ == "__main__":
    main()
