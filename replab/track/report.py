"""Reports: the claim, the measured numbers, figures and the verdict, written as `runs/<id>/report.md`."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from replab.track.rule import claim_summary

VERDICTS = ("held", "partly held", "did not hold", "inconclusive")


@dataclass
class Check:
    """One decidable part of a claim: `held` is True/False from the measurements (None: not measurable,
    or — for a check decided by `track/claims.py`, which sets `rule` — inconclusive).

    A check made by `Decision.check()` also carries the rule, n, effect, CI and p-value shown in the
    report's table, and, when it is a `headline` check, the `claim` record the run store keeps for the
    ledger (`replab ledger`)."""

    name: str
    held: bool | None
    measured: str
    rule: str = ""
    """The decision rule (`track/claims.py`); empty for a check decided otherwise."""
    n: int | None = None
    effect: float | None = None
    ci: tuple[float, float] | None = None
    p: float | None = None
    headline: bool = False
    """The report's verdict follows its headline checks (see `Report.verdict`)."""
    claim: dict | None = None
    """The record of a headline decision (`Decision.record()`): stored in `runs.claims`, pooled by the ledger."""

    @property
    def verdict(self) -> str:
        """held / did not hold / inconclusive (a rule-based check) or n/a (a check that measured nothing)."""
        if self.held is None:
            return "inconclusive" if self.rule else "n/a"
        return "held" if self.held else "did not hold"


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
        """The report's verdict.

        With headline checks (`Check.headline`, the claims decided by `track/claims.py`): inconclusive
        if any headline check is; did not hold if every headline check did not hold; held if every
        headline check held and no other check failed; partly held otherwise. Without headline checks:
        held when every check held, did not hold when none did, partly held otherwise, inconclusive when
        nothing could be measured."""
        headline = [c.held for c in self.checks if c.headline]
        if headline:
            if None in headline:
                return "inconclusive"
            if not any(headline):
                return "did not hold"
            if all(headline) and all(c.held is not False for c in self.checks):
                return "held"
            return "partly held"
        decided = [c.held for c in self.checks if c.held is not None]
        if not decided:
            return "inconclusive"
        if all(decided):
            return "held" if len(decided) == len(self.checks) else "partly held"
        return "did not hold" if not any(decided) else "partly held"

    def claim_records(self) -> list[dict]:
        """The records of the headline decisions, for the run store (`runs.claims`) and the ledger."""
        records = [c.claim for c in self.checks if c.headline and c.claim is not None]
        keys = [r["key"] for r in records]
        if len(set(keys)) != len(keys):
            raise ValueError(f"headline claims need distinct keys, got {keys}")
        return records

    def stored_summary(self) -> dict[str, float]:
        """`summary` plus each headline decision's numbers (`claim/effect`, `claim/ci_low`, `claim/ci_high`,
        `claim/n`, `claim/p`, `claim/min_effect`, `claim/verdict`: 1 held, 0 inconclusive, −1 did not hold;
        the prefix is the claim's key), as the run store keeps it."""
        out = dict(self.summary)
        for c in self.checks:
            if c.headline and c.claim is not None:
                out |= claim_summary(
                    c.claim["key"], c.effect, c.ci, c.n, c.p, c.claim["min_effect"], c.verdict
                )
        return out

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
        lines += [checks_table(self.checks), ""]
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
                    "summary": self.stored_summary(),
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


def checks_table(checks: list[Check]) -> str:
    """The checks as a table; with rule-based checks (`track/claims.py`) it adds the rule, n, the effect
    with its CI and the p-value, and shows "inconclusive" (not n/a) for an undecided rule-based check."""
    if not any(c.rule for c in checks):
        return markdown_table(
            ["check", "held", "measured"], [[c.name, _held(c.held), c.measured] for c in checks]
        )
    rows = []
    for c in checks:
        verdict = {"held": "yes", "did not hold": "**no**"}.get(c.verdict, c.verdict)
        name = f"**{c.name}** (headline)" if c.headline else c.name
        ci = "" if c.ci is None or math.isnan(c.ci[0]) else f" [{c.ci[0]:+.4g}, {c.ci[1]:+.4g}]"
        effect = "" if c.effect is None else f"{c.effect:+.4g}{ci}"
        n = "" if c.n is None else str(c.n)
        p = "" if c.p is None or math.isnan(c.p) else f"{c.p:.3g}"
        rows.append([name, verdict, c.rule, n, effect, p, c.measured])
    return markdown_table(["check", "held", "rule", "n", "effect [95% CI]", "p", "measured"], rows)


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
