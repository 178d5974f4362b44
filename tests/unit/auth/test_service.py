"""Service-client secrets: stored as SHA-256, and the scrypt hashes of earlier versions still verify."""

from __future__ import annotations

import base64
import hashlib

from twinbridge.auth.service import hash_secret, verify_secret


def test_a_secret_verifies_against_its_hash_and_no_other_secret_does() -> None:
    stored = hash_secret("right-secret")
    assert stored.startswith("sha256$")
    assert "right-secret" not in stored
    assert verify_secret("right-secret", stored)
    assert not verify_secret("wrong-secret", stored)


def test_a_scrypt_hash_of_an_earlier_version_still_verifies() -> None:
    salt = b"0123456789abcdef"
    digest = hashlib.scrypt(b"old-secret", salt=salt, n=2**14, r=8, p=1)
    stored = f"scrypt${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"
    assert verify_secret("old-secret", stored)
    assert not verify_secret("other", stored)


def test_a_malformed_stored_hash_verifies_nothing() -> None:
    for stored in ("", "plain", "md5$abc", "scrypt$not-base64!$x"):
        assert not verify_secret("anything", stored)
