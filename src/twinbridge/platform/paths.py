"""Requests as upstream reads them, before routing: the same route whatever the spelling clients use.

- The APIs' fixed path words in any case: older clients (and older docs) write `storageConnections`,
  `manifestConnections`, `sourceFiles`, `authorizationInformation`; current ones write them in lowercase.
  Only these fixed words are lowercased: ids in paths are case-sensitive and left alone.
- A trailing slash is the same path without it (`POST /itwins/`, as itwins-client sends it): answered
  directly, never redirected (a redirect to another origin loses the Authorization header).
- Query parameter names in any case (`iModelId` and `imodelId`, `iTwinId` and `itwinId`), as upstream
  matches them: each name the app's operations read is rewritten to the spelling they read
  (`twinbridge.platform.routing.query_parameter_names`).
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import unquote

from starlette.types import ASGIApp, Receive, Scope, Send

FIXED_WORDS = frozenset(
    {
        "export",
        "synchronization",
        "imodels",
        "connections",
        "manifestconnections",
        "storageconnections",
        "sourcefiles",
        "runs",
        "run",
        "authorizationinformation",
    }
)


def normalize_path(path: str) -> str:
    if len(path) > 1 and path.endswith("/"):
        path = path.rstrip("/") or "/"
    if path.islower() or not any(character.isupper() for character in path):
        return path  # the common case: nothing to lower
    return "/".join(part.lower() if part.lower() in FIXED_WORDS else part for part in path.split("/"))


def canonical_query(query: bytes, names: Mapping[str, str]) -> bytes:
    """The query string with every known parameter name in the spelling the operations read."""
    parts = query.split(b"&")
    changed = False
    for index, part in enumerate(parts):
        key, separator, value = part.partition(b"=")
        if not key:
            continue
        name = unquote(key.decode("latin-1"))
        canonical = names.get(name.lower())
        if canonical is not None and canonical != name:
            parts[index] = canonical.encode() + separator + value
            changed = True
    return b"&".join(parts) if changed else query


# The scope key of the path as the client sent it, when it was rewritten: the links of a page repeat it
# (`GET /storage/?iTwinId=` pages on with `/storage/?…`, as upstream's links do).
PATH_AS_SENT = "twinbridge.path_as_sent"


class CanonicalRequest:
    def __init__(self, app: ASGIApp, query_names: Mapping[str, str]) -> None:
        self.app = app
        self.query_names = query_names

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            normalized = normalize_path(path)
            query = scope["query_string"]
            canonical = canonical_query(query, self.query_names) if query else query
            if normalized != path or canonical is not query:
                scope = {
                    **scope,
                    "path": normalized,
                    "raw_path": normalized.encode(),
                    "query_string": canonical,
                    PATH_AS_SENT: path,
                }
        await self.app(scope, receive, send)
