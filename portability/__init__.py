"""The tool: one command line composed of command groups (experiment, platforms, sweeps, comparison),
the run store, the run lifecycle (a `Run`: push -> status/wait -> pull), grids and sweeps.

Layers point one way: portability -> report, adapters -> core. Nothing here travels into a bundle.
"""
