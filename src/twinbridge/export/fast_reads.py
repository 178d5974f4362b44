"""The fast paths of GET connection and the connection list (see twinbridge.platform.fast_reads).

They check what the endpoints check (scope, existence, the caller's role) and answer only the 200; any
other outcome is left to the endpoint.
"""

from __future__ import annotations

from typing import Any, ClassVar

from twinbridge.auth.permissions import Action, is_allowed
from twinbridge.auth.scopes import ScopeRequirement
from twinbridge.db.sqlite_reads import SqliteReads
from twinbridge.export.endpoints import READ
from twinbridge.export.repository import ExportConnectionReads
from twinbridge.export.schemas import connection_body
from twinbridge.platform.fast_reads import FastRead, FastReadRequest
from twinbridge.platform.paging import links_of_page, parse_page, split_page


class GetConnection:
    route: ClassVar[str] = "/export/connections/{connection_id}"
    requirement: ClassVar[ScopeRequirement] = READ

    def answer(self, reads: SqliteReads, request: FastReadRequest) -> dict[str, Any] | None:
        found = ExportConnectionReads(reads).connection(
            request.path_parameters["connection_id"], request.caller.subject
        )
        if found is None or not is_allowed(found[1], Action.READ):
            return None
        connection = found[0]
        return {"connection": connection_body(connection, request.base_url, connection.last_run_id)}


class ListConnections:
    route: ClassVar[str] = "/export/connections"
    requirement: ClassVar[ScopeRequirement] = READ

    def answer(self, reads: SqliteReads, request: FastReadRequest) -> dict[str, Any] | None:
        imodel_id = request.query_value("imodelId")
        if imodel_id is None:
            return None
        page = parse_page(request.query_value("$top"), request.query_value("$skip"))
        connections = ExportConnectionReads(reads)
        exists, role = connections.role_on_imodel(imodel_id, request.caller.subject)
        if not exists or not is_allowed(role, Action.READ):
            return None
        rows, has_next = split_page(
            connections.connections_of_imodel(imodel_id, page.skip, page.fetch_limit),
            page,
        )
        return {
            "connections": [connection_body(row, request.base_url, row.last_run_id) for row in rows],
            "_links": links_of_page(request.base_url, request.path, request.query, page, has_next),
        }


FAST_READS: tuple[FastRead, ...] = (GetConnection(), ListConnections())
