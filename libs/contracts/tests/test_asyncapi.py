import hashlib
import json
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from uuid import uuid4

import pytest
from jsonschema import Draft7Validator, Draft202012Validator
from vareon_contracts import CATALOGUE, Envelope, encode_kafka
from vareon_contracts.asyncapi import build_asyncapi, render_asyncapi_html
from vareon_contracts.events.arcana import UsageRecordedV1
from vareon_contracts.services import SERVICES

OFFICIAL = Path(__file__).parent / "data" / "asyncapi-3.0.0.schema.json"
OFFICIAL_SHA256 = "d4571a420e6ffb7fcc7066c95a6db1202f299a3c51daa103d0706bf30f95e626"


@pytest.fixture(scope="module")
def doc():
    return build_asyncapi()


def test_the_official_schema_file_is_unmodified():
    assert hashlib.sha256(OFFICIAL.read_bytes()).hexdigest() == OFFICIAL_SHA256


def test_document_is_valid_asyncapi_3(doc):
    validator = Draft7Validator(json.loads(OFFICIAL.read_text()))
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(doc)]
    assert errors == []
    broken = {**doc, "channels": {"x": {"address": 3}}}
    assert not validator.is_valid(broken), "the official schema must be able to fail"


def _refs(node):
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def test_every_reference_resolves(doc):
    for ref in _refs(doc):
        assert ref.startswith("#/"), ref
        target = doc
        for part in ref[2:].split("/"):
            assert part in target, f"unresolved {ref}"
            target = target[part]


def test_channels_messages_and_operations_follow_the_catalogue(doc):
    assert set(doc["components"]["messages"]) == set(CATALOGUE)
    for event_type, model in CATALOGUE.items():
        assert event_type in doc["channels"][model.topic]["messages"]
    for service, contract in SERVICES.items():
        for action, types in (("send", contract.publishes), ("receive", contract.consumes)):
            ops = [
                o
                for o in doc["operations"].values()
                if o["action"] == action and o["tags"] == [{"name": service}]
            ]
            listed = {m["$ref"].rsplit("/", 1)[-1] for o in ops for m in o["messages"]}
            assert listed == set(types), (service, action)
    receive = doc["operations"]["wallet.receive.vareon.identity.user"]
    assert receive["channel"] == {"$ref": "#/channels/vareon.identity.user"}


def test_a_real_message_matches_its_headers_and_payload(doc):
    payload = UsageRecordedV1(
        usage_id=uuid4(),
        user_id=uuid4(),
        provider="openai",
        model="m",
        tokens_in=3,
        tokens_out=4,
        cost=10,
        recorded_at=datetime.now(UTC),
    )
    key, value, headers = encode_kafka(Envelope.wrap(payload, source="/arcana"))
    message = doc["components"]["messages"][payload.event_type]
    Draft202012Validator(message["headers"]).validate({k: v.decode() for k, v in headers})
    in_doc = Draft202012Validator({**doc, "$ref": message["payload"]["$ref"]})
    in_doc.validate(json.loads(value))
    assert not in_doc.is_valid({**json.loads(value), "cost": "ten"})
    assert message["bindings"]["kafka"]["key"]["format"] == "uuid"
    assert key.decode() == str(payload.user_id)


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def test_html_page_is_self_contained_and_lists_every_event(doc):
    page = render_asyncapi_html(doc)
    parser = _Tags()
    parser.feed(page)
    names = {t for t, _ in parser.tags}
    assert "script" not in names and "link" not in names and "img" not in names
    for event_type, model in CATALOGUE.items():
        assert f"<code>{event_type}</code>" in page
        assert model.topic in page
    assert "Produced by <span class=tag>identity</span>" in page
    hostile = {**doc, "info": {**doc["info"], "description": "<script>alert(1)</script>"}}
    assert "<script>alert" not in render_asyncapi_html(hostile)
