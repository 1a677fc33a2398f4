"""Model artifacts in skops format: loading never executes code from the file.

skops itself trusts its default set (scikit-learn estimators, NumPy arrays, plain
containers); ``loads`` adds only the types listed in ``TRUSTED`` (what the training
catalogue's pipelines hold beyond that) and refuses an artifact holding anything else. A
prefix such as ``builtins.`` would admit ``builtins.eval`` or ``builtins.exec`` as callables
inside an estimator (a FunctionTransformer calls its function on every predict).
"""

from __future__ import annotations

import hashlib
from typing import Any

TRUSTED = frozenset(
    {
        "numpy.dtype",
        "numpy.bool_",
        "numpy.float32",
        "numpy.float64",
        "numpy.int32",
        "numpy.int64",
        "sklearn.tree._tree.Tree",
    }
)


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
    refused = sorted(t for t in untrusted if t not in TRUSTED)
    if refused:
        raise UntrustedArtifact(f"artifact holds untrusted types: {refused}")
    return sio.loads(data, trusted=untrusted)
