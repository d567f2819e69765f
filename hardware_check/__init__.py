"""Hardware preflight of Agent Desktop: requirement thresholds (one source for the `hardware-check` CLI and the
browser page), the checks themselves (cpu, memory, screen, audio, eID reader, network), the report model and
the `hardware-check` command. Imports nothing from agent_desktop except the eID token access, and that only in
a child process (see `eid_probe`)."""
