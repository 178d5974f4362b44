"""The built-in issuer's signing key: made on first use in the data dir, then reused by serve and `token`."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from twinbridge.platform.private_paths import private_directory

KEY_FILE = "signing-key.pem"


@dataclass(frozen=True)
class SigningKey:
    private_key: rsa.RSAPrivateKey
    key_id: str
    _derived: dict[bytes, bytes] = field(default_factory=dict, compare=False, repr=False)

    def derived_secret(self, label: bytes) -> bytes:
        """A secret for HMACs of one purpose (`label`), derived from this key: every process on the same
        data dir signs and verifies alike, without a second secret to keep, and it rotates with the key."""
        secret = self._derived.get(label)
        if secret is None:
            der = self.private_key.private_bytes(
                serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            secret = self._derived[label] = hmac.new(der, label, hashlib.sha256).digest()
        return secret

    def mac(self, label: bytes, message: str) -> str:
        """The base64url HMAC-SHA256 of `message` under the secret of `label`."""
        digest = hmac.new(self.derived_secret(label), message.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        return self.private_key.public_key()

    def public_jwk(self) -> dict[str, Any]:
        jwk: dict[str, Any] = jwt.algorithms.RSAAlgorithm.to_jwk(self.public_key, as_dict=True)
        jwk.update({"kid": self.key_id, "use": "sig", "alg": "RS256"})
        return jwk


def _key_id(public_key: rsa.RSAPublicKey) -> str:
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.urlsafe_b64encode(hashlib.sha256(der).digest()[:16]).rstrip(b"=").decode()


def load_or_create_signing_key(directory: Path) -> SigningKey:
    """Creates the key exactly once even when several processes start together (O_EXCL on a temp link)."""
    path = directory / KEY_FILE
    if not path.exists():
        private_directory(directory)
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        temporary = directory / f".{KEY_FILE}.{os.getpid()}"
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(pem)
        try:
            os.link(temporary, path)  # fails if another process won the race; its key is then used
        except FileExistsError:
            pass
        finally:
            temporary.unlink(missing_ok=True)
    # The key is our own, made above with mode 0600: validating it (a third of a CLI command's time) would
    # only guard against a key crafted to break the RSA implementation.
    loaded = serialization.load_pem_private_key(
        path.read_bytes(), password=None, unsafe_skip_rsa_key_validation=True
    )
    if not isinstance(loaded, rsa.RSAPrivateKey):
        raise ValueError(f"{path} does not hold an RSA private key")
    return SigningKey(private_key=loaded, key_id=_key_id(loaded.public_key()))
