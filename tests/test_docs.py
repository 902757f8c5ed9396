"""The project's own docs: every mapping example works, every key of the language is documented, and the
README sends nobody outside the repository."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from core.imports.mapping import Condition, FieldMapping, Mapping, SkipRule, parse_mapping

ROOT = Path(__file__).resolve().parent.parent
IMPORTS = (ROOT / "docs" / "imports.md").read_text(encoding="utf-8")
EXAMPLES = re.findall(r"```yaml\n(.*?)```", IMPORTS, flags=re.DOTALL)


def test_there_are_examples() -> None:
    assert len(EXAMPLES) >= 15


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda text: text.split("\n")[0])
def test_every_example_is_a_working_mapping(example: str) -> None:
    parse_mapping(example)


def keys_of(model: type) -> set[str]:
    return {info.alias or name for name, info in model.model_fields.items()}  # type: ignore[attr-defined]


def test_every_key_of_the_language_is_documented() -> None:
    keys = keys_of(Mapping) | keys_of(FieldMapping) | keys_of(Condition) | keys_of(SkipRule)
    undocumented = sorted(key for key in keys if f"`{key}`" not in IMPORTS)
    assert not undocumented, f"keys missing from docs/imports.md: {undocumented}"


def test_the_readme_stays_inside_the_repository() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "../shared" not in readme and "shared/" not in readme.replace("a shared", "")
    for link in re.findall(r"\]\(([^)#]+)\)", readme):
        if not link.startswith("http"):
            assert (ROOT / link).exists(), link
    assert "docs/imports.md" in readme
