from __future__ import annotations

import pytest
from vareon_identity.errors import WeakPassword
from vareon_identity.passwords import Passwords, check_policy, common_passwords


def test_policy():
    assert "password123" in common_passwords()
    check_policy("correct horse battery", email="a@example.com")
    for weak in ("short", "1234567890", "Password123"):
        with pytest.raises(WeakPassword):
            check_policy(weak)
    with pytest.raises(WeakPassword):
        check_policy("ada@example.com", email="ada@example.com")


def test_hash_verify_and_rehash_when_parameters_change():
    cheap = Passwords(time_cost=1, memory_cost_kib=8192, parallelism=1)
    stored = cheap.hash("correct horse battery")
    assert cheap.verify(stored, "correct horse battery")
    assert not cheap.verify(stored, "wrong horse battery")
    assert not cheap.verify(None, "correct horse battery")
    assert not cheap.verify("garbage", "x")
    assert not cheap.needs_rehash(stored)
    stronger = Passwords(time_cost=2, memory_cost_kib=8192, parallelism=1)
    assert stronger.needs_rehash(stored)
