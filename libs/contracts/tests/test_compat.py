"""The gate itself, on real before/after pairs of payload models: each rule both ways."""

import json
import subprocess
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal
from uuid import UUID

import pytest
from pydantic import BaseModel, ConfigDict, Field
from vareon_contracts.catalogue import EventPayload
from vareon_contracts.compat import check, compatibility, main
from vareon_contracts.schemas import dumps, schema_for

TYPE = "vareon.identity.user.registered.v1"


def event(
    name: str = "UserRegisteredV1",
    type_: str = TYPE,
    /,
    *,
    on_topic: str = "vareon.identity.user",
    keyed_by: str = "user_id",
    **fields,
):
    """A payload model built like the real ones: open, keyed, on a topic."""
    annotations = {n: f[0] for n, f in fields.items()}
    defaults = {n: f[1] for n, f in fields.items() if len(f) > 1}
    namespace = {
        "__annotations__": annotations,
        "event_type": type_,
        "topic": on_topic,
        "key_field": keyed_by,
        **defaults,
    }
    return type(name, (EventPayload,), namespace)


BASE = {"user_id": (UUID,), "email": (str,)}


def problems(before, after) -> list[str]:
    return compatibility({TYPE: schema_for(before)}, {TYPE: after})


def assert_breaks(before, after, rule: str, field: str | None = None) -> None:
    found = problems(before, after)
    assert found, f"expected rule {rule} to fail"
    assert any(f"(rule: {rule})" in p for p in found), found
    if field is not None:
        assert any(f"field '{field}'" in p for p in found), found
    assert all(p.startswith(f"{TYPE}: ") for p in found)


def assert_compatible(before, after) -> None:
    assert problems(before, after) == []


def test_new_required_field_fails_with_the_documented_message():
    after = event(**BASE, locale=(str,))
    assert problems(event(**BASE), after) == [
        f"{TYPE}: field 'locale' is new and required (rule: no-new-required-field); "
        "add a default or publish vareon.identity.user.registered.v2"
    ]


def test_new_field_with_a_default_is_compatible():
    assert_compatible(event(**BASE), event(**BASE, locale=(str, "en")))
    assert_compatible(event(**BASE), event(**BASE, locale=(str | None, None)))


def test_removed_field_fails():
    assert_breaks(event(**BASE, name=(str,)), event(**BASE), "no-removed-field", "name")
    assert_breaks(event(**BASE, name=(str | None, None)), event(**BASE), "no-removed-field")


@pytest.mark.parametrize(
    ("old", "new"), [(int, str), (str, int), (list[str], str), (UUID, datetime), (bool, list[bool])]
)
def test_changed_type_fails(old, new):
    assert_breaks(event(**BASE, n=(old,)), event(**BASE, n=(new,)), "no-type-change", "n")


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (str | None, str),
        (float, int),
        (str, Annotated[str, Field(max_length=40)]),
        (int, Annotated[int, Field(ge=0)]),
        (Annotated[int, Field(ge=0)], Annotated[int, Field(ge=1)]),
        (str, Annotated[str, Field(pattern=r"^[a-z]+$")]),
        (str, UUID),
        (str, Literal["a", "b"]),
    ],
)
def test_narrowing_fails(old, new):
    assert_breaks(event(**BASE, n=(old,)), event(**BASE, n=(new,)), "no-narrowing", "n")


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (str, str | None),
        (int, float),
        (int, int | str),
        (Annotated[str, Field(max_length=40)], str),
        (Annotated[int, Field(ge=1)], Annotated[int, Field(ge=0)]),
        (UUID, str),
        (Literal["a"], str),
    ],
)
def test_widening_is_compatible(old, new):
    assert_compatible(event(**BASE, n=(old,)), event(**BASE, n=(new,)))


class Plan(StrEnum):
    FREE = "free"
    PRO = "pro"


class PlanWithTeam(StrEnum):
    FREE = "free"
    PRO = "pro"
    TEAM = "team"


class FreeOnly(StrEnum):
    FREE = "free"


def test_removed_enum_value_fails():
    assert_breaks(
        event(**BASE, plan=(Plan,)),
        event(**BASE, plan=(FreeOnly,)),
        "no-removed-enum-value",
        "plan",
    )
    assert_breaks(
        event(**BASE, plan=(Literal["a", "b"],)),
        event(**BASE, plan=(Literal["a"],)),
        "no-removed-enum-value",
        "plan",
    )


def test_added_enum_value_is_compatible():
    assert_compatible(event(**BASE, plan=(Plan,)), event(**BASE, plan=(PlanWithTeam,)))
    assert_compatible(event(**BASE, plan=(Literal["a"],)), event(**BASE, plan=(Literal["a", "b"],)))


def test_field_made_required_fails_and_the_reverse_passes():
    optional, required = event(**BASE, name=(str | None, None)), event(**BASE, name=(str | None,))
    assert_breaks(optional, required, "no-field-made-required", "name")
    assert_compatible(required, optional)


class Address(BaseModel):
    model_config = ConfigDict(extra="ignore")
    city: str
    zip: str


class AddressWithoutZip(BaseModel):
    city: str


def test_nested_models_and_lists_name_the_field_path():
    assert_breaks(
        event(**BASE, address=(Address,)),
        event(**BASE, address=(AddressWithoutZip,)),
        "no-removed-field",
        "address.zip",
    )
    assert_breaks(
        event(**BASE, roles=(list[str],)),
        event(**BASE, roles=(list[int],)),
        "no-type-change",
        "roles[]",
    )
    assert_breaks(
        event(**BASE, limits=(dict[str, float],)),
        event(**BASE, limits=(dict[str, int],)),
        "no-narrowing",
        "limits{}",
    )
    assert_compatible(event(**BASE, roles=(list[int],)), event(**BASE, roles=(list[float],)))


def test_closing_an_open_model_fails():
    closed = type("Closed", (event(**BASE),), {"model_config": ConfigDict(extra="forbid")})
    assert_breaks(event(**BASE), closed, "no-narrowing")


def test_moving_topic_or_key_fails():
    assert_breaks(
        event(**BASE), event(on_topic="vareon.identity.account", **BASE), "no-topic-change"
    )
    assert_breaks(event(**BASE), event(keyed_by="email", **BASE), "no-key-change")


class Node(BaseModel):
    label: str
    children: list["Node"] = []


def test_recursive_models_terminate():
    assert_compatible(event(**BASE, tree=(Node,)), event(**BASE, tree=(Node,)))


def write(directory, *models) -> None:
    for model in models:
        (directory / f"{model.event_type}.json").write_text(dumps(schema_for(model)))


def test_check_reports_drift_missing_and_removed_versions(tmp_path):
    v1 = event(**BASE)
    write(tmp_path, v1)
    assert check(tmp_path, {TYPE: v1}) == []

    described = type("UserRegisteredV1", (v1,), {"__doc__": "Now documented."})
    [drift] = check(tmp_path, {TYPE: described})
    assert drift.startswith(f"{TYPE}: the committed schema differs") and "no-drift" in drift

    [removed] = check(tmp_path, {})
    assert "(rule: no-removed-version)" in removed

    (tmp_path / "retired").mkdir()
    (tmp_path / f"{TYPE}.json").rename(tmp_path / "retired" / f"{TYPE}.json")
    assert check(tmp_path, {}) == []
    assert any("no-reused-version" in p for p in check(tmp_path, {TYPE: v1}))


def test_a_breaking_change_published_as_a_new_version_passes(tmp_path):
    v1 = event(**BASE)
    write(tmp_path, v1)
    v2_type = "vareon.identity.user.registered.v2"
    v2 = event("UserRegisteredV2", v2_type, email=(int,), locale=(str,), user_id=(UUID,))
    [missing] = check(tmp_path, {TYPE: v1, v2_type: v2})
    assert missing.startswith(f"{v2_type}: no committed schema")
    write(tmp_path, v2)
    assert check(tmp_path, {TYPE: v1, v2_type: v2}) == []

    v1_broken = event(**BASE, locale=(str,))
    assert any("no-new-required-field" in p for p in check(tmp_path, {TYPE: v1_broken}))


def test_check_passes_on_the_committed_schemas_of_this_repository():
    assert check() == [], "\n".join(check())


def test_command_line_write_refuses_a_breaking_change(tmp_path, capsys):
    assert main(["--schemas", str(tmp_path), "--write"]) == 0
    assert main(["--schemas", str(tmp_path)]) == 0
    some = next(tmp_path.glob("*.json"))
    schema = json.loads(some.read_text())
    schema["properties"]["ghost"] = {"type": "string"}
    some.write_text(dumps(schema))
    capsys.readouterr()
    assert main(["--schemas", str(tmp_path), "--write"]) == 1
    assert "field 'ghost' was removed (rule: no-removed-field)" in capsys.readouterr().err
    assert json.loads(some.read_text())["properties"]["ghost"] == {"type": "string"}


def test_base_ref_gate_reads_the_schemas_committed_in_git(tmp_path, capsys):
    schemas = tmp_path / "libs" / "contracts" / "schemas"
    schemas.mkdir(parents=True)
    assert main(["--schemas", str(schemas), "--write"]) == 0
    some = next(schemas.glob("*.json"))
    published = json.loads(some.read_text())
    published["properties"]["ghost"] = {"type": "string"}
    some.write_text(dumps(published))
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "published"], check=True)
    assert main(["--schemas", str(schemas), "--write"]) == 1  # refuses to drop 'ghost'
    some.unlink()  # a branch that regenerates its own snapshot cannot hide the removal
    assert main(["--schemas", str(schemas), "--write"]) == 0
    capsys.readouterr()
    assert main(["--schemas", str(schemas), "--base", "HEAD"]) == 1
    assert "field 'ghost' was removed" in capsys.readouterr().err


def test_type_names_follow_the_pattern(tmp_path):
    bad = event("UserSignedUp", "vareon.identity.UserSignedUp", **BASE)
    write(tmp_path, bad)
    [problem] = check(tmp_path, {bad.event_type: bad})
    assert "(rule: type-name)" in problem
