"""Build script: the Cython extensions are declared here (see the Cython backend).

Everything else (metadata, dependencies, extras) lives in pyproject.toml.
"""

from setuptools import setup

setup()
