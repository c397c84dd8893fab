"""Reports: the claim, the measured numbers, figures and the verdict, written as `runs/<id>/report.md`."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

VERDICTS = ("held", "partly held", "did not hold", "inconclusive")


@dataclass
class Check:
    """One decidable part of a claim: `held` is True/False from the measurements (None: not measurable)."""

    name: str
    held: bool | None
    measured: str


@dataclass
class Figure:
    """A matplotlib figure saved as `<name>.png` beside the report."""

    name: str
    figure: object
    caption: str = ""


@dataclass
class Report:
    title: str
    claim: str = ""
    """Empty: `Experiment.make_report` fills in the experiment's claim (and title, source)."""
    source: str = ""
    checks: list[Check] = field(default_factory=list)
    sections: list[tuple[str, str]] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    summary: dict[str, float] = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        decided = [c.held for c in self.checks if c.held is not None]
        if not decided:
            return "inconclusive"
        if all(decided):
            return "held" if len(decided) == len(self.checks) else "partly held"
        return "did not hold" if not any(decided) else "partly held"

    def markdown(self, header: dict[str, str] | None = None) -> str:
        lines = [f"# {self.title}", ""]
        for k, v in (header or {}).items():
            lines.append(f"- **{k}**: {v}")
        lines += [
            "",
            f"**Claim** ({self.source}): {self.claim}",
            "",
            f"**Verdict: {self.verdict}**",
            "",
            "## Checks",
            "",
        ]
        rows = [[c.name, _held(c.held), c.measured] for c in self.checks]
        lines += [markdown_table(["check", "held", "measured"], rows), ""]
        for heading, body in self.sections:
            lines += [f"## {heading}", "", body.rstrip(), ""]
        if self.figures:
            lines += ["## Figures", ""]
            for fig in self.figures:
                lines += [f"![{fig.caption or fig.name}]({fig.name}.png)", "", fig.caption, ""]
        return "\n".join(lines).rstrip() + "\n"

    def write(self, folder: str | Path, header: dict[str, str] | None = None) -> Path:
        """Write report.md, the PNG figures and summary.json into `folder`; return the report's path."""
        plt = pyplot()
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for fig in self.figures:
            fig.figure.savefig(folder / f"{fig.name}.png", dpi=110, bbox_inches="tight")
            plt.close(fig.figure)
        (folder / "summary.json").write_text(
            json.dumps(
                {
                    "verdict": self.verdict,
                    "summary": self.summary,
                    "checks": [c.__dict__ for c in self.checks],
                },
                indent=2,
            )
        )
        path = folder / "report.md"
        path.write_text(self.markdown(header))
        return path


def _held(h: bool | None) -> str:
    return {True: "yes", False: "**no**", None: "n/a"}[h]


def markdown_table(headers: list[str], rows: list[list]) -> str:
    """A GitHub-flavoured markdown table; floats are shown with 4 significant digits."""

    def cell(v) -> str:
        if isinstance(v, float):
            return "nan" if math.isnan(v) else f"{v:.4g}"
        return str(v).replace("|", "\\|")

    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(out)


def pyplot():
    """matplotlib.pyplot with the non-interactive Agg backend (reports are written to PNG), unless the
    user chose a backend with MPLBACKEND."""
    import os

    import matplotlib

    if "MPLBACKEND" not in os.environ:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
