"""The ``pinws`` command line: demo, pins, check and connect.

Private: the command line's behaviour is documented in ``docs/cli.md``; its
Python modules are not an API. The console script runs :func:`main.main`.
"""
