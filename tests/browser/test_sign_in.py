"""Signing in to the console through the built-in issuer, and out again."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.conftest import USER, Screenshots


def test_sign_in_through_the_built_in_issuer_shows_the_user_name(page: Page, screenshot: Screenshots) -> None:
    page.goto("/console/")
    expect(page.get_by_role("button", name="Sign in").first).to_be_visible()
    screenshot(page, "signed-out")

    page.get_by_role("button", name="Sign in").first.click()

    # Back from the issuer's two redirects: the code traded for tokens, the page shows who signed in.
    expect(page.locator("header")).to_contain_text(USER)
    assert "code=" not in page.url
    screenshot(page, "signed-in")


def test_sign_out_forgets_the_sign_in(signed_in: Page, screenshot: Screenshots) -> None:
    signed_in.locator("header").get_by_role("button", name="Sign out").click()

    expect(signed_in.get_by_role("button", name="Sign in").first).to_be_visible()
    expect(signed_in.locator("header")).not_to_contain_text(USER)
    screenshot(signed_in, "signed-out")
