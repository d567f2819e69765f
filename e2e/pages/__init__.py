"""Page objects for the desk's screens, for the e2e journeys and for QA writing their own against any desk.

Each object wraps a Playwright `Page` and speaks in the user's terms (log in, answer, wrap up); locators go by
`data-testid` only, so a restyled page does not break a test. Assertions wait (Playwright's `expect`)."""

from e2e.pages.desk import DeskPage
from e2e.pages.login import LoginPage
from e2e.pages.phone import PhonePanel
from e2e.pages.preflight import PreflightPage
from e2e.pages.queue import QueuePanel
from e2e.pages.scripts import ScriptsPanel
from e2e.pages.supervisor import SupervisorPages
from e2e.pages.wrapup import WrapupPanel

__all__ = [
    "DeskPage",
    "LoginPage",
    "PhonePanel",
    "PreflightPage",
    "QueuePanel",
    "ScriptsPanel",
    "SupervisorPages",
    "WrapupPanel",
]
