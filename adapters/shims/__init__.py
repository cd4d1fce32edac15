"""The code that travels in a bundle, as real modules: `entry.py` (every bundle's experiment.py),
one shim per platform (copied into the bundle as shim.py), and the loader of single-file bundles.

A shim defines only the hooks its platform needs; `entry.py` has the defaults for the rest. Values
known only at packaging time are named slots: module-level lines `NAME = value  # slot`, filled by
`adapters.bundle.fill_slots`.
"""
