"""Codebook: themes and stance schemes with their definitions, rules, cues and examples."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from pipeline import explore as ex

from ..state import SCHEME_TITLES, Ctx
from ..widgets import unit_detail_ui

def render(ctx: Ctx) -> None:
    cb = ctx.codebook
    st.header("Codebook")
    st.markdown(f"**{ex.md_escape(cb.name)}** v{ex.md_escape(cb.version)} · {ex.md_escape(Path(cb.path).name)}")
    st.markdown(ex.md_escape(cb.description))
    examples = []
    for name, t in cb.themes.items():
        with st.expander(f"{t.label} ({name})", expanded=False):
            st.markdown("**Definition.** " + ex.md_escape(t.definition))
            if t.include:
                st.markdown("**Include**\n\n" + "\n".join(f"- {ex.md_escape(i)}" for i in t.include))
            if t.exclude:
                st.markdown("**Exclude**\n\n" + "\n".join(f"- {ex.md_escape(i)}" for i in t.exclude))
            cues = ", ".join(t.phrases)
            st.markdown("**Cue phrases (lemmas).** " + ex.md_escape(cues or "none"))
            if t.acronyms:
                st.markdown("**Acronyms.** " + ex.md_escape(", ".join(t.acronyms)))
            if t.veto:
                st.markdown("**Veto phrases.** " + ex.md_escape(", ".join(t.veto)))
            if t.examples:
                st.markdown("**Examples**\n\n" + "\n".join(
                    f"- **{ex.md_escape(e.get('unit_id'))}**: {ex.md_escape(e.get('why') or '')}" for e in t.examples))
                examples += [str(e.get("unit_id")) for e in t.examples]
    for scheme, s in cb.stances.items():
        with st.expander(f"{SCHEME_TITLES.get(scheme, scheme)} ({scheme}; default {s.default})"):
            st.markdown(ex.md_escape(s.definition))
            for v in s.values.values():
                st.markdown(f"- **{ex.md_escape(v.name)}**: {ex.md_escape(v.definition)}"
                            + (f"  \n  cues: {ex.md_escape(', '.join(v.cues))}" if v.cues else ""))
    present = [u for u in dict.fromkeys(examples) if ctx.row(u) is not None]
    if present:
        st.subheader("Read an example")
        uid = st.selectbox("Example unit", present, key="cb_example")
        unit_detail_ui(ctx, uid, key="codebook")

