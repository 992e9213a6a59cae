"""ACME's shared labelwise taxonomies, shipped as package data.

Hydra finds them with `hydra.searchpath=[pkg://acme_taxonomies]`: it looks for
the config group folder `taxonomy/` inside this package (which needs this
`__init__.py` to be found at all).
"""

__version__ = "1.0.0"
