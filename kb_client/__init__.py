"""Knowledge base client of the desk: the KnowledgeBase interface, an embedded SQLite FTS5 backend, an HTTP
backend that asks another desk (or a central KB), the JSON API that serves any backend, and the Markdown importer.

This package imports nothing from `agent_desktop`: the desk depends on it, never the other way round.
"""

from .base import KnowledgeBase
from .errors import KbError
from .http_api import add_kb_routes, bearer_token_auth, make_kb_routes
from .http_backend import HttpKnowledgeBase
from .importer import ImportIssue, ImportReport, import_folder
from .model import TABS, Contact, Faq, Item, SearchPage, SearchResult
from .sqlite_backend import SqliteKnowledgeBase

__all__ = [
    "TABS",
    "Contact",
    "Faq",
    "HttpKnowledgeBase",
    "ImportIssue",
    "ImportReport",
    "Item",
    "KbError",
    "KnowledgeBase",
    "SearchPage",
    "SearchResult",
    "SqliteKnowledgeBase",
    "add_kb_routes",
    "bearer_token_auth",
    "import_folder",
    "make_kb_routes",
]
