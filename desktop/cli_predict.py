"""`xrayview-predict`: inference.cli_predict with the viewer's PDF report plugged in for `--report` (the report is
drawn by Qt, which only desktop/ may import). Without --report, Qt is never loaded."""
from __future__ import annotations

from collections.abc import Sequence

WRAPPED_TOOL = "inference.cli_predict"  # the tool itself; `python -m inference.cli_predict` runs it without --report


def report_renderer(image, prediction, predictor, call, *, deidentify: bool = False) -> bytes:
    from desktop.report_pdf import headless_report_pdf

    return headless_report_pdf(image, prediction, predictor, call, deidentify=deidentify)


def main(argv: Sequence[str] | None = None) -> None:
    from inference.cli_predict import main as predict_main

    predict_main(argv, report_renderer=report_renderer)


if __name__ == "__main__":
    main()
