"""Explore coded blog threads about Transforming Rehabilitation (TR).

    streamlit run app.py            (or: python -m pipeline app)

A thin entry: the pages live in ``ui/pages/`` (one module each, ``render(ctx)``), the cached
loaders in ``ui/loaders.py``, and every data function in ``pipeline.explore``.  Opens on the
bundled corpus's run (``runs/probation_blog``, built on first start with the bundled model, or
the codebook rules when no trained model is there).

Environment variables (tests use them to point the app at temporary files; see pipeline/paths.py):
``PROBATION_TR_RUN``, ``PROBATION_TR_ANNOTATIONS``, ``PROBATION_TR_LABELS``, ``PROBATION_TR_MODEL``,
``PROBATION_TR_CORPUS``, ``PROBATION_TR_CODEBOOK``.

Comment text is untrusted: it is only ever shown as plain text (tables, ``st.text``,
``st.code``) or through ``st.html`` with HTML built by :mod:`pipeline.explore.markup`, which
``html.escape``-s every piece of text before adding any tag; ``unsafe_allow_html`` is never used.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pipeline.serving import check_serving  # noqa: E402
from ui.main import main  # noqa: E402

# `streamlit run` and AppTest run this file as __main__.  A process started by multiprocessing's
# spawn (a Dask or loky worker started later in the same interpreter) re-imports it as
# __mp_main__ and must not run the app.
if __name__ == "__main__":
    check_serving()  # first of all: refuse a public address without sign-in (pipeline/serving.py)
    main()
