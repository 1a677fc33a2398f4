"""Issue 24 item 5: an idle arcana stays under 80 MB PSS because the openai SDK and tiktoken
(~30 MB of it, bench/idle.py) load at the first provider client and the first token count,
not when the app is imported."""

import subprocess
import sys

HEAVY = ("openai", "tiktoken")


def test_importing_the_app_leaves_the_sdk_and_the_tokenizer_unloaded():
    check = (
        f"import sys, vareon_arcana.app; print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    run = subprocess.run(
        [sys.executable, "-c", check], capture_output=True, text=True, timeout=120, check=True
    )
    assert run.stdout.split() == []
