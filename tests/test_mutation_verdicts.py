"""scripts/mutation_verdicts.py: mutmut's verdicts kept in the repository and given back to a fresh mutants/."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

from tests.servers import ROOT

pytestmark = pytest.mark.stack_independent

NAME = "messaging.store.visibility.x_in_window__mutmut_"


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mutation_verdicts", ROOT / "scripts" / "mutation_verdicts.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def verdicts(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    script = load_script()
    fingerprint = {"test_execution": "a", "test_selection": "b", "timeout": "c"}
    selection = ["tests/test_a.py", "tests/test_b.py"]
    monkeypatch.setattr(script, "current_fingerprint", lambda: dict(fingerprint))
    monkeypatch.setattr(script, "current_selection", lambda: list(selection))
    # the tests change these to play "the settings changed"
    script.fingerprint, script.selection = fingerprint, selection
    return script


def write_meta(mutants: Path, codes: dict[str, int | None]) -> Path:
    meta = mutants / "messaging" / "store" / "visibility.py.meta"
    meta.parent.mkdir(parents=True, exist_ok=True)
    meta.write_text(
        json.dumps(
            {
                "exit_code_by_key": codes,
                "hash_by_function_name": {"x_in_window": "abc123"},
                "type_check_error_by_key": {},
                "durations_by_key": {key: 1.5 for key in codes},
                "estimated_durations_by_key": {},
            }
        )
    )
    return meta


def record_one_kill(verdicts: ModuleType, tmp_path: Path) -> Path:
    """A record of one killed mutant, made with the fixture's settings."""
    record = tmp_path / "verdicts.json"
    write_meta(tmp_path / "old", {NAME + "1": 1})
    verdicts.save(tmp_path / "old", record)
    return record


def test_the_decided_verdicts_and_function_hashes_go_back_into_a_fresh_mutants_directory(
    verdicts: ModuleType, tmp_path: Path
) -> None:
    record = tmp_path / "verdicts.json"
    write_meta(tmp_path / "old", {NAME + "1": 1, NAME + "2": 33, NAME + "3": None})
    verdicts.save(tmp_path / "old", record)
    fresh = tmp_path / "fresh"
    assert verdicts.restore(fresh, record) == 2
    meta = json.loads((fresh / "messaging" / "store" / "visibility.py.meta").read_text())
    assert meta["exit_code_by_key"] == {NAME + "1": 1, NAME + "2": 33}  # the undecided one is left to mutmut
    assert meta["hash_by_function_name"] == {"x_in_window": "abc123"}
    # every key mutmut's SourceFileMutationData.load() pops, and no other
    assert set(meta) == {
        "exit_code_by_key",
        "hash_by_function_name",
        "type_check_error_by_key",
        "durations_by_key",
        "estimated_durations_by_key",
    }


def test_survivors_are_not_recorded_so_the_next_run_tests_them_again(verdicts: ModuleType, tmp_path: Path) -> None:
    record = tmp_path / "verdicts.json"
    write_meta(tmp_path / "old", {NAME + "1": 1, NAME + "2": 0})
    written = verdicts.save(tmp_path / "old", record)
    assert written["modules"]["messaging/store/visibility.py"]["verdicts"] == {NAME + "1": 1}


def test_nothing_is_restored_when_the_test_settings_changed_since_the_record(
    verdicts: ModuleType, tmp_path: Path
) -> None:
    record = record_one_kill(verdicts, tmp_path)
    verdicts.fingerprint["test_execution"] = "other pytest options"
    assert verdicts.restore(tmp_path / "fresh", record) == 0
    assert not (tmp_path / "fresh").exists()


def test_when_test_files_were_only_added_the_kills_are_restored_and_nothing_else(
    verdicts: ModuleType, tmp_path: Path
) -> None:
    record = tmp_path / "verdicts.json"
    # killed, killed by a signal, timed out, survived, no test
    write_meta(tmp_path / "old", {NAME + "1": 1, NAME + "2": 3, NAME + "3": 36, NAME + "4": 0, NAME + "5": 33})
    verdicts.save(tmp_path / "old", record)
    verdicts.fingerprint["test_selection"] = "one more file"
    verdicts.selection.append("tests/test_c.py")
    assert verdicts.restore(tmp_path / "fresh", record) == 3
    meta = json.loads((tmp_path / "fresh" / "messaging" / "store" / "visibility.py.meta").read_text())
    assert meta["exit_code_by_key"] == {NAME + "1": 1, NAME + "2": 3, NAME + "3": 36}


def test_when_a_test_file_left_the_selection_nothing_is_restored(verdicts: ModuleType, tmp_path: Path) -> None:
    record = record_one_kill(verdicts, tmp_path)
    verdicts.fingerprint["test_selection"] = "a file fewer, one more"
    verdicts.selection[:] = ["tests/test_a.py", "tests/test_c.py"]
    assert verdicts.restore(tmp_path / "fresh", record) == 0


def test_when_the_test_options_changed_even_an_added_file_restores_nothing(
    verdicts: ModuleType, tmp_path: Path
) -> None:
    record = record_one_kill(verdicts, tmp_path)
    verdicts.fingerprint.update(test_selection="one more file", test_execution="other pytest options")
    verdicts.selection.append("tests/test_c.py")
    assert verdicts.restore(tmp_path / "fresh", record) == 0


def test_a_module_mutants_already_has_verdicts_for_keeps_them(verdicts: ModuleType, tmp_path: Path) -> None:
    record = tmp_path / "verdicts.json"
    write_meta(tmp_path / "old", {NAME + "1": 0})
    verdicts.save(tmp_path / "old", record)
    newer = write_meta(tmp_path / "kept", {NAME + "1": 1})
    assert verdicts.restore(tmp_path / "kept", record) == 0
    assert json.loads(newer.read_text())["exit_code_by_key"] == {NAME + "1": 1}


def test_no_record_restores_nothing(verdicts: ModuleType, tmp_path: Path) -> None:
    assert verdicts.restore(tmp_path / "mutants", tmp_path / "absent.json") == 0


def test_the_record_is_sorted_one_key_a_line_so_a_round_changes_only_its_own_lines(
    verdicts: ModuleType, tmp_path: Path
) -> None:
    record = tmp_path / "verdicts.json"
    write_meta(tmp_path / "old", {NAME + "2": 33, NAME + "1": 1})
    verdicts.save(tmp_path / "old", record)
    lines = record.read_text().splitlines()
    assert lines.index(f'    "{NAME}1": 1,') < lines.index(f'    "{NAME}2": 33')


def test_the_fingerprint_is_the_one_mutmut_reads_from_setup_cfg() -> None:
    from mutmut.configuration import config

    assert load_script().current_fingerprint() == {
        group: config().config_fingerprint()[group] for group in ("test_execution", "test_selection", "timeout")
    }


def test_the_selection_is_the_one_mutmut_reads_from_setup_cfg() -> None:
    from mutmut.configuration import config

    assert load_script().current_selection() == config().pytest_add_cli_args_test_selection
