"""One vocabulary of setting names: the core defines them once and everyone else imports them."""

from __future__ import annotations

import ast
import io
import tokenize
from pathlib import Path

from benchmark.protocol.setting_names import NO_SETTING, SETTINGS, SOURCE_HR_SETTINGS, setting_file_name

ROOT = Path(__file__).resolve().parents[1]
DEFINITION = ROOT / "benchmark" / "protocol" / "setting_names.py"
NAMES = frozenset({"misaligned", "unpaired", "n/a", "na"})
NOT_YET_SWITCHED: frozenset[str] = frozenset()
"""Files whose owners (the method refactor) switch them to the vocabulary later."""


def spelled_setting_names(path: Path) -> list[str]:
    """``path:line`` of every string literal in ``path`` that is exactly a setting name (prose is not)."""
    found = []
    for token in tokenize.generate_tokens(io.StringIO(path.read_text()).readline):
        if token.type != tokenize.STRING or "f" in token.string.split(token.string[-1])[0].lower():
            continue
        if ast.literal_eval(token.string) in NAMES:
            found.append(f"{path.relative_to(ROOT)}:{token.start[0]}")
    return found


def test_the_vocabulary():
    assert SETTINGS == ("misaligned", "unpaired", "n/a") and SETTINGS[:2] == SOURCE_HR_SETTINGS
    assert setting_file_name(NO_SETTING) == "na" and setting_file_name("unpaired") == "unpaired"


def test_no_module_spells_a_setting_name_but_its_definition():
    spelled = [
        place
        for folder in ("benchmark", "reports", "methods", "datasets")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if path != DEFINITION and str(path.relative_to(ROOT)) not in NOT_YET_SWITCHED
        for place in spelled_setting_names(path)
    ]
    assert spelled == []
