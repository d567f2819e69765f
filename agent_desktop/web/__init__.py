"""Web room: pages, JSON API, WebSocket hub, auth middleware and roles. Calls into the other rooms only."""
