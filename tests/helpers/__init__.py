"""Helpers shared by the test suites (imported as `tests.helpers`): free ports and Web eID tokens signed in
software for tests that exercise the web layer rather than the card."""
