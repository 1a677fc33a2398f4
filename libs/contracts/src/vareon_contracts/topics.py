"""Kafka topic names: one topic per aggregate, keyed by the aggregate id."""

IDENTITY_USER = "vareon.identity.user"
WALLET_WALLET = "vareon.wallet.wallet"
WALLET_BALANCE = "vareon.wallet.balance"
ARCANA_USAGE = "vareon.arcana.usage"

DLQ_SUFFIX = ".dlq"


def dead_letter_topic(topic: str) -> str:
    return topic + DLQ_SUFFIX
