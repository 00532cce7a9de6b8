"""Every framework example in real headless Chromium, served as its README starts it.

One test per example (each ``examples/*/example.toml``): the gated analytics
script stays inert until the visitor accepts, then runs once in the same
document, and on the next load runs from the first byte.
"""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from tests.examples.example_sites import Example, analytics_script, each_example, running

WATCH_GATED_SCRIPTS = """() => {
  window.__gatedSettled = 0;
  const settle = () => { window.__gatedSettled += 1; };
  new MutationObserver((records) => {
    for (const node of records.flatMap((record) => [...record.addedNodes])) {
      if (node.tagName !== "SCRIPT" || !node.hasAttribute("data-consent-category")) continue;
      if (!node.src) {
        settle();
      } else {
        node.addEventListener("load", settle);
        node.addEventListener("error", settle);
      }
    }
  }).observe(document, { childList: true, subtree: true });
}"""
"""Counts the gated scripts made live in this document once each has run (a script's
``load`` event fires after it has run), so that a test can wait for all of them."""

EVERY_GATED_SCRIPT_SETTLED = """() =>
  !document.querySelector('script[type="text/plain"][data-consent-category]') &&
  window.__gatedSettled === document.querySelectorAll("script[data-consent-category]").length"""


def runs(page: Page, example: Example) -> object:
    """How many times the example's gated script has run in this document (None: never)."""
    return page.evaluate("name => window[name]", example.gated_script_global)


@each_example
def test_accept_runs_the_gated_script_once_then_from_the_first_byte(
    example: Example, page: Page, tmp_path: Path
) -> None:
    with running(example, f"sqlite:///{tmp_path / 'consent-log.db'}") as (_, origin):
        page.goto(origin + example.article)
        banner = page.locator("[data-consent-banner]")
        expect(banner).to_be_visible()
        page.wait_for_load_state("networkidle")
        assert runs(page, example) is None

        page.evaluate("() => { window.__sameDocument = true; }")
        page.evaluate(WATCH_GATED_SCRIPTS)
        banner.locator('[data-consent-action="accept_all"]').click()
        page.wait_for_function(EVERY_GATED_SCRIPT_SETTLED)
        expect(banner).to_be_hidden()
        assert runs(page, example) == 1
        assert page.evaluate("() => window.__sameDocument") is True

        response = page.reload()  # returns after the load event: parsed scripts have run
        assert response is not None
        assert analytics_script(response.text()).get("type") != "text/plain"
        assert page.locator('script[type="text/plain"][data-consent-category]').count() == 0
        assert runs(page, example) == 1
        expect(page.locator("[data-consent-banner]")).to_have_count(0)
