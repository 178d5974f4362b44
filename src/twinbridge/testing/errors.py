"""The one error of the testing helpers, and the check that raises it."""

from __future__ import annotations

import httpx


class TwinbridgeTestingError(AssertionError):
    """The test server did not start, or a command or operation did not do what a helper asked of it.

    An AssertionError, so that a test runner reports it as the test's failure rather than as a crash.
    """


def expect(response: httpx.Response, *statuses: int) -> httpx.Response:
    """The response, if its status is one of `statuses`; otherwise an error quoting its body (the why)."""
    if response.status_code not in statuses:
        request = response.request
        raise TwinbridgeTestingError(
            f"{request.method} {request.url.path} answered {response.status_code}: {response.text}"
        )
    return response
