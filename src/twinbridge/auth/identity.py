"""Who a caller is: the pair (issuer, subject), written as one name.

Memberships, grants, runs and created-by fields name callers by this name. The built-in issuer's users and
service clients keep their plain names (`alice`, `ci-bot`), as the CLI, the docs and older data name them;
a caller of an external issuer is `<issuer URL>|<sub>`, so that another issuer's token whose `sub` is
`alice` is not alice. The built-in issuer issues no name with a `|`, so the two kinds never meet.
"""

from __future__ import annotations

SEPARATOR = "|"
# The widest name the database keeps (migration 0010 widened the columns that hold names).
MAX_NAME_LENGTH = 1024
MAX_BUILTIN_NAME_LENGTH = 255


def caller_name(issuer: str, subject: str, builtin_issuer_url: str) -> str:
    """The name of the caller `subject` of `issuer`: plain for the built-in issuer, qualified otherwise."""
    return subject if issuer == builtin_issuer_url else external_name(issuer, subject)


def external_name(issuer: str, subject: str) -> str:
    """The name of the caller `subject` of the external issuer `issuer` (its URL, no trailing slash)."""
    return f"{issuer.rstrip('/')}{SEPARATOR}{subject}"


def is_builtin_name(name: str) -> bool:
    """Whether the built-in issuer may issue tokens for `name` (a user name or a service client id):
    1 to 255 printable characters, no surrounding spaces, and no `|`, which marks external callers."""
    return (
        0 < len(name) <= MAX_BUILTIN_NAME_LENGTH
        and name.isprintable()
        and name == name.strip()
        and SEPARATOR not in name
    )
