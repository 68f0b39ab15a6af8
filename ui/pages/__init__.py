"""One module per page, each with ``render(ctx)``; the sidebar lists them in this order.

A page whose module is not there (``validate`` arrives with the validation stage) is left out
of the list; a page whose module fails to import shows the error instead of taking the app down.
"""

from __future__ import annotations

import importlib
import importlib.util

PAGE_MODULES = {"Overview": "overview", "Comments": "comments", "Thread": "thread", "Words": "words",
                "Annotate": "annotate", "Evaluation": "evaluation", "Validate": "validate", "Codebook": "codebook",
                "Export": "export"}


def available() -> tuple[str, ...]:
    """Titles of the pages whose module exists."""
    return tuple(title for title, mod in PAGE_MODULES.items()
                 if importlib.util.find_spec(f"{__name__}.{mod}") is not None)


def load(title: str):
    """The page's module (imported on first use: a page's imports cost nothing until it is opened)."""
    return importlib.import_module(f"{__name__}.{PAGE_MODULES[title]}")
