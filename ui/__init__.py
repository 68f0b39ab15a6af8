"""The Streamlit explorer's interface (``app.py`` is only its entry point).

``main.py`` runs once per rerun: the sidebar (``sidebar.py``), the run and codebook through the
cached loaders (``loaders.py``), the page context ``ctx`` (``state.py``), then the chosen page's
``render(ctx)`` from ``pages/``.  Pieces shared by pages are in ``widgets.py`` (a unit in full,
the filters) and ``charts.py`` (Vega-Lite specs); building a run from the app in ``build.py``,
retraining in ``retrain.py``.  Every data function is in :mod:`pipeline.explore` (no Streamlit
there), so the pages only lay things out.
"""
