"""The individual preflight checks, one module per area. Each public check returns CheckResult rows and never
raises: a check that cannot run on this machine reports `unknown` with the reason."""
