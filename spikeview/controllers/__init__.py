"""The only place the app calls the engine and starts jobs; no widgets here (testable without them).

- `files`: scans, label overlays, the MedMNIST files under the data root, recordings on disk
- `runs`: the runs folder
- `training`: `TrainJob` runs the engine's Trainer; a run's history; metrics CSV
- `inference`: a trained run on the open scan or a dataset sample, with the recorded dynamics
- `study`: the SNNDeep study and its report

Each takes the `Session` (the app's state) and the `JobRunner`; results arrive as Qt signals on the
GUI thread or go straight into the session. Panels call them; views never do.
"""
