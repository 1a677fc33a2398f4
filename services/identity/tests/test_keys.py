from __future__ import annotations

import base64
import hashlib
import json
import stat

import pytest
from vareon_identity.app import create_app
from vareon_identity.errors import SigningKeysMissing
from vareon_identity.keys import KeyRing, generate_signing_key
from vareon_identity.settings import IdentitySettings


def test_generated_keys_are_private_and_the_newest_signs(tmp_path):
    first = generate_signing_key(tmp_path / "keys")
    second = generate_signing_key(tmp_path / "keys")
    assert stat.S_IMODE(first.stat().st_mode) == 0o600
    assert sorted([second, first]) == [first, second]
    ring = KeyRing(tmp_path / "keys")
    assert ring.active.path == second
    assert len(ring.public_jwks()["keys"]) == 2


def test_kid_is_the_rfc7638_thumbprint(tmp_path):
    generate_signing_key(tmp_path)
    jwk = KeyRing(tmp_path).public_jwks()["keys"][0]
    canonical = json.dumps(
        {"crv": jwk["crv"], "kty": jwk["kty"], "x": jwk["x"]}, separators=(",", ":"), sort_keys=True
    )
    expected = base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest())
    assert jwk["kid"] == expected.rstrip(b"=").decode()
    assert "d" not in jwk  # never the private part


@pytest.mark.parametrize("keys_dir", [None, "empty", "missing"])
def test_start_up_without_keys_names_the_variable(tmp_path, keys_dir):
    if keys_dir == "empty":
        (tmp_path / "empty").mkdir()
    directory = None if keys_dir is None else tmp_path / keys_dir
    with pytest.raises(SigningKeysMissing, match="IDENTITY_SIGNING_KEYS_DIR"):
        create_app(IdentitySettings(signing_keys_dir=directory))


def test_a_non_ed25519_file_is_named(tmp_path):
    (tmp_path / "bad.pem").write_text("not a key")
    with pytest.raises(SigningKeysMissing, match=r"bad\.pem"):
        KeyRing(tmp_path)
