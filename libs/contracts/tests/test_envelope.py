from datetime import UTC, datetime
from uuid import uuid4

from vareon_contracts import Envelope, decode_kafka, encode_kafka
from vareon_contracts.events.identity import UserRegisteredV1


def test_envelope_round_trips_through_kafka_binary_mode():
    payload = UserRegisteredV1(
        user_id=uuid4(), email="a@example.com", display_name="A", registered_at=datetime.now(UTC)
    )
    envelope = Envelope.wrap(payload, source="/identity", correlationid="req-1")
    key, value, headers = encode_kafka(envelope)

    assert key == str(payload.user_id).encode()
    names = dict(headers)
    assert names["ce_type"] == b"vareon.identity.user.registered.v1"
    assert names["ce_correlationid"] == b"req-1"
    decoded = decode_kafka(value, headers)
    assert decoded == envelope
    assert UserRegisteredV1.model_validate(decoded.data) == payload
