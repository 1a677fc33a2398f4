"""Every table of the service, for Alembic: importing the domain models registers them."""

from vareon_neosyntis.datasets import models as datasets  # noqa: F401
from vareon_neosyntis.db import OUTBOX, Base, inbox_table, metadata
from vareon_neosyntis.lab import models as lab  # noqa: F401
from vareon_neosyntis.registry import models as registry  # noqa: F401
from vareon_neosyntis.training import models as training  # noqa: F401
from vareon_neosyntis.workflows import models as workflows  # noqa: F401

__all__ = ["OUTBOX", "Base", "inbox_table", "metadata"]
