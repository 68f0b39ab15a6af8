"""Validate corpora/synthetic/training_sentences.jsonl against models/codebook.yaml and print counts.

Checks: valid JSON objects with exactly the expected keys; unique ids of the form syn-NNNN; themes a
list of known codebook themes in codebook order without duplicates; stance_tr and reply_stance
values known to the codebook; reply_stance set if and only if parent_text is set; known register;
note marks the item as written for training; text length 5-120 words; no duplicate texts.
Exit status 1 on any error.
Run: /work/main/.venv/bin/python corpora/synthetic/check.py
"""
import json
import sys
from collections import Counter
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
KEYS = {"id", "text", "themes", "stance_tr", "reply_stance", "parent_text", "register", "note"}
REGISTERS = ["practitioner", "sarcasm", "union_circular", "press_report", "manager_email",
             "inspectorate", "politician", "service_user", "near_miss"]


def main(path=HERE / "training_sentences.jsonl"):
    cb = yaml.safe_load((ROOT / "models" / "codebook.yaml").read_text(encoding="utf-8"))
    themes = list(cb["themes"])
    stances = list(cb["stances"]["stance_tr"]["values"])
    replies = list(cb["stances"]["reply_stance"]["values"])
    errors, ids, texts = [], set(), Counter()
    c_theme, c_stance, c_reply, c_reg, c_nthemes = Counter(), Counter(), Counter(), Counter(), Counter()
    c_reg_theme = Counter()
    words = []
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    for n, line in enumerate(lines, 1):
        def err(msg):
            errors.append(f"line {n}: {msg}")
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            err(f"bad JSON: {e}")
            continue
        if not isinstance(rec, dict) or set(rec) != KEYS:
            err(f"keys {sorted(rec) if isinstance(rec, dict) else type(rec)} != {sorted(KEYS)}")
            continue
        rid = rec["id"]
        if not (isinstance(rid, str) and rid.startswith("syn-") and rid[4:].isdigit()):
            err(f"bad id {rid!r}")
        if rid in ids:
            err(f"duplicate id {rid}")
        ids.add(rid)
        text = rec["text"]
        if not isinstance(text, str) or not text.strip():
            err("empty text")
            continue
        texts[" ".join(text.lower().split())] += 1
        nw = len(text.split())
        words.append(nw)
        if not 5 <= nw <= 120:
            err(f"{rid}: text has {nw} words (5-120)")
        th = rec["themes"]
        if not isinstance(th, list) or any(t not in themes for t in th):
            err(f"{rid}: unknown theme in {th}")
        elif len(set(th)) != len(th) or th != sorted(th, key=themes.index):
            err(f"{rid}: themes duplicated or out of codebook order: {th}")
        if rec["stance_tr"] not in stances:
            err(f"{rid}: unknown stance_tr {rec['stance_tr']!r}")
        rs, pt = rec["reply_stance"], rec["parent_text"]
        if rs is not None and rs not in replies:
            err(f"{rid}: unknown reply_stance {rs!r}")
        if (rs is None) != (pt is None):
            err(f"{rid}: reply_stance and parent_text must both be set or both null")
        if pt is not None and (not isinstance(pt, str) or len(pt.split()) < 3):
            err(f"{rid}: parent_text too short")
        if rec["register"] not in REGISTERS:
            err(f"{rid}: unknown register {rec['register']!r}")
        if not str(rec["note"]).startswith("written for training"):
            err(f"{rid}: note must start with 'written for training'")
        for t in th:
            c_theme[t] += 1
            c_reg_theme[(rec["register"], t)] += 1
        c_nthemes[len(th)] += 1
        c_stance[rec["stance_tr"]] += 1
        c_reply[rs or "(not a reply)"] += 1
        c_reg[rec["register"]] += 1
    for t, k in texts.items():
        if k > 1:
            errors.append(f"duplicate text x{k}: {t[:70]}")

    print(f"items: {len(lines)}   words per text: min {min(words)}, median "
          f"{sorted(words)[len(words)//2]}, max {max(words)}")
    print("themes:   " + ", ".join(f"{t} {c_theme[t]}" for t in themes))
    print("themes per item: " + ", ".join(f"{k}: {c_nthemes[k]}" for k in sorted(c_nthemes)))
    print("stance_tr: " + ", ".join(f"{s} {c_stance[s]}" for s in stances))
    print("reply_stance: " + ", ".join(f"{s} {c_reply[s]}" for s in replies + ["(not a reply)"]))
    print("register: " + ", ".join(f"{r} {c_reg[r]}" for r in REGISTERS))
    print("near_miss by theme rule touched (from note): " + ", ".join(
        f"{t} {sum(1 for l in lines if json.loads(l)['register'] == 'near_miss' and t.split('_')[0] in json.loads(l)['note'])}"
        for t in ["workload", "communication", "drug", "blame", "stance"]))
    if errors:
        print(f"\n{len(errors)} ERRORS")
        for e in errors[:50]:
            print("  " + e)
        return 1
    print("OK: all lines valid")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
