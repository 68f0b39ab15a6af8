"""Private by default: the explorer answers only on this machine unless told otherwise.

The project's ``.streamlit/config.toml`` binds Streamlit to 127.0.0.1 and turns usage statistics
off.  :func:`check_serving` is the second lock, called first thing by ``app.py``: a session served
on any other address (``--server.address 0.0.0.0``, a config file elsewhere, no config at all, in
which case Streamlit listens on every interface) is refused unless sign-in is configured
(Streamlit's OIDC ``[auth]`` section in ``.streamlit/secrets.toml``, used through ``st.login``) or
the person starting it said explicitly that it is public: ``--i-know-it-is-public`` after ``--``
on the streamlit command line, or ``PROBATION_TR_PUBLIC=1``.
"""

from __future__ import annotations

import os
import sys

LOCAL_ADDRESSES = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
PUBLIC_FLAG = "--i-know-it-is-public"
PUBLIC_ENV = "PROBATION_TR_PUBLIC"


def is_local(address: str | None) -> bool:
    """An unset address means every interface (Streamlit's default), so it is not local."""
    return bool(address) and address.strip() in LOCAL_ADDRESSES


def public_allowed(argv: list[str] | None = None, environ: dict | None = None) -> bool:
    argv = sys.argv if argv is None else argv
    environ = os.environ if environ is None else environ
    return PUBLIC_FLAG in argv or environ.get(PUBLIC_ENV, "") == "1"


def serving_problem(address: str | None, *, sign_in: bool, allowed: bool) -> str | None:
    """Why this address may not be served, or None when it may."""
    if is_local(address) or sign_in or allowed:
        return None
    where = address or "every network interface (no server.address set)"
    return (f"This explorer is being served on {where} without sign-in. The corpus holds "
            "practitioners' comments and names (research data under an ethics approval), so it answers "
            "only on 127.0.0.1 by default. Start it from the repository folder (its .streamlit/config.toml "
            "binds to 127.0.0.1), configure sign-in ([auth] in .streamlit/secrets.toml, see README), or, "
            f"if it really is meant to be public, start it with `-- {PUBLIC_FLAG}` or {PUBLIC_ENV}=1.")


def check_serving() -> None:
    """Stop the Streamlit script with an explanation when it is served publicly without sign-in."""
    import streamlit as st

    if not st.context.headers:  # no HTTP request behind this run (AppTest, bare mode): nothing is served
        return
    try:
        sign_in = "auth" in st.secrets
    except Exception:  # no secrets file at all
        sign_in = False
    problem = serving_problem(st.get_option("server.address"), sign_in=sign_in, allowed=public_allowed())
    if problem:
        st.error(problem)
        st.stop()
    if sign_in and not st.user.is_logged_in:
        st.button("Sign in", on_click=st.login)
        st.stop()
