#!/usr/bin/env bash
# The main job: install, then parse + classify + evaluate the bundled corpus, then say how to open the app.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
PY=.venv/bin/python
RUN=runs/probation_blog
echo "== parse + classify the bundled corpus (corpora/probation_blog/raw) with models/default"
$PY -m pipeline run corpora/probation_blog/raw --out "$RUN" --csv -q
echo "== evaluate the bundled model's labels against the gold sample (in-sample: the model was trained on it)"
$PY -m pipeline evaluate --gold corpora/probation_blog/labels.jsonl --pred "$RUN" --out "$RUN/evaluation"
echo "== honest estimate: leave-one-thread-out cross-validation of the training recipe, baselines and coder agreement"
$PY -m pipeline evaluate --gold corpora/probation_blog/labels.jsonl --model models/default --cv thread --out "$RUN/evaluation_cv"
echo
echo "Done. Outputs are in $RUN/ (threads, units, labels as Parquet and CSV; evaluation reports in $RUN/evaluation*/report.md)."
echo "Open the explorer with:  .venv/bin/streamlit run app.py   (then browse to http://localhost:8501)"
