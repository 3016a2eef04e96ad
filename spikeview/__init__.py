"""SpikeView desktop app: browse scans and MedMNIST datasets (PySide6, pyqtgraph, VTK).

For research only, not for diagnosis. All reading and analysis lives in `engine`; this package
only shows it.
"""

__version__ = "0.1.0"
RESEARCH_NOTICE = "For research use only. Not for diagnosis."
