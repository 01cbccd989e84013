"""Keep mutmut's verdicts in the repository, so a fresh clone re-tests only what changed.

mutmut keeps its verdicts in ``mutants/`` (one ``<module>.py.meta`` per source
file: each mutant's exit code, and a hash of each function), which a clean
clone does not have: without them every run starts from nothing, and the
store alone is two to three hours on two cores. ``scripts/mutation`` therefore

- ``restore``s the verdicts recorded in ``docs/mutation-verdicts.json`` into
  ``mutants/`` before mutmut runs (only for modules ``mutants/`` has no
  verdicts for yet). mutmut then keeps a verdict only where the function's
  hash is unchanged, so an edited function is tested again and nothing
  else is;
- ``save``s what ``mutants/`` holds after the run, for the commit that
  records the round.

A verdict also depends on the tests. The record carries mutmut's fingerprint
of the test options and selection (``setup.cfg`` ``[mutmut]``); when either
changed, or the timeout settings did, nothing is restored (as mutmut itself
resets every verdict then). A test edited or removed without such a change
is not seen: naming a room (``scripts/mutation store``) re-tests all of it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

RECORD = Path("docs/mutation-verdicts.json")
MUTANTS = Path("mutants")
#: the fingerprint groups that can change a verdict (mutmut's config_fingerprint)
KEPT_ONLY_IF_SAME = ("test_execution", "test_selection", "timeout")


def current_fingerprint() -> dict[str, str]:
    from mutmut.configuration import config

    found = config().config_fingerprint()
    return {group: found[group] for group in KEPT_ONLY_IF_SAME}


def metas(mutants: Path) -> dict[str, dict[str, Any]]:
    """``{source path: its .meta}`` for every module mutmut has generated in ``mutants``."""
    return {
        str(meta.relative_to(mutants))[: -len(".meta")]: json.loads(meta.read_text())
        for meta in sorted(mutants.rglob("*.py.meta"))
    }


def save(mutants: Path = MUTANTS, record: Path = RECORD) -> dict[str, Any]:
    """Write the verdicts ``mutants`` holds (decided ones only) to ``record``; return what was written."""
    modules = {}
    for path, meta in metas(mutants).items():
        verdicts = {key: code for key, code in meta["exit_code_by_key"].items() if code is not None}
        if verdicts:
            modules[path] = {"functions": meta["hash_by_function_name"], "verdicts": verdicts}
    written = {"fingerprint": current_fingerprint(), "modules": modules}
    record.write_text(json.dumps(written, indent=1, sort_keys=True) + "\n")
    decided = sum(len(m["verdicts"]) for m in modules.values())
    print(f"mutation verdicts: {decided} of {len(modules)} modules written to {record}")
    return written


def restore(mutants: Path = MUTANTS, record: Path = RECORD) -> int:
    """Give mutmut the recorded verdicts of the modules ``mutants`` has none for; return how many."""
    if not record.exists():
        return 0
    kept = json.loads(record.read_text())
    if kept["fingerprint"] != current_fingerprint():
        print(f"mutation verdicts: {record} was made with other test settings ([mutmut] in setup.cfg); none restored")
        return 0
    restored = 0
    for path, module in kept["modules"].items():
        meta_path = mutants / f"{path}.meta"
        if meta_path.exists():
            continue  # mutants/ already has this module's verdicts, newer than the record's
        meta_path.parent.mkdir(parents=True, exist_ok=True)
        meta = {
            "exit_code_by_key": module["verdicts"],
            "hash_by_function_name": module["functions"],
            "type_check_error_by_key": {},
            "durations_by_key": {},
            "estimated_durations_by_key": {},
        }
        meta_path.write_text(json.dumps(meta, indent=4))
        restored += len(module["verdicts"])
    print(f"mutation verdicts: {restored} restored from {record}")
    return restored


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["save", "restore"])
    args = parser.parse_args()
    save() if args.action == "save" else restore()


if __name__ == "__main__":
    main()
