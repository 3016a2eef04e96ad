"""SNNDeep: liver CT lesion classification with three learning rules across three SNN implementations.

Layout: `msd` reads Medical Segmentation Decathlon folders lazily, `samples` turns them (or OrganAMNIST)
into slice / feature samples with patient ids, `splits` makes patient-level folds, `models` holds the
same network written three times (from scratch, snnTorch, SpikingJelly), `rules` the three learning rules,
`tune` the Optuna studies, `study` the cross-validated runs, `report` the Markdown report.
"""
