"""Coding probation practitioners' blog threads about Transforming Rehabilitation.

Stages, one module each: :mod:`pipeline.parse`, :mod:`pipeline.preprocess`,
:mod:`pipeline.classify`, :mod:`pipeline.evaluate`, :mod:`pipeline.store`;
:mod:`pipeline.cli` wires them for the command line and ``app.py`` reads their outputs.
"""

__version__ = "0.1.0"
