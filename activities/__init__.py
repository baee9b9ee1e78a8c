"""Activities: all I/O of the workflows. Each is idempotent; see docs/architecture.md."""
