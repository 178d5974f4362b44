"""The HMAC signatures of download URLs."""

from __future__ import annotations

from pathlib import Path

import pytest

from twinbridge.auth.keys import load_or_create_signing_key
from twinbridge.storage.signing import DownloadSigner, DownloadUrlRejected

FILE_ID = "3f1c0f5e-8d6a-4d1b-9a43-5a7f2b9c1e00"
NOW = 1_800_000_000.0


@pytest.fixture
def signer() -> DownloadSigner:
    return DownloadSigner(b"a secret of thirty-two bytes....", lifetime_seconds=60)


def test_signature_verifies_before_it_expires(signer: DownloadSigner) -> None:
    signed = signer.sign(FILE_ID, now=NOW)
    assert signed.expires == int(NOW) + 60
    signer.verify(FILE_ID, str(signed.expires), signed.signature, now=NOW + 59)


def test_expired_signature_is_rejected(signer: DownloadSigner) -> None:
    signed = signer.sign(FILE_ID, now=NOW)
    with pytest.raises(DownloadUrlRejected):
        signer.verify(FILE_ID, str(signed.expires), signed.signature, now=NOW + 60)


def test_signature_of_another_file_is_rejected(signer: DownloadSigner) -> None:
    signed = signer.sign("another-file", now=NOW)
    with pytest.raises(DownloadUrlRejected):
        signer.verify(FILE_ID, str(signed.expires), signed.signature, now=NOW)


def test_extended_expiry_breaks_the_signature(signer: DownloadSigner) -> None:
    signed = signer.sign(FILE_ID, now=NOW)
    with pytest.raises(DownloadUrlRejected):
        signer.verify(FILE_ID, str(signed.expires + 3600), signed.signature, now=NOW)


@pytest.mark.parametrize(("expires", "signature"), [("", ""), ("soon", "x"), (str(int(NOW) + 30), "forged")])
def test_malformed_or_forged_parameters_are_rejected(
    signer: DownloadSigner, expires: str, signature: str
) -> None:
    with pytest.raises(DownloadUrlRejected) as rejected:
        signer.verify(FILE_ID, expires, signature, now=NOW)
    assert rejected.value.status_code == 403
    assert rejected.value.code == "AuthenticationFailed"


def test_signature_from_another_secret_is_rejected(signer: DownloadSigner) -> None:
    other = DownloadSigner(b"another secret of thirty-two by.", lifetime_seconds=60)
    signed = other.sign(FILE_ID, now=NOW)
    with pytest.raises(DownloadUrlRejected):
        signer.verify(FILE_ID, str(signed.expires), signed.signature, now=NOW)


def test_signers_from_the_same_issuer_key_agree_and_differ_across_keys(tmp_path: Path) -> None:
    key = load_or_create_signing_key(tmp_path / "one")
    signed = DownloadSigner.from_signing_key(key).sign(FILE_ID, now=NOW)
    reloaded = load_or_create_signing_key(tmp_path / "one")
    DownloadSigner.from_signing_key(reloaded).verify(FILE_ID, str(signed.expires), signed.signature, now=NOW)
    stranger = DownloadSigner.from_signing_key(load_or_create_signing_key(tmp_path / "two"))
    with pytest.raises(DownloadUrlRejected):
        stranger.verify(FILE_ID, str(signed.expires), signed.signature, now=NOW)
