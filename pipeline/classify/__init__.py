"""Stage 2b, classify: themes (multi-label) and two stance schemes, each with its coded segments.

Modules, one job each:

``features``   what coders read: unit features, the codebook's segment-rule evidence, targets
``coders``     RuleCoder, SupervisedCoder (text model + rules, calibrated), MajorityCoder
``decisions``  probabilities -> codes, and the coded segments that are each code's evidence
``segments``   segments.parquet (coded segments with offsets into ``text``) and ``segments_for``
``tables``     prediction into the labels table (``classify_frame``: the one classify path)
``loader``     one cached coder per process for local, chunked and Dask runs
``recipes``    the recipe registry (majority, rules, supervised, combined)

Training lives in ``pipeline.train``.
"""

from .coders import THRESHOLD_GRID, MajorityCoder, RuleCoder, SupervisedCoder
from .decisions import decide, explain
from .features import (SCHEMES, Targets, asks_question, content_overlap, cue_counts, featurize, rule_evidence,
                       tfidf_transform)
from .recipes import RECIPES, make_coder, register
from .segments import segments_for, segments_table, write_segments
from .tables import classify_frame, labels_frame

__all__ = ["SCHEMES", "THRESHOLD_GRID", "Targets", "RuleCoder", "SupervisedCoder", "MajorityCoder", "decide",
           "explain", "asks_question", "content_overlap", "cue_counts", "rule_evidence", "tfidf_transform", "featurize",
           "RECIPES", "make_coder", "register", "segments_for", "segments_table", "write_segments",
           "classify_frame", "labels_frame"]
