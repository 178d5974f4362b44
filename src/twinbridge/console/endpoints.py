"""GET /console and everything under it: the built console's files, no token needed, and never part of the
OpenAPI document (they are not API operations)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse
from starlette.responses import Response

from twinbridge.console.files import PACKAGE_DIST, ConsoleFile, ConsoleFiles
from twinbridge.dependencies import RuntimeDependency
from twinbridge.platform.errors import NotFound

router = APIRouter(prefix="/console", include_in_schema=False)

NOT_BUILT_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>twinbridge console: not built</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 3em auto">
<h1>The console has not been built</h1>
<p>This server has no built web console in <code>{dist}</code>.
Run <code>make setup</code> in the twinbridge repository (it builds the console with npm), then reload
this page. The REST APIs work meanwhile.</p>
</body></html>
"""


def _files(runtime: RuntimeDependency) -> ConsoleFiles:
    return ConsoleFiles(runtime.settings.console_dir or PACKAGE_DIST)


def _answer(request: Request, files: ConsoleFiles, found: ConsoleFile | None, path: str) -> Response:
    if not files.is_built:
        # A page for the person who opened it, not an error of the API: 503 until someone builds it.
        return HTMLResponse(
            NOT_BUILT_PAGE.format(dist=files.dist), status_code=503, headers={"Cache-Control": "no-store"}
        )
    if found is None:
        raise NotFound(f"The console has no file {path}.")
    response = FileResponse(
        found.path,
        media_type=found.media_type,
        stat_result=found.path.stat(),  # so that the ETag is known before the answer is sent
        headers={"Cache-Control": found.cache_control, "X-Content-Type-Options": "nosniff"},
    )
    # Revalidation (no-cache) answers 304 while the file is the same one; FileResponse alone never does.
    etag = response.headers.get("etag")
    if etag and etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers={"ETag": etag, "Cache-Control": found.cache_control})
    return response


@router.api_route("", methods=["GET", "HEAD"])
async def console_index(request: Request, runtime: RuntimeDependency) -> Response:
    files = _files(runtime)
    return _answer(request, files, files.index(), "/console/")


@router.api_route("/{path:path}", methods=["GET", "HEAD"])
async def console_file(path: str, request: Request, runtime: RuntimeDependency) -> Response:
    files = _files(runtime)
    return _answer(request, files, files.for_path(path), f"/console/{path}")
