"""Kafka topic names: one topic per aggregate, keyed by the aggregate id."""

IDENTITY_USER = "vareon.identity.user"
IDENTITY_SESSION = "vareon.identity.session"
IDENTITY_API_KEY = "vareon.identity.api-key"
WALLET_WALLET = "vareon.wallet.wallet"
WALLET_BALANCE = "vareon.wallet.balance"
ARCANA_USAGE = "vareon.arcana.usage"
ARCANA_SESSION = "vareon.arcana.session"
ARCANA_ROUTING_SAMPLE = "vareon.arcana.routing-sample"
COGNISYS_ROUTING_RULE = "vareon.cognisys.routing-rule"
MYNTRIX_AGENT = "vareon.myntrix.agent"
MYNTRIX_DEVICE = "vareon.myntrix.device"
MYNTRIX_DEPLOYMENT = "vareon.myntrix.deployment"
NEOSYNTIS_DATASET = "vareon.neosyntis.dataset"
NEOSYNTIS_MODEL = "vareon.neosyntis.model"
NEOSYNTIS_TRAINING_JOB = "vareon.neosyntis.training-job"
NEOSYNTIS_WORKFLOW_RUN = "vareon.neosyntis.workflow-run"

DLQ_SUFFIX = ".dlq"


def dead_letter_topic(topic: str) -> str:
    return topic + DLQ_SUFFIX
