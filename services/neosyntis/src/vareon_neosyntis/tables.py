"""Every table of the service in one metadata, for Alembic (``migrations/env.py``).

The tables live with their aggregate (``datasets/models.py``, ``training/models.py``, ...) on
the opening in ``db.py``; importing this module imports them all, so the metadata is complete.
"""

from vareon_neosyntis.datasets import models as datasets  # noqa: F401
from vareon_neosyntis.db import metadata
from vareon_neosyntis.lab import models as lab  # noqa: F401
from vareon_neosyntis.registry import models as registry  # noqa: F401
from vareon_neosyntis.training import models as training  # noqa: F401
from vareon_neosyntis.workflows import models as workflows  # noqa: F401

__all__ = ["metadata"]
