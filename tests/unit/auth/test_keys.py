from __future__ import annotations

import stat
from pathlib import Path

from twinbridge.auth.keys import KEY_FILE, load_or_create_signing_key


def test_signing_key_is_made_once_and_reused(tmp_path: Path) -> None:
    first = load_or_create_signing_key(tmp_path / "issuer")
    second = load_or_create_signing_key(tmp_path / "issuer")
    assert first.key_id == second.key_id


def test_signing_key_file_is_readable_only_by_its_owner(tmp_path: Path) -> None:
    load_or_create_signing_key(tmp_path)
    mode = stat.S_IMODE((tmp_path / KEY_FILE).stat().st_mode)
    assert mode == 0o600


def test_public_jwk_names_the_key_and_algorithm(tmp_path: Path) -> None:
    jwk = load_or_create_signing_key(tmp_path).public_jwk()
    assert jwk["kty"] == "RSA"
    assert jwk["alg"] == "RS256"
    assert jwk["kid"]
    assert "d" not in jwk  # no private part is ever published
