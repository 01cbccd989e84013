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
    monkeypatch.setattr(script, "current_fingerprint", lambda: dict(fingerprint))
    script.fingerprint = fingerprint  # the tests change it to play "the settings changed"
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


def test_the_decided_verdicts_and_function_hashes_go_back_into_a_fresh_mutants_directory(
    verdicts: ModuleType, tmp_path: Path
) -> None:
    record = tmp_path / "verdicts.json"
    write_meta(tmp_path / "old", {NAME + "1": 1, NAME + "2": 0, NAME + "3": None})
    verdicts.save(tmp_path / "old", record)
    fresh = tmp_path / "fresh"
    assert verdicts.restore(fresh, record) == 2
    meta = json.loads((fresh / "messaging" / "store" / "visibility.py.meta").read_text())
    assert meta["exit_code_by_key"] == {NAME + "1": 1, NAME + "2": 0}  # the undecided one is left to mutmut
    assert meta["hash_by_function_name"] == {"x_in_window": "abc123"}
    # every key mutmut's SourceFileMutationData.load() pops, and no other
    assert set(meta) == {
        "exit_code_by_key",
        "hash_by_function_name",
        "type_check_error_by_key",
        "durations_by_key",
        "estimated_durations_by_key",
    }


def test_nothing_is_restored_when_the_test_settings_changed_since_the_record(
    verdicts: ModuleType, tmp_path: Path
) -> None:
    record = tmp_path / "verdicts.json"
    write_meta(tmp_path / "old", {NAME + "1": 1})
    verdicts.save(tmp_path / "old", record)
    verdicts.fingerprint["test_selection"] = "other tests"
    assert verdicts.restore(tmp_path / "fresh", record) == 0
    assert not (tmp_path / "fresh").exists()


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
    write_meta(tmp_path / "old", {NAME + "2": 0, NAME + "1": 1})
    verdicts.save(tmp_path / "old", record)
    lines = record.read_text().splitlines()
    assert lines.index(f'    "{NAME}1": 1,') < lines.index(f'    "{NAME}2": 0')


def test_the_fingerprint_is_the_one_mutmut_reads_from_setup_cfg() -> None:
    from mutmut.configuration import config

    assert load_script().current_fingerprint() == {
        group: config().config_fingerprint()[group] for group in ("test_execution", "test_selection", "timeout")
    }
