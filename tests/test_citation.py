"""CITATION.cff is valid Citation File Format 1.2.0 and names the book's one version.

The schema is the official CFF 1.2.0 JSON schema (``$id``
https://citation-file-format.github.io/1.2.0/schema.json), vendored in ``tests/data`` from the
``cffconvert`` 2.0.0 wheel (``cffconvert/schemas/1.2.0/schema.json``), so the test runs offline.
"""

from __future__ import annotations

import copy
import json
import tomllib
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "tests" / "data" / "cff-schema-1.2.0.json").read_text("utf-8"))


def _cff() -> dict:
    return yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))


def _errors(cff: dict) -> list[str]:
    validator = jsonschema.Draft7Validator(SCHEMA, format_checker=jsonschema.FormatChecker())
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
            for e in validator.iter_errors(cff)]


def test_schema_is_the_official_one():
    assert SCHEMA["$id"] == "https://citation-file-format.github.io/1.2.0/schema.json"
    assert set(SCHEMA["required"]) == {"authors", "cff-version", "message", "title"}


def test_citation_is_valid_cff_1_2_0():
    assert _errors(_cff()) == []


@pytest.mark.parametrize("change", [
    lambda c: c.pop("authors"),
    lambda c: c.__setitem__("type", "book"),           # CFF 1.2.0 knows software and dataset
    lambda c: c.__setitem__("date-released", "7 December 2026"),
    lambda c: c.__setitem__("license", "MIT License"),  # not an SPDX identifier
    lambda c: c.__setitem__("title", ""),
    lambda c: c.__setitem__("authorz", []),
])
def test_the_validation_can_fail(change):
    cff = copy.deepcopy(_cff())
    change(cff)
    assert _errors(cff)


def test_citation_fields():
    cff = _cff()
    version = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]["version"]
    assert cff["title"] == "Deep Learning, Derived and Verified"
    assert cff["authors"] == [{"name": "The dlcode authors"}]
    assert cff["version"] == version
    assert cff["preferred-citation"]["version"] == version
    assert cff["preferred-citation"]["type"] == "book"
    assert cff["license"] == ["MIT", "CC-BY-4.0"]
    assert isinstance(cff["date-released"], str)  # quoted: YAML would otherwise make it a date
    assert cff["preferred-citation"]["year"] == int(cff["date-released"][:4])
