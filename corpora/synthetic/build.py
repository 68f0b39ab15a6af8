"""Build training_sentences.jsonl from the hand-written batch sources in batches/NN.txt.

Source format, one item per line ('#' lines and blank lines are ignored), fields split on ' | ':
    themes | stance | reply | register | note | text [| parent_text]
themes   '-' or comma-separated letters: w=workload c=communication_failure d=drug_use_upw b=blame_culture
stance   a=against f=favour n=none
reply    '-' (not a reply) or s=support d=deny q=query c=comment; a reply needs parent_text
register pr=practitioner sa=sarcasm un=union_circular ps=press_report me=manager_email
         in=inspectorate po=politician su=service_user nm=near_miss
note     '-' or the include/exclude rule the item exercises
Ids are assigned in file order (syn-0001, ...); append new items at the end of the last batch
or in a new batch so that existing ids stay stable.
Run: /work/main/.venv/bin/python corpora/synthetic/build.py
"""
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
THEMES = {"w": "workload", "c": "communication_failure", "d": "drug_use_upw", "b": "blame_culture"}
ORDER = ["workload", "communication_failure", "drug_use_upw", "blame_culture"]
STANCE = {"a": "against", "f": "favour", "n": "none"}
REPLY = {"-": None, "s": "support", "d": "deny", "q": "query", "c": "comment"}
REGISTER = {"pr": "practitioner", "sa": "sarcasm", "un": "union_circular", "ps": "press_report",
            "me": "manager_email", "in": "inspectorate", "po": "politician", "su": "service_user",
            "nm": "near_miss"}


def parse_line(line, where):
    parts = [p.strip() for p in line.split(" | ")]
    if len(parts) not in (6, 7):
        raise ValueError(f"{where}: expected 6 or 7 fields, got {len(parts)}: {line[:80]}")
    th, st, rp, rg, note, text = parts[:6]
    parent = parts[6] if len(parts) == 7 else None
    themes = [] if th == "-" else [THEMES[t.strip()] for t in th.split(",")]
    themes = [t for t in ORDER if t in themes]
    reply = REPLY[rp]
    if (reply is None) != (parent is None):
        raise ValueError(f"{where}: reply_stance and parent_text must come together")
    note_txt = "written for training" + ("" if note == "-" else "; " + note)
    return {"text": text, "themes": themes, "stance_tr": STANCE[st], "reply_stance": reply,
            "parent_text": parent, "register": REGISTER[rg], "note": note_txt}


def main():
    items = []
    for src in sorted((HERE / "batches").glob("*.txt")):
        for n, raw in enumerate(src.read_text(encoding="utf-8").splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            items.append(parse_line(line, f"{src.name}:{n}"))
    out = HERE / "training_sentences.jsonl"
    with out.open("w", encoding="utf-8") as fh:
        for i, it in enumerate(items, 1):
            rec = {"id": f"syn-{i:04d}", **it}
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    print(f"wrote {len(items)} items to {out.relative_to(HERE.parent.parent)}")


if __name__ == "__main__":
    sys.exit(main())
