"""`ev eval FILE --signal …`: score a triage signal on labelled posts, VADER side by side."""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer
from rich.console import Console

from escapevelocity.cli.common import fail

SIGNAL_NAMES = ("sentiment", "complaint", "spam", "relevance", "severity", "respond", "crisis",
                "answer-match")


def eval_command(
    file: Path = typer.Argument(..., help="labelled posts as JSONL (text, label); for "
                                          "--signal crisis a folder of streams with index.json"),
    signal: str = typer.Option(..., "--signal", "-s",
                               help="sentiment | complaint | spam | relevance | severity | "
                                    "respond | crisis | answer-match"),
    learn_from: Path = typer.Option(None, "--learn-from",
                                    help="labelled JSONL fed first as team corrections"),
    brand: Path = typer.Option(None, "--brand",
                               help="brand profile YAML (name, handles, products, …) for "
                                    "--signal respond"),
    playbook: Path = typer.Option(None, "--playbook",
                                  help="playbook for --signal respond (default: the shipped "
                                       "brand-neutral one)"),
    report: Path = typer.Option(None, "--report",
                                help="where the full JSON report goes (default: "
                                     "$EV_VAR_DIR/eval/FILE-SIGNAL.json)"),
) -> None:
    """Macro-recall, macro-F1, accuracy, confusion matrix and mentions/s, with vaderSentiment
    measured in the same run. With --learn-from, DEV's labels are learned as corrections first
    (a model is used only if it beats the rules on held-back corrections)."""
    console = Console()
    if signal not in SIGNAL_NAMES:
        raise fail(f"unknown signal {signal!r}; one of {', '.join(SIGNAL_NAMES)}")
    if signal == "crisis":
        from escapevelocity.evaluation import crisis

        if not file.is_dir() or not (file / "index.json").is_file():
            raise fail(f"{file}: --signal crisis needs a folder of streams with index.json")
        result = crisis.evaluate_streams(file)
        crisis.render(result, console)
    elif signal == "answer-match":
        from escapevelocity.evaluation import answers

        if not file.is_file():
            raise fail(f"{file}: no such file")
        result = answers.evaluate_file(file)
        if not result["rows"]:
            raise fail(f"{file}: no labelled rows (need JSON lines with text and label)")
        answers.render(result, console)
    elif signal == "respond":
        from escapevelocity.domain.brand import BrandError
        from escapevelocity.domain.playbook import PlaybookError
        from escapevelocity.evaluation import respond

        for path in (file, brand, playbook):
            if path is not None and not path.is_file():
                raise fail(f"{path}: no such file")
        try:
            result = respond.evaluate_file(file, brand, playbook)
        except (BrandError, PlaybookError) as exc:
            raise fail(str(exc)) from None
        if not result["rows"]:
            raise fail(f"{file}: no rows labelled respond or ignore (need JSON lines with text "
                       "and label)")
        respond.render(result, console)
    else:
        from escapevelocity.evaluation import signals

        if not file.is_file():
            raise fail(f"{file}: no such file")
        if learn_from is not None and not learn_from.is_file():
            raise fail(f"{learn_from}: no such file")
        try:
            result = signals.evaluate_file(file, signal, learn_from)
        except (RuntimeError, ValueError) as exc:  # no scikit-learn; an unknown signal
            raise fail(str(exc)) from None
        if not result["rows"]:
            raise fail(f"{file}: no rows with a {signal} label (need JSON lines with text and "
                       "label)")
        signals.render(result, console)
    if report is None:
        report = Path(os.environ.get("EV_VAR_DIR", "var")) / "eval" / f"{file.stem}-{signal}.json"
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(json.dumps(result, indent=1, default=str))
    console.print(f"report written to {report}")


def register(app: typer.Typer) -> None:
    app.command("eval")(eval_command)
