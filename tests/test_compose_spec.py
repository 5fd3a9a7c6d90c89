"""docker-compose.yml against the Compose Specification's JSON schema.

The schema is the one check-jsonschema ships (its vendored `compose-spec.json`, pinned in
requirements-dev.lock: the schema changes only when the pin does), validated with the jsonschema
of requirements.lock, under the draft the schema names. No Docker engine runs here
(tests/test_deploy_check.py starts each command instead): this is what `docker compose config`
would refuse before starting anything.
"""

from __future__ import annotations

import copy
import json
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

BASE_DIR = Path(__file__).resolve().parent.parent


def compose_schema() -> dict[str, Any]:
    schema_file = resources.files("check_jsonschema") / "builtin_schemas" / "vendor" / "compose-spec.json"
    return json.loads(schema_file.read_text(encoding="utf-8"))


def validator() -> jsonschema.protocols.Validator:
    schema = compose_schema()
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def compose() -> dict[str, Any]:
    return yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())


def errors(document: dict[str, Any]) -> list[str]:
    return [
        f"{'/'.join(str(part) for part in error.absolute_path)}: {error.message}"
        for error in validator().iter_errors(document)
    ]


def test_it_validates_against_the_compose_specification():
    schema = compose_schema()

    assert schema["title"] == "Compose Specification"
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert errors(compose()) == []


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (lambda c: c["services"]["web"].update(restart_policy="always"), "restart_policy"),
        (lambda c: c["services"]["web"]["depends_on"]["migrate"].update(condition="when_ready"), "when_ready"),
        (lambda c: c["services"]["postgres"].update(volumes="postgres-data:/var/lib/postgresql/data"), "array"),
        (lambda c: c.update(service={}), "service"),
    ],
    ids=["unknown service key", "unknown depends_on condition", "volumes not a list", "misspelt top-level key"],
)
def test_it_refuses_a_compose_file_the_specification_refuses(change, complaint):
    # The control: the schema does see a mistake of the kind a hand-edited compose file gets.
    broken = copy.deepcopy(compose())
    change(broken)

    found = errors(broken)

    assert found
    assert any(complaint in message for message in found), found
