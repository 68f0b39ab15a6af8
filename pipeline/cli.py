"""Command line: one thin typer wrapper per stage.

Each command calls a plain library function and prints what it returned.
Library errors (:class:`~pipeline.errors.PipelineError`) become a message and
exit code here, and only here.
"""

from __future__ import annotations

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


def _fail(exc: PipelineError, code: int = 2) -> None:
    typer.secho(str(exc), fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


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
          quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar.")) -> None:
    """Parse blog threads into threads.parquet and units.parquet (+ report.json)."""
    from .runs import parse_to_run

    bar = tqdm(desc="parse", unit="file", disable=quiet, file=sys.stderr)
    summary = parse_to_run(inputs, out, csv=csv, max_bytes=max_mb * 1_000_000, on_file=lambda _: bar.update())
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


def main() -> None:
    try:
        app()
    except PipelineError as exc:  # raised below a command that did not catch it
        typer.secho(str(exc), fg=typer.colors.RED, err=True)
        sys.exit(2)
