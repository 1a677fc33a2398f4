"""Vareon's wire contracts: everything that crosses a service boundary."""

from vareon_contracts.catalogue import CATALOGUE, EventPayload, payload_model
from vareon_contracts.envelope import Envelope, decode_kafka, encode_kafka

__all__ = ["CATALOGUE", "Envelope", "EventPayload", "decode_kafka", "encode_kafka", "payload_model"]
