"""Model artifacts in skops format: loading never executes code from the file.

``load`` refuses any type outside the trusted prefixes (scikit-learn estimators, NumPy
arrays and builtins), using skops's own untrusted-types check.
"""

from __future__ import annotations

import hashlib
from typing import Any

TRUSTED_PREFIXES = ("sklearn.", "numpy.", "builtins.")


class UntrustedArtifact(ValueError):
    pass


def dumps(model: Any) -> tuple[bytes, str]:
    """The artifact bytes and their digest (``sha256:<hex>``)."""
    import skops.io as sio

    data = sio.dumps(model)
    return data, "sha256:" + hashlib.sha256(data).hexdigest()


def loads(data: bytes) -> Any:
    import skops.io as sio

    untrusted = sio.get_untrusted_types(data=data)
    refused = [t for t in untrusted if not t.startswith(TRUSTED_PREFIXES)]
    if refused:
        raise UntrustedArtifact(f"artifact holds untrusted types: {refused}")
    return sio.loads(data, trusted=untrusted)
