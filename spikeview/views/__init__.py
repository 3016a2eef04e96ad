"""Widgets that show things, one per file, fed Volumes, numpy arrays and Recordings (the engine's data
types, never its logic). Composite views (`ScanView`, `Inspector`, `DynamicsView`) subscribe to the
`Session`; the others are fed by them, by panels, or directly (tests, benchmarks)."""
