"""Signed download URLs and the secrets of upload URLs: like Azure SAS URLs, whoever holds one may read (or
upload) one file; a download URL until it expires, an upload URL until its upload is completed.

The signature is an HMAC-SHA256 over the file id and the expiry time. Its key is derived from the built-in
issuer's signing key, so every process on the same data dir signs and verifies alike without a second secret
to keep, and the key rotates with the issuer's.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from twinbridge.auth.keys import SigningKey
from twinbridge.platform.errors import ApiError

# Long enough to start a large download on a slow link; the check happens only when the download starts.
DOWNLOAD_URL_LIFETIME_SECONDS = 3600
KEY_LABEL = b"twinbridge storage download URL v1"


class DownloadUrlRejected(ApiError):
    """403 with Azure Blob Storage's code for a SAS that is expired or forged."""

    status_code = 403
    default_code = "AuthenticationFailed"
    default_message = "The download URL has expired or its signature is not valid."


@dataclass(frozen=True)
class DownloadSignature:
    expires: int
    signature: str


class DownloadSigner:
    def __init__(self, secret: bytes, lifetime_seconds: int = DOWNLOAD_URL_LIFETIME_SECONDS) -> None:
        self.secret = secret
        self.lifetime_seconds = lifetime_seconds

    @classmethod
    def from_signing_key(cls, key: SigningKey) -> DownloadSigner:
        return cls(key.derived_secret(KEY_LABEL))

    def _signature(self, file_id: str, expires: int) -> str:
        digest = hmac.new(self.secret, f"{file_id}\n{expires}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def sign(self, file_id: str, now: float | None = None) -> DownloadSignature:
        expires = int(time.time() if now is None else now) + self.lifetime_seconds
        return DownloadSignature(expires=expires, signature=self._signature(file_id, expires))

    def verify(self, file_id: str, expires: str, signature: str, now: float | None = None) -> None:
        """Raises DownloadUrlRejected unless the signature is this server's and has not expired."""
        try:
            expires_at = int(expires)
        except ValueError:
            raise DownloadUrlRejected() from None
        expected = self._signature(file_id, expires_at)
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            raise DownloadUrlRejected()
        if (time.time() if now is None else now) >= expires_at:
            raise DownloadUrlRejected()


@dataclass(frozen=True)
class UploadSecret:
    """The secret of an upload URL: `value` goes into the URL of the one response that makes it, `digest`
    into the database, which can then compare a URL's secret without holding one."""

    value: str
    digest: str


def upload_secret_digest(value: str) -> str:
    """256 random bits need no slow hash: their SHA-256, in hex."""
    return hashlib.sha256(value.encode()).hexdigest()


def new_upload_secret() -> UploadSecret:
    value = secrets.token_urlsafe(32)
    return UploadSecret(value, upload_secret_digest(value))
