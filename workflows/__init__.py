"""Temporal workflows: deterministic orchestration; all I/O happens in activities."""
