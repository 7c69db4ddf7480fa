"""The package version and distribution name, in a module of its own: the one place each is written (pyproject.toml
reads the version from here and names the distribution the same), importable by any module without importing the
package root, whose imports reach most of the package."""

__version__ = "0.3.0"

DISTRIBUTION = "tms-superposition"
"""The name tms is published and installed under (``pip install tms-superposition``; the import package and the
command stay ``tms``). ``tests/test_packaging.py`` checks that pyproject.toml names the same."""
