"""Command line: one thin typer wrapper per stage.

Each command calls a plain library function and prints what it returned.
Library errors (:class:`~pipeline.errors.PipelineError`) become a message and
exit code here, and only here.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import List, Optional

import typer
from tqdm import tqdm

from .errors import PipelineError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Parse, code, evaluate and explore probation practitioners' blog threads.")


@app.callback()
def _root() -> None:
    """Parse, code, evaluate and explore probation practitioners' blog threads."""


PLURAL = {"post": "posts", "contribution": "contributions", "comment": "comments", "reply": "replies"}


# Exit codes (README, "Command line"): 0 done; 1 nothing could be parsed; 2 bad input, codebook,
# labels or model; 3 --strict and something was skipped or warned about; 4 the environment refused
# a write (disk full, read-only, permission denied); 5 another run holds the output folder.
EXIT_CODES = {"E301": 4, "E207": 5}


def _fail(exc: PipelineError, code: int = 2) -> None:
    typer.secho(str(exc), fg=typer.colors.RED, err=True)
    raise typer.Exit(EXIT_CODES.get(exc.problem.code, code))


def _print_problems(problems: list[dict], label: str, limit: int = 20) -> None:
    if not problems:
        return
    typer.echo(f"{label} ({len(problems)}):")
    for p in problems[:limit]:
        where = f"{p['file']}:{p['line']}" if p.get("line") else p["file"]
        typer.echo(f"  [{p['code']}] {where}: {p['message']} Fix: {p['fix']}")
    if len(problems) > limit:
        typer.echo(f"  ... and {len(problems) - limit} more in report.json")


@app.command()
def parse(inputs: List[Path] = typer.Argument(..., help="Thread files or folders (text, HTML, Atom, CSV, JSONL)."),
          out: Path = typer.Option(..., "--out", "-o", help="Run directory to write."),
          csv: bool = typer.Option(False, "--csv", help="Also write threads.csv and units.csv."),
          strict: bool = typer.Option(False, "--strict", help="Exit non-zero if any file was skipped or warned about."),
          max_mb: int = typer.Option(1024, "--max-mb", help="Refuse files larger than this."),
          tz: str = typer.Option("Europe/London", "--tz", help="The blog's time zone (IANA name): times shown "
                                 "without a zone are wall times in it."),
          include_pages: bool = typer.Option(False, "--include-pages", help="Read a Blogger export's pages as "
                                             "threads too."),
          quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar.")) -> None:
    """Parse blog threads into threads.parquet and units.parquet (+ report.json)."""
    from .runs import parse_to_run

    bar = tqdm(desc="parse", unit="file", disable=quiet, file=sys.stderr)
    try:
        summary = parse_to_run(inputs, out, csv=csv, max_bytes=max_mb * 1_000_000, on_file=lambda _: bar.update(),
                               tz=tz, include_pages=include_pages)
    except PipelineError as exc:  # E301: the machine refused a write; earlier tables are untouched
        bar.close()
        _fail(exc)
    bar.close()
    kinds = ", ".join(f"{n} {PLURAL[k]}" for k, n in summary.units_by_kind.items())
    typer.echo(f"Parsed {summary.threads} threads from {summary.files_seen} files: {summary.units} units ({kinds}) "
               f"in {summary.seconds:.2f}s -> {out}")
    _print_problems(summary.warnings, "Warnings")
    _print_problems(summary.skipped, "Skipped files")
    if summary.threads == 0:
        typer.secho("Nothing could be parsed.", fg=typer.colors.RED, err=True)
        raise typer.Exit(1)
    if strict and (summary.skipped or summary.warnings):
        raise typer.Exit(3)


@app.command()
def collect(blog: str = typer.Argument(..., help="The blog's address, e.g. https://example.blogspot.com/"),
            out: Path = typer.Option(..., "--out", "-o", help="Folder for the raw feeds (resumable)."),
            since: Optional[str] = typer.Option(None, "--since", help="First post date, YYYY-MM-DD."),
            until: Optional[str] = typer.Option(None, "--until", help="Last post date, YYYY-MM-DD."),
            delay: float = typer.Option(1.0, "--delay", help="Seconds between requests."),
            quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress.")) -> None:
    """Fetch a blog's public Atom feeds (posts, then each post's comments) for `parse` to read offline."""
    from .collect import collect as collect_blog

    bar = tqdm(desc="collect", unit="feed", disable=quiet, file=sys.stderr)
    try:
        report = collect_blog(blog, out, since=since, until=until, delay=delay, on_feed=lambda _: bar.update())
    except PipelineError as exc:
        bar.close()
        _fail(exc)
    bar.close()
    typer.echo(f"Collected {report.posts} posts and {report.comments_feeds} comment feeds "
               f"({report.pages_fetched} pages fetched, {report.pages_reused} already saved) -> {out}")
    for failed in report.failed:
        typer.secho(f"  not fetched: {failed}", fg=typer.colors.YELLOW, err=True)
    if not report.complete:
        typer.secho("Incomplete: run the same command again to resume.", fg=typer.colors.YELLOW, err=True)
        raise typer.Exit(1)
    typer.echo(f"Next: python -m pipeline parse {out} --out <run>")


MODEL_HELP = "Model directory (default: the bundled models/default), or 'rules' for the codebook rules alone."


@app.command()
def train(labels: Path = typer.Option(..., "--labels", help="Labels JSONL (one object per unit and coder)."),
          out: Path = typer.Option(..., "--out", "-o", help="Model directory to write."),
          corpus: Optional[Path] = typer.Option(None, "--corpus", help="Thread files the labels refer to "
                                                "(default: the raw/ folder beside the labels file)."),
          annotator: str = typer.Option("gold", "--annotator", help="Whose labels to learn from."),
          exclude_thread: List[str] = typer.Option([], "--exclude-thread", help="Leave a thread out (repeatable)."),
          no_cues: bool = typer.Option(False, "--no-cues", help="TF-IDF only: no codebook cue features."),
          cv: bool = typer.Option(False, "--cv", help="Also cross-validate the recipe by thread and record the "
                                  "figures in the model card."),
          codebook: Path = typer.Option(None, "--codebook", help="Codebook YAML (default models/codebook.yaml).")) -> None:
    """Train the theme and stance coders on a labelled sample."""
    from .runs import CODEBOOK_PATH, train_model

    try:
        info = train_model(labels, out, corpus=corpus, annotator=annotator, exclude_threads=exclude_thread,
                           use_cues=not no_cues, codebook_path=codebook or CODEBOOK_PATH, cv=cv)
    except PipelineError as exc:
        _fail(exc)
    _print_problems(info.get("label_problems") or [], "Labels")
    typer.echo(f"Trained on {info['n_units']} units from {info['n_threads']} threads "
               f"(excluded: {', '.join(info['excluded_threads']) or 'none'}) -> {out}")
    typer.echo("Theme thresholds: " + ", ".join(f"{k} {v:.2f}" for k, v in info["thresholds"].items()))


@app.command()
def classify(run: Path = typer.Argument(..., help="Run directory made by `parse`."),
             model: str = typer.Option("", "--model", "-m", help=MODEL_HELP),
             codebook: Path = typer.Option(None, "--codebook", help="Codebook YAML (default models/codebook.yaml)."),
             engine: str = typer.Option("local", "--engine", help="local, or dask (over Parquet partitions)."),
             scheduler: Optional[str] = typer.Option(None, "--scheduler", help="Dask scheduler address "
                                                     "(default: a LocalCluster on this machine)."),
             workers: int = typer.Option(2, "--workers", help="Dask LocalCluster worker processes.")) -> None:
    """Add labels.parquet (themes, stances, p_<code> columns, evidence) to a run."""
    from .runs import BUNDLED_MODEL, CODEBOOK_PATH, classify_run
    from .store import run_lock

    try:
        with run_lock(run) if run.is_dir() else contextlib.nullcontext():
            summary = classify_run(run, model or BUNDLED_MODEL, codebook_path=codebook or CODEBOOK_PATH,
                                   engine=engine, scheduler=scheduler, workers=workers)
    except PipelineError as exc:
        _fail(exc)
    _echo_classify(summary, run)


def _echo_classify(summary: dict, run: Path) -> None:
    typer.echo(f"Classified {summary['units']} units in {summary.get('seconds', 0):.1f}s -> {Path(run) / 'labels.parquet'}")
    typer.echo("  themes: " + (", ".join(f"{k} {v}" for k, v in summary["themes"].items()) or "none"))
    typer.echo("  stance_tr: " + ", ".join(f"{k} {v}" for k, v in summary["stance_tr"].items()))
    typer.echo("  reply_stance: " + ", ".join(f"{k} {v}" for k, v in summary["reply_stance"].items()))


@app.command()
def run(inputs: List[Path] = typer.Argument(..., help="Thread files or folders."),
        out: Path = typer.Option(..., "--out", "-o", help="Run directory to write."),
        model: str = typer.Option("", "--model", "-m", help=MODEL_HELP),
        csv: bool = typer.Option(False, "--csv", help="Also write CSV copies of the tables."),
        engine: str = typer.Option("local", "--engine", help="local (chunks on this machine's cores) or dask "
                                   "(classify over Parquet partitions on a Dask cluster)."),
        scheduler: Optional[str] = typer.Option(None, "--scheduler", help="Dask scheduler address (default: LocalCluster)."),
        workers: int = typer.Option(2, "--workers", help="Parallel worker processes."),
        chunk_mb: float = typer.Option(16.0, "--chunk-mb", help="Input megabytes per chunk (bounds memory)."),
        tz: str = typer.Option("Europe/London", "--tz", help="The blog's time zone (as for `parse`)."),
        include_pages: bool = typer.Option(False, "--include-pages", help="A Blogger export's pages become "
                                           "threads too (as for `parse`)."),
        codebook: Optional[Path] = typer.Option(None, "--codebook", help="Codebook YAML (default models/codebook.yaml)."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar.")) -> None:
    """Parse and classify with the bundled model in one go: chunked, parallel, restartable."""
    from .runs import BUNDLED_MODEL, CODEBOOK_PATH, run_all
    from .store import run_lock

    bar = tqdm(desc="run", unit="chunk", disable=quiet, file=sys.stderr)
    try:
        with run_lock(out):  # held through parse, classify and the CSV copies
            result = run_all(inputs, out, model_dir=model or BUNDLED_MODEL, codebook_path=codebook or CODEBOOK_PATH,
                             csv=csv, engine=engine, scheduler=scheduler, workers=workers, chunk_mb=chunk_mb,
                             progress=lambda _: bar.update(),
                             parse_options={"tz": tz, "include_pages": include_pages})
    except PipelineError as exc:
        bar.close()
        _fail(exc)
    bar.close()
    p = result["parse"]
    typer.echo(f"Parsed {p['threads']} threads, {p['units']} units in {p['chunks']} chunks "
               f"({p['chunks_resumed']} already done); {len(p['warnings'])} warnings, {len(p['skipped'])} skipped files.")
    _print_problems(p["warnings"], "Warnings")
    _print_problems(p["skipped"], "Skipped files")
    _echo_classify(result["classify"], out)


@app.command()
def evaluate(gold: Path = typer.Option(..., "--gold", help="Gold labels JSONL."),
             pred: Optional[Path] = typer.Option(None, "--pred", help="A run directory (labels.parquet) or a labels JSONL."),
             model: Optional[Path] = typer.Option(None, "--model", help="Evaluate a training recipe instead (with --cv thread)."),
             cv: str = typer.Option("thread", "--cv", help="Cross-validation scheme for --model: leave one thread out."),
             recipe: str = typer.Option("combined", "--recipe", help="Recipe evaluated with --model: majority, rules, "
                                        "supervised or combined."),
             out: Optional[Path] = typer.Option(None, "--out", "-o", help="Where to write evaluation.json, report.md, PNGs."),
             gold_annotator: str = typer.Option("gold", "--gold-annotator"),
             corpus: Optional[Path] = typer.Option(None, "--corpus", help="With --model: thread files the labels refer "
                                                   "to (default: the raw/ folder beside the labels file)."),
             pred_annotator: Optional[str] = typer.Option(None, "--pred-annotator",
                                                          help="With a labels JSONL: whose labels to score (e.g. coder_b)."),
             no_learning_curve: bool = typer.Option(False, "--no-learning-curve"),
             test_thread: List[str] = typer.Option([], "--test-thread", help="With --model: train once on the "
                                                    "other threads and score only this one (repeatable), e.g. "
                                                    "the codebook's frozen-test threads."),
             codebook: Optional[Path] = typer.Option(None, "--codebook", help="Codebook YAML (default models/codebook.yaml)."),) -> None:
    """Score predictions or a training recipe against gold labels (metrics, CIs, agreement, errors)."""
    from .runs import CODEBOOK_PATH, evaluate_model_cv, evaluate_predictions

    codebook = codebook or CODEBOOK_PATH
    command = "python -m pipeline evaluate " + " ".join(sys.argv[2:])
    try:
        if pred is not None:
            result = evaluate_predictions(gold, pred, out, gold_annotator=gold_annotator,
                                          pred_annotator=pred_annotator, codebook_path=codebook, command=command)
        elif model is not None:
            if cv != "thread":
                _fail(PipelineError("E206", f"--cv {cv!r} is not supported.", fix="Use --cv thread."))
            result = evaluate_model_cv(gold, out or (Path(model) / "evaluation"), main_recipe=recipe, corpus=corpus,
                                       gold_annotator=gold_annotator, learning_curve=not no_learning_curve,
                                       test_threads=test_thread, codebook_path=codebook, command=command)
        else:
            typer.secho("Give --pred <run dir | labels> or --model <dir> --cv thread.", fg=typer.colors.RED, err=True)
            raise typer.Exit(2)
    except PipelineError as exc:
        _fail(exc)
    _print_problems(result.get("label_problems") or [], "Labels")
    s = result["main"]["summary"]
    typer.echo(f"Theme macro F1 {s['themes']['macro_f1']:.3f} (95% CI units {s['themes']['macro_f1_ci_units']}), "
               f"micro F1 {s['themes']['micro_f1']:.3f}; stance_tr F_avg {s['stance_tr'].get('f_avg', float('nan')):.3f}, "
               f"macro F1 {s['stance_tr']['macro_f1']:.3f}; reply_stance macro F1 {s['reply_stance']['macro_f1']:.3f}")
    for name, b in (result.get("baselines") or {}).items():
        typer.echo(f"  {name:>10}: theme macro F1 {b['themes']['macro_f1']:.3f}, stance_tr F_avg "
                   f"{b['stance_tr'].get('f_avg', float('nan')):.3f}, reply_stance macro F1 {b['reply_stance']['macro_f1']:.3f}")
    for a in result.get("agreement") or []:
        kappas = ", ".join(f"{t} {v['kappa']}" for t, v in a["themes"].items())
        typer.echo(f"  agreement {a['pair']}: kappa {kappas}; alpha stance_tr {a['stance_tr']['alpha']}")
    typer.echo(f"Report: {Path(result['out']) / 'report.md'}")


labels_app = typer.Typer(no_args_is_help=True, help="Check that labels still sit on the text they were made on.")
app.add_typer(labels_app, name="labels")


@labels_app.command("check")
def labels_check(labels: Path = typer.Argument(..., help="Labels JSONL (gold sample, annotations, a coded sheet)."),
                 corpus: Optional[Path] = typer.Option(None, "--corpus", help="Thread files the labels refer to "
                                                       "(default: the raw/ folder beside the labels file)."),
                 stamp: bool = typer.Option(False, "--stamp", help="Rewrite the file: record fingerprints of "
                                            "labels that have none, and new ids of labels whose text moved."),
                 strict: bool = typer.Option(False, "--strict", help="Exit 3 if any label's text changed or is gone."),
                 ) -> None:
    """List labels kept, moved with their text, changed, orphaned or without a fingerprint."""
    from .labels import anchor_problems, stamp_labels
    from .parse import parse_paths, to_frames

    corpus = corpus or labels.parent / "raw"
    if not labels.exists():
        _fail(PipelineError("E202", "the labels file does not exist.", file=str(labels), fix="Check the path."))
    _, units = to_frames(parse_paths([corpus]).threads)
    if stamp:
        report = stamp_labels(labels, units)
    else:
        from .anchor import anchor_labels
        from .labels import read_label_ids

        report = anchor_labels(read_label_ids(labels), units)[1]
    typer.echo(f"{labels}: {report.summary()} (against {len(units)} units in {corpus})")
    for name in ("changed", "orphaned", "unanchored"):
        ids = getattr(report, name)
        if ids:
            typer.echo(f"  {name}: {', '.join(ids[:30])}{' ...' if len(ids) > 30 else ''}")
    for old, new in report.moved[:30]:
        typer.echo(f"  moved: {old} -> {new}")
    _print_problems([p.to_dict() for p in anchor_problems(report, str(labels))], "Warnings")
    if stamp:
        typer.echo(f"Rewrote {labels} with fingerprints and current ids (changed and orphaned lines left as they were).")
    if strict and report.lost:
        raise typer.Exit(3)


validate_app = typer.Typer(no_args_is_help=True, help="Validate a run on a blind hand-coded sample: sample, "
                            "agreement between coders, corrected prevalence.")
app.add_typer(validate_app, name="validate")


@validate_app.command("sample")
def validate_sample(run: Path = typer.Argument(..., help="Run directory with labels.parquet."),
                    n: int = typer.Option(..., "--n", help="Units to sample."),
                    out: Path = typer.Option(..., "--out", "-o", help="Sheet to write (JSONL); its design is "
                                             "written beside it as <sheet>.design.json."),
                    seed: int = typer.Option(0, "--seed")) -> None:
    """Draw a blind sample stratified by the model's codes (no model codes on the sheet)."""
    from .validate import design_path, write_sample

    try:
        design = write_sample(run, out, n, seed=seed)
    except PipelineError as exc:
        _fail(exc)
    typer.echo(f"Sampled {design['n']} of {design['N']} units -> {out} (design: {design_path(out)})")
    for s in design["strata"]:
        typer.echo(f"  {s['name']:<30} N={s['N']:<6} n={s['n']:<4} p={s['inclusion_probability']:.3f}")


@validate_app.command("score")
def validate_score(run: Path = typer.Argument(..., help="The run the sample was drawn from."),
                   labels: Path = typer.Option(..., "--labels", help="The coded sheet (labels JSONL)."),
                   out: Path = typer.Option(..., "--out", "-o", help="Folder for validation.json and report.md."),
                   annotator: Optional[str] = typer.Option(None, "--annotator", help="Score one coder's labels "
                                                           "(default: adjudicated gold, else the coders' agreed labels)."),
                   design: Optional[Path] = typer.Option(None, "--design", help="Design file (default: beside the sheet)."),
                   seed: int = typer.Option(0, "--seed")) -> None:
    """Score the model on the coded sample; prevalence corrected with 95% design-based intervals."""
    from .validate import score_validation

    try:
        r = score_validation(run, labels, out, annotator=annotator, design=design, seed=seed)
    except PipelineError as exc:
        _fail(exc)
    _print_problems(r["warnings"], "Labels")
    typer.echo(f"Validated on {r['n']} coded units ({r['uncoded']} of the sample not coded yet):")
    for scheme in ("themes", "stance_tr"):
        for code, e in r[scheme].items():
            p = e["prevalence"]
            typer.echo(f"  {code:<22} model {p['model']:.3f}  corrected {p['corrected']:.3f} "
                       f"[{p['ci'][0]:.3f}, {p['ci'][1]:.3f}]  kappa {e['kappa']}")
    typer.echo(f"Report: {out / 'report.md'}")


@validate_app.command("agree")
def validate_agree(labels: Path = typer.Option(..., "--labels", help="The coded sheet with several coders."),
                   out: Optional[Path] = typer.Option(None, "--out", "-o", help="Write the disagreements "
                                                      "(JSONL) here for adjudication.")) -> None:
    """Agreement between coders (kappa per theme, alpha per scheme) and the units to adjudicate."""
    from . import store
    from .codebook import load_codebook
    from .runs import CODEBOOK_PATH
    from .validate import disagreements, pairwise_agreement, read_coded

    try:
        codebook = load_codebook(CODEBOOK_PATH)
        coded, _ = read_coded(labels, codebook)
    except PipelineError as exc:
        _fail(exc)
    for a in pairwise_agreement(coded, codebook):
        kappas = ", ".join(f"{t} {v['kappa']}" for t, v in a["themes"].items())
        typer.echo(f"{a['pair']} ({a['n_units']} units): kappa {kappas}; alpha themes {a['themes_all']['alpha']}, "
                   f"stance_tr {a['stance_tr']['alpha']}, reply_stance {a['reply_stance']['alpha']}")
    todo = disagreements(coded)
    typer.echo(f"{len(todo)} units to adjudicate (the app's Validate page, or add gold lines with a note).")
    if out is not None:
        store.write_jsonl(todo.to_dict("records"), out)
        typer.echo(f"Disagreements -> {out}")


@app.command()
def export(run: Path = typer.Argument(..., help="Run directory."),
           fmt: str = typer.Option("csv", "--format", "-f", help="csv, parquet, jsonl or qdpx (REFI-QDA project)."),
           out: Path = typer.Option(..., "--out", "-o", help="File to write."),
           labels: str = typer.Option("model", "--labels", help="Whose codes: model, gold, or an annotator's name."),
           labels_file: List[Path] = typer.Option([], "--labels-file", help="Where gold / annotator labels are "
                                                  "(repeatable; default: the bundled labels.jsonl, then annotations.jsonl)."),
           pseudonymise: bool = typer.Option(False, "--pseudonymise", help="Commenter names become 'Commenter N'."),
           codebook: Path = typer.Option(None, "--codebook", help="Codebook YAML (default models/codebook.yaml).")) -> None:
    """Export a run's units with their codes: the same files as the app's Export page."""
    from .codebook import load_codebook
    from .explore.exports import export_run
    from .paths import default_annotations, default_codebook, default_labels

    try:
        summary = export_run(run, out, fmt, load_codebook(codebook or default_codebook()), labels=labels,
                             labels_files=labels_file or [default_labels(), default_annotations()],
                             pseudonymise=pseudonymise)
    except PipelineError as exc:
        _fail(exc)
    typer.echo(f"Exported {summary['units']} units ({summary['labels']} codes"
               f"{', pseudonymised' if summary['pseudonymised'] else ''}) as {fmt} -> {out}")


@app.command(name="app")
def app_command(port: int = typer.Option(8501, "--port"),
                address: str = typer.Option("127.0.0.1", "--address",
                                            help="Interface to listen on; anything but this machine needs sign-in."),
                public: bool = typer.Option(False, "--i-know-it-is-public",
                                            help="Serve on a non-local address without sign-in (not advised)."),
                ) -> None:
    """Open the Streamlit explorer (same as `streamlit run app.py`), on this machine only by default."""
    import subprocess

    from .runs import REPO_ROOT
    from .serving import PUBLIC_FLAG, is_local

    if not is_local(address) and not public:
        typer.secho(f"Refusing to serve the corpus on {address} without sign-in. Configure sign-in (README, "
                    f"'Serving the app to a team safely') or pass {PUBLIC_FLAG}.", fg=typer.colors.RED, err=True)
        raise typer.Exit(2)
    cmd = [sys.executable, "-m", "streamlit", "run", str(REPO_ROOT / "app.py"), "--server.port", str(port),
           "--server.address", address, "--browser.gatherUsageStats", "false"]
    raise typer.Exit(subprocess.call(cmd + (["--", PUBLIC_FLAG] if public else []), cwd=REPO_ROOT))


def main() -> None:
    from .store import environment_error

    try:
        app()
    except PipelineError as exc:  # raised below a command that did not catch it
        typer.secho(str(exc), fg=typer.colors.RED, err=True)
        sys.exit(EXIT_CODES.get(exc.problem.code, 2))
    except OSError as exc:  # disk full, read-only, permission denied outside the store's own writes
        err = environment_error(exc)
        typer.secho(str(err), fg=typer.colors.RED, err=True)
        sys.exit(EXIT_CODES["E301"])
