"""ACD room: agent state machine, queues, routing, opening hours."""
