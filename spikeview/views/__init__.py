"""Widgets, one per file, each fed `engine` objects (Volumes, dataset arrays)."""
