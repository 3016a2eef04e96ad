"""The results of the recipes, in one command (`scripts/results.py`): every recipe trained on the
MedMNIST files found, under the official protocol (train on train, epoch picked on val, test
reported), over several seeds; the ablations; and `docs/results.md` written from the finished runs.

`jobs` says which runs there are and runs them (each one `spikeview-engine train --recipe` in a child
process, so several can run side by side); `baselines` reads the published MedMNIST v2 tables;
`report` turns finished runs into the page and its plots.
"""
