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
  records the round: every verdict but the survivors, which the next run
  tests again (mutmut would keep a survivor whose function is unchanged
  however many tests were added to kill it).

A verdict also depends on the tests. The record carries mutmut's fingerprint
of the test options and selection (``setup.cfg`` ``[mutmut]``); when the
options changed, or the timeout settings did, nothing is restored (as mutmut
itself resets every verdict then). When only the selection changed and every
test file the record was made with is still in it (files were added), the
kills are restored and nothing else: a mutant a test killed is still killed
by it, while one without a test or that survived may meet a new test. Any
other change of the selection restores nothing. A test edited or removed
without such a change is not seen: naming a room (``scripts/mutation store``)
re-tests all of it.
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


#: verdicts never recorded: a survivor is tested again by every run, against the tests added since
NOT_RECORDED = ("not checked", "survived")
#: the verdicts of a caught mutant
CAUGHT = ("killed", "timeout")


def status(code: int | None) -> str:
    """mutmut's name for an exit code ("killed", "survived", "timeout", ...), from mutmut itself."""
    from mutmut.stats import status_by_exit_code

    return status_by_exit_code[code]


def current_fingerprint() -> dict[str, str]:
    from mutmut.configuration import config

    found = config().config_fingerprint()
    return {group: found[group] for group in KEPT_ONLY_IF_SAME}


def current_selection() -> list[str]:
    """The test files mutmut maps to functions (``pytest_add_cli_args_test_selection``)."""
    from mutmut.configuration import config

    return list(config().pytest_add_cli_args_test_selection)


def restorable(kept: dict[str, Any]) -> str | None:
    """Which verdicts of record ``kept`` still hold: "all", "caught" (the selection grew) or None."""
    now = current_fingerprint()
    if kept["fingerprint"] == now:
        return "all"
    if any(kept["fingerprint"].get(group) != now[group] for group in KEPT_ONLY_IF_SAME if group != "test_selection"):
        return None
    recorded = kept.get("selection")
    if recorded is not None and set(recorded) <= set(current_selection()):
        return "caught"
    return None


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
        verdicts = {key: code for key, code in meta["exit_code_by_key"].items() if status(code) not in NOT_RECORDED}
        if verdicts:
            modules[path] = {"functions": meta["hash_by_function_name"], "verdicts": verdicts}
    written = {"fingerprint": current_fingerprint(), "selection": current_selection(), "modules": modules}
    record.write_text(json.dumps(written, indent=1, sort_keys=True) + "\n")
    decided = sum(len(m["verdicts"]) for m in modules.values())
    print(f"mutation verdicts: {decided} of {len(modules)} modules written to {record}")
    return written


def restore(mutants: Path = MUTANTS, record: Path = RECORD) -> int:
    """Give mutmut the recorded verdicts of the modules ``mutants`` has none for; return how many."""
    if not record.exists():
        return 0
    kept = json.loads(record.read_text())
    which = restorable(kept)
    if which is None:
        print(f"mutation verdicts: {record} was made with other test settings ([mutmut] in setup.cfg); none restored")
        return 0
    if which == "caught":
        print(f"mutation verdicts: test files were added since {record}; only its kills are restored")
    restored = 0
    for path, module in kept["modules"].items():
        meta_path = mutants / f"{path}.meta"
        if meta_path.exists():
            continue  # mutants/ already has this module's verdicts, newer than the record's
        verdicts = module["verdicts"]
        if which == "caught":
            verdicts = {key: code for key, code in verdicts.items() if status(code) in CAUGHT}
        meta_path.parent.mkdir(parents=True, exist_ok=True)
        meta = {
            "exit_code_by_key": verdicts,
            "hash_by_function_name": module["functions"],
            "type_check_error_by_key": {},
            "durations_by_key": {},
            "estimated_durations_by_key": {},
        }
        meta_path.write_text(json.dumps(meta, indent=4))
        restored += len(verdicts)
    print(f"mutation verdicts: {restored} restored from {record}")
    return restored


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["save", "restore"])
    args = parser.parse_args()
    save() if args.action == "save" else restore()


if __name__ == "__main__":
    main()
