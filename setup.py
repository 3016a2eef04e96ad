"""The package list, with the top-level resources/ folder shipped inside the app as spikeview/resource_files.

Everything else about the project is in pyproject.toml.
"""
from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["engine*", "spikeview*"]) + ["spikeview.resource_files"],
    package_dir={"spikeview.resource_files": "resources"},
    package_data={"*": ["*.json"], "spikeview.resource_files": ["*", "**/*"]},
)
