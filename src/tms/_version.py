"""The package version, in a module of its own: the one place it is written (pyproject.toml reads it from here),
importable by any module without importing the package root, whose imports reach most of the package."""

__version__ = "0.3.0"
