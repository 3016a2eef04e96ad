"""Train every MedMNIST recipe on the files found (several seeds), the ablations, and write docs/results.md.

    python scripts/results.py --data-root ../shared/data/medmnist --seeds 3 --jobs 2
    python scripts/results.py --quick --data-root ../shared/data/medmnist --only breastmnist   # a smoke test

See `python scripts/results.py --help` and engine/results/.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.results.command import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
