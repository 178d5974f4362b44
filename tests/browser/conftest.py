"""The web console in a real browser: Debian's chromium, driven by Playwright, against `twinbridge serve`.

One server for the whole run (a data dir of its own, a free port) and one browser per module; every test gets
a fresh browser context, signed in through the built-in issuer like a user (authorization code with PKCE).

Without chromium, Playwright or the built console these tests skip, except under CI=true where they fail.
Each step's screenshot is kept in test-artifacts/console/<test>/ (git-ignored); the run prints the folder.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import twinbridge
from tests.conftest import IN_CI
from twinbridge.testing.client import TwinbridgeClient
from twinbridge.testing.server import TwinbridgeServer

if not IN_CI:  # under CI=true a missing Playwright fails the run (the import below)
    pytest.importorskip("playwright", reason="Playwright's Python package is not installed (make setup)")
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright

CHROMIUM = Path(os.environ.get("TWINBRIDGE_TEST_CHROMIUM", "/usr/bin/chromium"))
# Headless WebGL without a GPU: ANGLE on SwiftShader, the software renderer chromium ships.
CHROMIUM_ARGUMENTS = ["--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--no-sandbox"]
CONSOLE_INDEX = Path(twinbridge.__file__).resolve().parent / "console" / "dist" / "index.html"
REPOSITORY = Path(__file__).resolve().parents[2]
ARTIFACTS = REPOSITORY / "test-artifacts" / "console"
README_IMAGES = REPOSITORY / "docs" / "images"
# The user the built-in issuer signs in when the authorize request names nobody (TWINBRIDGE_SIGN_IN_USER).
USER = "developer"
VIEWPORT = {"width": 1280, "height": 800}
# A step waits this long for what it expects (an upload, a model parsed in a worker) on a loaded machine.
expect.set_options(timeout=30_000)


def _missing() -> str | None:
    if not os.access(CHROMIUM, os.X_OK):
        return f"no chromium at {CHROMIUM} (apt-get install chromium)"
    if not CONSOLE_INDEX.is_file():
        return f"the console is not built ({CONSOLE_INDEX} is missing; make setup builds it)"
    return None


@pytest.fixture(scope="session")
def browser_ready() -> None:
    reason = _missing()
    if reason:
        if IN_CI:
            pytest.fail(f"{reason}; CI=true requires the browser tests")
        pytest.skip(reason)


@pytest.fixture(scope="session")
def console_server(
    browser_ready: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TwinbridgeServer]:
    directory = tmp_path_factory.mktemp("console-server")
    # A copy of the build: a `make setup` or `npm run build` during the run replaces the hashed assets.
    console = shutil.copytree(CONSOLE_INDEX.parent, directory / "console")
    settings = {"TWINBRIDGE_CONSOLE_DIR": str(console)}
    with TwinbridgeServer.start(directory, settings=settings) as server:
        yield server


@pytest.fixture(scope="session")
def api(console_server: TwinbridgeServer) -> Iterator[TwinbridgeClient]:
    """The REST API as the signed-in user, for what a test needs in place before its browser steps."""
    with console_server.client(console_server.token(USER)) as client:
        yield client


@pytest.fixture(scope="module")
def playwright_instance(browser_ready: None) -> Iterator[Playwright]:
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="module")
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    # Never a browser Playwright downloads: Debian's chromium.
    launched = playwright_instance.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGUMENTS)
    yield launched
    launched.close()


@pytest.fixture
def page(browser: Browser, console_server: TwinbridgeServer) -> Iterator[Page]:
    context = browser.new_context(viewport=VIEWPORT, base_url=console_server.url)
    context.set_default_timeout(30_000)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    context.close()
    # An uncaught exception in the console is a bug even when the test's steps went through.
    assert not errors, f"uncaught errors in the console: {errors}"


@pytest.fixture
def signed_in(page: Page) -> Page:
    """The console after a sign-in through the built-in issuer: the header names the user."""
    page.goto("/console/")
    page.get_by_role("button", name="Sign in").first.click()
    expect(page.locator("header")).to_contain_text(USER)
    return page


class Screenshots:
    """Saves a screenshot of each step: test-artifacts/console/<test>/<NN>-<step>.png.

    `readme`: the step is also one of the README's pictures (docs/images/<readme>), rewritten only when
    TWINBRIDGE_TEST_README_SCREENSHOTS=1, so that an ordinary run leaves the repository as it was.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.taken: list[Path] = []

    def __call__(self, page: Page, step: str, readme: str | None = None) -> Path:
        path = self.folder / f"{len(self.taken) + 1:02d}-{step}.png"
        page.screenshot(path=str(path))
        self.taken.append(path)
        if readme and os.environ.get("TWINBRIDGE_TEST_README_SCREENSHOTS") == "1":
            shutil.copyfile(path, README_IMAGES / readme)
        return path


@pytest.fixture
def screenshot(request: pytest.FixtureRequest) -> Screenshots:
    folder = ARTIFACTS / re.sub(r"[^\w.-]+", "_", request.node.name)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return Screenshots(folder)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if ARTIFACTS.is_dir() and any(ARTIFACTS.iterdir()):
        terminalreporter.write_line(f"console screenshots: {ARTIFACTS}")
