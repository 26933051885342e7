"""Offline mteb tasks built from locally installed data, and the task registry."""
