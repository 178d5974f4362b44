"""Case-insensitive routing of the APIs' fixed path words.

Older clients (and older docs) write `storageConnections`, `manifestConnections`, `sourceFiles`,
`authorizationInformation`; current ones write them in lowercase. Only these fixed words are lowercased:
ids in paths are case-sensitive and left alone.
"""

from __future__ import annotations

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
    if path.islower() or not any(character.isupper() for character in path):
        return path  # the common case: nothing to lower
    return "/".join(part.lower() if part.lower() in FIXED_WORDS else part for part in path.split("/"))


class FixedWordsCaseInsensitive:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            normalized = normalize_path(path)
            if normalized != path:
                scope = {**scope, "path": normalized, "raw_path": normalized.encode()}
        await self.app(scope, receive, send)
