"""The results ledger (`replab ledger`, `docs/results.md`): every reproduction's headline claim, decided
by the shared rule (`track/claims.py`) over all the seeds the run store and the committed run records hold.

**Where the numbers come from.** A report's headline decision (`Decision.check(headline=True)`) puts
its record in the run store's `runs.claims` column (JSON, one record per headline claim): the rule
(`key`, labels of A, B and the floor, `effect`, `direction`, `min_effect`, `floor_min_effect`, `level`),
the paper's number as text (`paper`) and the per-unit values `units` = [[seed, task, a, b, floor], ...].
A run that ran several seeds inside carries several units.

**Pooling.** Finished runs are grouped by (experiment, preset, config apart from `IGNORED_FIELDS`, claim
key, labels, rule): one group is one *entry*. A changed config (an override, a new registered
`min_effect`) is a different entry. Within an entry the units of every run are pooled and the rule is
applied once across them: a unit is (run seed : seed, task) — seed i of the run with seed s — unless the
record says `absolute_seeds` (then the seed itself). A unit met again in a later run (the same seed run
twice) replaces the earlier one: it is the same measurement, not a new seed.

**Runs are committed.** `--write PATH` also writes the run records it pooled to `PATH`'s sibling
`<stem>-runs.jsonl` (`ledger_runs.py`) and pools them with the store next time, so the seeds of a sweep
run over several sessions (or machines, whose stores are not committed) pool into one entry.

**Old entries stay.** `--write PATH` regenerates the entries the store holds and keeps every other
entry row of the file as it was (each row ends with its entry id): a change of the registered minimum
effect is a new, dated entry beside the old one, and entries made from another machine's store survive.
A regenerated entry with fewer seeds than the file's row (a store holding only part of the runs) keeps
the file's row. Experiments with no entry are listed as "not run"; runs whose reports predate the shared
rules (no claims record) are listed with their report verdicts.

Nothing here imports `replab.experiments`: the command line passes the catalogue (headlines, presets).
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from replab.track import ledger_runs
from replab.track.claims import from_record
from replab.track.report import markdown_table
from replab.track.store import RunRecord, Store

IGNORED_FIELDS = ("workers",)
"""Config fields that do not change results (worker processes): runs differing only there pool."""
HEADERS = [
    "experiment",
    "claim",
    "rule",
    "preset",
    "seeds",
    "commit",
    "effect [95% CI]",
    "p",
    "verdict",
    "why",
    "paper",
    "date",
    "runs",
    "entry",
]
_RULE_KEYS = ("key", "a", "b", "floor", "effect", "direction", "min_effect", "floor_min_effect", "level")


@dataclass
class Entry:
    """One row of the ledger."""

    experiment: str
    cells: list[str]
    entry: str = ""
    """Entry id (empty for the rows that are regenerated every time: not run, runs without claims)."""
    seeds: int = 0
    date: str = ""


@dataclass
class Catalogue:
    """What the ledger needs to know about the experiments: name → headline, and name → preset → config."""

    headlines: dict[str, str]
    presets: dict[str, dict[str, dict]]


UNDECIDED = "not decided by the shared rules"
"""The verdict cell of a row of runs without a headline claim record (no entry id)."""
LEFT_OUT_PRESETS = ("smoke",)
"""Smoke runs test the code, not the claim: the ledger leaves them out (DEFAULT, PAPER, demo and custom
presets go in)."""


def store_runs(store: Store, name: str | None = None) -> list[RunRecord]:
    """The store's finished runs the ledger takes in (smoke runs left out)."""
    return [r for r in store.runs(experiment=name, status="finished") if r.preset not in LEFT_OUT_PRESETS]


def entries(
    store: Store, catalogue: Catalogue, name: str | None = None, kept_runs: list[RunRecord] = ()
) -> tuple[list[Entry], list[str]]:
    """The ledger rows the store's finished runs make (one per entry, smoke runs left out), pooled with
    `kept_runs` (the committed run records, `ledger_runs.py`), and notes."""
    kept = [r for r in kept_runs if name is None or r.experiment == name]
    return pool(ledger_runs.merged(store_runs(store, name), kept), catalogue)


def pool(runs: list[RunRecord], catalogue: Catalogue) -> tuple[list[Entry], list[str]]:
    """The ledger rows of these finished runs (e.g. the runs of one sweep), and notes about them."""
    groups: dict[str, list[tuple[RunRecord, dict]]] = defaultdict(list)
    without: dict[tuple[str, str], list[RunRecord]] = defaultdict(list)
    for r in runs:
        if not r.claims:
            without[(r.experiment, r.preset)].append(r)
        for record in r.claims:
            groups[entry_id(r, record)].append((r, record))
    out, notes = [], []
    for eid, members in groups.items():
        row, note = _pooled(eid, members, catalogue)
        out.append(row)
        notes += note
    for (exp, preset), rs in without.items():
        if any(e.experiment == exp and e.cells[3].split(" ")[0] == preset for e in out):
            continue
        verdicts = Counter(r.verdict or "none" for r in rs)
        shown = ", ".join(f"{v} ×{c}" for v, c in verdicts.most_common())
        out.append(
            Entry(
                exp,
                [
                    f"`{exp}`",
                    catalogue.headlines.get(exp, ""),
                    "",
                    preset,
                    str(len({r.seed for r in rs})),
                    _commits(rs),
                    "",
                    "",
                    UNDECIDED,
                    f"{len(rs)} run(s) without a headline claim record: from before the shared rules, or "
                    f"without the arms a headline claim needs (report verdicts: {shown})",
                    "",
                    _date(rs),
                    _run_ids(rs),
                    "",
                ],
                date=_date(rs),
            )
        )
    return out, notes


def entry_id(run: RunRecord, record: dict) -> str:
    """The entry a run's claim record belongs to: a hash of experiment, preset, config (apart from the
    ignored fields) and the rule."""
    config = {k: v for k, v in run.config.items() if k not in IGNORED_FIELDS}
    rule = {k: record.get(k) for k in _RULE_KEYS}
    text = json.dumps([run.experiment, run.preset, config, rule], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def _pooled(eid: str, members, catalogue: Catalogue) -> tuple[Entry, list[str]]:
    units: dict[tuple, list] = {}
    replaced = 0
    for run, record in sorted(members, key=lambda m: m[0].start):
        absolute = record.get("absolute_seeds", False)
        for seed, task, a, b, floor in record["units"]:
            key = (seed if absolute else f"{run.seed}:{seed}", task)
            replaced += key in units
            units[key] = [key[0], task, a, b, floor]
    runs = list({r.id: r for r, _ in members}.values())
    record = members[-1][1]
    exp = runs[0].experiment
    try:
        d = from_record(record, list(units.values()))
    except (KeyError, TypeError, ValueError) as exc:  # a damaged record: say so, keep the other rows
        cells = [
            f"`{exp}`",
            catalogue.headlines.get(exp, ""),
            "",
            _preset(runs[0], catalogue),
            "",
            _commits(runs),
        ]
        cells += ["", "", "**error**", f"its claims record cannot be decided ({exc})", "", _date(runs)]
        cells += [_run_ids(runs), eid]
        return Entry(exp, cells, eid, 0, _date(runs)), [f"{exp} entry {eid}: {exc}"]
    notes = []
    if replaced:
        notes.append(f"{exp} entry {eid}: {replaced} unit(s) met in two runs; the later run's values kept")
    why = "" if d.verdict == "held" else d.reason
    cells = [
        f"`{exp}`",
        catalogue.headlines.get(exp, "") or record.get("name", ""),
        d.rule
        if record.get("name") in ("", None, f"{d.a_label} vs {d.b_label}")
        else f"{record['name']}: {d.rule}",
        _preset(runs[0], catalogue),
        str(d.n),
        _commits(runs),
        d.effect_text(),
        "" if d.p != d.p else f"{d.p:.3g}",
        f"**{d.verdict}**",
        why,
        record.get("paper", ""),
        _date(runs),
        _run_ids(runs),
        eid,
    ]
    return Entry(exp, cells, eid, d.n, _date(runs)), notes


def _run_ids(runs: list[RunRecord]) -> str:
    """The ids of the runs behind a row (so a run a doc quotes can be found in the ledger)."""
    return ", ".join(sorted({r.id for r in runs}))


def _preset(run: RunRecord, catalogue: Catalogue) -> str:
    """The preset, with the config fields that differ from the experiment's preset today."""
    preset = catalogue.presets.get(run.experiment, {}).get(run.preset)
    if preset is None:
        return run.preset
    preset = json.loads(json.dumps(preset))
    diff = [
        f"{k}={json.dumps(v)}"
        for k, v in sorted(run.config.items())
        if k in preset and k not in IGNORED_FIELDS and preset[k] != v
    ]
    return run.preset + (f" ({', '.join(diff)})" if diff else "")


def _commits(runs: list[RunRecord]) -> str:
    revs = sorted({r.git_rev or "unknown" for r in runs})
    return ", ".join(revs[:3]) + (f" +{len(revs) - 3}" if len(revs) > 3 else "")


def _date(runs: list[RunRecord]) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(max(r.end or r.start for r in runs)))


# -- the file ------------------------------------------------------------------------------------------


def read_kept(path: Path) -> list[Entry]:
    """The rows of an existing ledger file that the store may no longer make, as they are: entry rows
    (with an entry id) and rows of runs without a claims record (entry id empty)."""
    if not path.exists():
        return []
    kept = []
    for line in path.read_text().splitlines():
        if not line.startswith("| "):
            continue
        cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        if len(cells) == len(HEADERS) - 1:  # a ledger written before the runs column
            cells = [*cells[:-1], "", cells[-1]]
        if len(cells) != len(HEADERS):
            continue
        if not re.fullmatch(r"[0-9a-f]{10}", cells[-1]) and not (cells[8] == UNDECIDED and cells[-1] == ""):
            continue
        seeds = int(cells[4]) if cells[4].isdigit() else 0
        kept.append(Entry(cells[0].strip("`"), cells, cells[-1], seeds, cells[11]))
    return kept


def merge(new: list[Entry], kept: list[Entry]) -> tuple[list[Entry], list[str]]:
    """New rows replace the file's rows of the same entry, unless the file's row has more seeds; a row of
    runs without claims records stays unless the new rows have one of the same experiment and preset."""
    by_id = {e.entry: e for e in new if e.entry}
    notes = []
    out = [e for e in new if not e.entry]
    undecided = {(e.experiment, e.cells[3]) for e in out}
    out += [e for e in kept if not e.entry and (e.experiment, e.cells[3]) not in undecided]
    for old in (e for e in kept if e.entry):
        fresh = by_id.get(old.entry)
        if fresh is not None and old.seeds > fresh.seeds:
            notes.append(
                f"entry {old.entry} ({old.experiment}): kept the file's row with {old.seeds} seeds; "
                f"this store holds {fresh.seeds}"
            )
            by_id[old.entry] = old
        elif fresh is None:
            by_id[old.entry] = old
    return out + list(by_id.values()), notes


def decisions(rows: list[Entry]) -> str:
    """The rows' claims, seeds, effects and verdicts as a short table (what a sweep prints at its end)."""
    keep = [HEADERS.index(h) for h in ("claim", "rule", "seeds", "effect [95% CI]", "verdict", "why")]
    return markdown_table([HEADERS[i] for i in keep], [[e.cells[i] for i in keep] for e in rows])


def table(rows: list[Entry], catalogue: Catalogue) -> str:
    """The ledger table: experiments in catalogue order (entries by date), 'not run' where none."""
    order = {name: i for i, name in enumerate(catalogue.headlines)}
    done = {e.experiment for e in rows}
    rows = rows + [
        Entry(name, [f"`{name}`", headline, "", "", "0", "", "", "", "not run", "", "", "", "", ""])
        for name, headline in catalogue.headlines.items()
        if name not in done
    ]
    rows.sort(key=lambda e: (order.get(e.experiment, len(order)), e.experiment, e.date, e.entry))
    return markdown_table(HEADERS, [e.cells for e in rows])


def document(
    rows: list[Entry], catalogue: Catalogue, command: str, runs_name: str, today: str | None = None
) -> str:
    today = today or time.strftime("%Y-%m-%d")
    return "\n".join(
        [
            "# Results ledger",
            "",
            f"Generated by `{command}` from the run store on {today}. Do not edit by hand: regenerate it.",
            "This is the honest state of every reproduction: each headline claim decided by the shared rule",
            '(`replab/track/claims.py`, docs/architecture.md, "Decisions") over every seed the store',
            f"and `{runs_name}` (committed beside this file) hold.",
            "",
            "- **held**: n ≥ 5 seeds and the 95% CI of the paired effect lies beyond the minimum effect",
            "  registered in the experiment's Config before the run; **did not hold**: n ≥ 5 and the CI",
            "  excludes an effect of that size; **inconclusive**: fewer than 5 seeds, a CI that straddles it,",
            "  or the method did not beat its floor (random policy, random encoder, uniform sampler) first.",
            "- **rule**: the effect (mean paired difference or ratio of means), its threshold and the floor;",
            "  **seeds**: seeds per task; **p**: one-sided sign-flip permutation test against the threshold.",
            "- **entry**: experiment, preset, config and rule; a changed config or minimum effect is a new",
            "  entry, and rows of earlier entries stay. The date is the last run's; **runs**: the run ids pooled.",
            "",
            table(rows, catalogue),
            "",
        ]
    )


def write(
    path: Path, store: Store, catalogue: Catalogue, command: str, today: str | None = None
) -> tuple[Path, list[str]]:
    """Write the ledger to `path` and the run records it pooled beside it (`ledger_runs.path_beside`):
    the store's runs pooled with the committed records, and the file's entries neither holds kept."""
    runs_path = ledger_runs.path_beside(path)
    runs = ledger_runs.merged(store_runs(store), ledger_runs.read(runs_path))
    new, notes = pool(runs, catalogue)
    rows, more = merge(new, read_kept(Path(path)))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(document(rows, catalogue, command, runs_path.name, today))
    ledger_runs.write(runs_path, runs)
    return Path(path), notes + more
