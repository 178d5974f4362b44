"""Which file of the built console answers a path under /console, and how long browsers may keep it.

Vite names what it emits into assets/ after a hash of the content (`index-B2x9Qe1k.js`), so those files never
change under their name and may be kept for a year; index.html and unhashed files are revalidated on every
visit (their ETag makes that a 304), so a rebuilt console shows at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

PACKAGE_DIST = Path(__file__).resolve().parent / "dist"
ASSETS = "assets"
INDEX = "index.html"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
# Vite's default `[name]-[hash].[ext]`: 8 characters of base64url before the extension.
HASHED_NAME = re.compile(r"-[A-Za-z0-9_-]{8}\.[A-Za-z0-9]+$")
# What Python's mimetypes may not know on every platform (or knows otherwise, as text/plain for .mjs).
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".wasm": "application/wasm",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".ifc": "application/octet-stream",
    ".txt": "text/plain; charset=utf-8",
}


@dataclass(frozen=True)
class ConsoleFile:
    path: Path
    media_type: str
    cache_control: str


class ConsoleFiles:
    def __init__(self, dist: Path) -> None:
        self.dist = dist.resolve()

    @property
    def is_built(self) -> bool:
        return (self.dist / INDEX).is_file()

    def index(self) -> ConsoleFile:
        return ConsoleFile(self.dist / INDEX, MEDIA_TYPES[".html"], REVALIDATE)

    def for_path(self, relative: str) -> ConsoleFile | None:
        """The file at `relative` (below /console/); index.html for the app's own paths (the single-page
        app routes by the URL's #fragment, but a bookmarked /console/anything still opens it); None for a
        missing asset (a path under assets/ or with an extension), answered 404."""
        parts = PurePosixPath(relative).parts
        if not parts:
            return self.index()
        if any(part in ("..", ".") or part.startswith(".") for part in parts):
            return None  # never outside dist, nor its hidden files
        candidate = (self.dist / Path(*parts)).resolve()
        if candidate.is_relative_to(self.dist) and candidate.is_file():
            immutable = parts[0] == ASSETS and HASHED_NAME.search(parts[-1]) is not None
            return ConsoleFile(
                candidate,
                MEDIA_TYPES.get(candidate.suffix.lower(), "application/octet-stream"),
                IMMUTABLE if immutable else REVALIDATE,
            )
        if parts[0] == ASSETS or "." in parts[-1]:
            return None
        return self.index()
