"""Screenshots of the dashboard's main pages, taken from a running Botyard with the demo data (seed_demo).

    .venv/bin/python docs/screenshots/take.py [http://127.0.0.1:8000] [--out docs/screenshots] [--full-page]

Logs in as the demo user, opens the "Demo Community" tenant and saves one PNG per page at 1280x800 (the viewport;
--full-page: the whole page at that width). Two are always whole pages: a bot's page (the preview of a message and
the rules editor below it do not fit in 800 px) and the overview at 375 px wide (a phone).
Playwright drives Debian's chromium (/usr/bin/chromium); no browser is downloaded. Pages still showing the
"being built" placeholder are named at the end, and the exit status is 1 when there are any.
"""

import argparse
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from playwright.sync_api import ViewportSize, sync_playwright

# seed_demo's published demo login (tenants/management/commands/seed_demo.py); this script only talks HTTP.
DEMO_EMAIL = "demo@botyard.localhost"
DEMO_PASSWORD = "botyard-demo"  # noqa: S105 - the demo's, for a local demo database
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
TENANT = "Demo Community"
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 375, "height": 812}
PREVIEW_MESSAGE = "how much is a kayak rental?"  # matches the demo's pricing rule (seed_demo PRICING_REGEX)
PLACEHOLDER = "This page is being built"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", nargs="?", default="http://127.0.0.1:8000")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    parser.add_argument("--full-page", action="store_true", help="whole pages, not the 1280x800 viewport")
    parser.add_argument("--email", default=DEMO_EMAIL)
    parser.add_argument("--password", default=DEMO_PASSWORD)
    return parser.parse_args()


def log_in(page: Any, *, email: str, password: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


def tenant_path(page: Any) -> str:
    """`/t/<slug>/` of the demo tenant: `/` lists the demo user's two tenants (or goes straight to the only one)."""
    page.goto("/")
    found = re.search(r"/t/[^/]+/", page.url)
    if found:
        return found.group(0)
    href = page.get_by_role("link", name=re.compile(TENANT)).first.get_attribute("href")
    return str(re.search(r"/t/[^/]+/", href).group(0))  # type: ignore[union-attr]


def first_row(page: Any, list_path: str, tail: str, *, named: str = "") -> str:
    """The path of the first row a list links to (`<list_path><uuid>/`), the one `named` when it is there."""
    page.goto(list_path)
    links = page.locator(f'a[href*="{tail}"]')
    for index in range(links.count()):
        link = links.nth(index)
        href = link.get_attribute("href") or ""
        if re.search(f"{tail}{UUID}/$", href) and (not named or named in link.inner_text()):
            return href
    if named:
        return first_row(page, list_path, tail)
    raise SystemExit(f"no row linked from {list_path}")


def shoot(page: Any, path: str, out: Path, *, full_page: bool) -> str:
    page.goto(path)
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(out), full_page=full_page)
    main = page.locator("main")
    return str(main.first.inner_text() if main.count() else page.content())


def main() -> int:
    args = arguments()
    args.out.mkdir(parents=True, exist_ok=True)
    unfinished = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport=DESKTOP, base_url=args.url)
        page = context.new_page()
        log_in(page, email=args.email, password=args.password)
        home = tenant_path(page)
        bot = first_row(page, f"{home}bots/", "/bots/", named="Deal Hound")
        group = first_row(page, f"{home}groups/", "/groups/")
        shots = [
            ("overview", home, "viewport"),
            ("analytics", f"{home}analytics/", "viewport"),
            ("bots", f"{home}bots/", "viewport"),
            ("bot-rules-and-preview", f"{bot}?{urlencode({'message': PREVIEW_MESSAGE})}", "whole"),
            ("onboarding", f"{home}start/", "viewport"),
            ("interactions", f"{home}interactions/", "viewport"),
            ("group-members", group, "viewport"),
            ("money", f"{home}money/", "viewport"),
            ("conversions", f"{home}money/conversions/", "viewport"),
            # Last: pages another session may still be building when this runs.
            ("api-keys", f"{home}api-keys/", "viewport"),
            ("team", f"{home}team/", "viewport"),
            ("settings", f"{home}settings/", "viewport"),
        ]
        for name, path, size in shots:
            text = shoot(page, path, args.out / f"{name}.png", full_page=args.full_page or size == "whole")
            if PLACEHOLDER in text:
                unfinished.append(name)
            print(f"{name}.png  {path}")
        phone = browser.new_context(viewport=PHONE, base_url=args.url, storage_state=context.storage_state())
        shoot(phone.new_page(), home, args.out / "overview-phone.png", full_page=True)
        print(f"overview-phone.png  {home} (375 px wide)")
        browser.close()
    if unfinished:
        print(f"still the '{PLACEHOLDER}' placeholder: {', '.join(unfinished)}")
    return 1 if unfinished else 0


if __name__ == "__main__":
    raise SystemExit(main())
