"""Store room: SQLite (WAL) through sqlite-utils, versioned migrations, one small repository module per entity."""
