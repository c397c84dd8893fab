"""The clonex report: Continual World metrics per method (performance, forgetting, forward transfer, AUC),
success curves over the sequence, best-return head choices, and the three claims by the shared rule.
A pure function of the results."""

from __future__ import annotations

import numpy as np

from replab.continual.cw_metrics import cw_summary
from replab.track.claims import paired
from replab.track.report import Check, Figure, Report, markdown_table, pyplot

PAPER = {
    "claim": "actor BC gives near-zero forgetting (ClonEx-SAC: 87% final success vs PackNet 80%, CW)",
    "critic_ft": "regularising the critic harms transfer (seed002 §9.2 study axes [K])",
    "best_return": "best-return exploration raises forward transfer (0.54 with ClonEx vs 0.18, CW)",
}


def metrics(results: dict) -> tuple[dict, dict]:
    """({method: {seed: cw_summary}}, {seed: random success per task}) of the finished jobs."""
    cfg, done = results["config"], list(results["done"].values())
    d = int(cfg["task_steps"])
    refs: dict = {}
    for r in done:
        if r["method"] == "reference":
            c = r["curve"]
            refs.setdefault(r["seed"], {})[r["task"]] = (c["steps"], [s[0] for s in c["success"]])
    out: dict = {}
    floor: dict = {}
    n = len(cfg["task_names"])
    for r in done:
        if r.get("random_success") is not None:
            floor[r["seed"]] = r["random_success"]
        if r["method"] == "reference":
            continue
        ref = refs.get(r["seed"], {})
        reference = [ref[i] for i in range(n)] if len(ref) == n else None
        c = r["curve"]
        try:
            s = cw_summary(c["steps"], c["success"], d, reference, window=1)
        except ValueError as exc:  # a reference AUC of 1: FT_i's normaliser 1 − AUC_i^b is 0, FT undefined
            if "FT is undefined" not in str(exc):
                raise  # any other bad curve is an error, not an undefined forward transfer
            s = cw_summary(c["steps"], c["success"], d, None, window=1) | {"ft_undefined": True}
        out.setdefault(r["method"], {})[r["seed"]] = s | {"chosen": r.get("chosen_heads", [])}
    return out, floor


def _figures(results: dict, m: dict) -> list[Figure]:
    plt = pyplot()
    cfg = results["config"]
    names, d = cfg["task_names"], int(cfg["task_steps"])
    seqs = [r for r in results["done"].values() if r["method"] != "reference"]
    fig, axes = plt.subplots(1, len(names), figsize=(3.6 * len(names), 3.0), squeeze=False)
    for j, name in enumerate(names):
        ax = axes[0][j]
        for method in m:
            runs = [r for r in seqs if r["method"] == method]
            steps = np.array(runs[0]["curve"]["steps"])
            y = np.mean([[s[j] for s in r["curve"]["success"]] for r in runs], 0)
            ax.plot(steps, y, label=method)
        for k in range(1, len(names)):
            ax.axvline(k * d, color="k", lw=0.5, ls=":")
        ax.axvspan(j * d, (j + 1) * d, color="grey", alpha=0.12)
        ax.set_title(f"{name} (shaded: its training)")
        ax.set_ylim(-0.05, 1.05)
        ax.set_xlabel("environment steps")
    axes[0][0].set_ylabel("success rate")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    f1 = Figure("success_curves", fig, "success rate of each task over the sequence, mean over seeds")
    keys = [
        ("performance", "average performance"),
        ("forgetting", "forgetting"),
        ("forward_transfer", "forward transfer"),
    ]
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.0))
    for ax, (k, label) in zip(axes, keys):
        methods = [x for x in m if all(k in s for s in m[x].values())]
        for i, x in enumerate(methods):
            vals = [s[k] for s in m[x].values()]
            ax.bar(i, np.mean(vals), color=f"C{i}")
            ax.plot([i] * len(vals), vals, "k.", ms=4)
        ax.set_xticks(range(len(methods)), methods, rotation=20, fontsize=7)
        ax.set_title(label)
    fig.tight_layout()
    return [f1, Figure("cw_metrics", fig, "Continual World metrics per method (bars: mean; dots: seeds)")]


def decisions(results: dict, m: dict, floor: dict) -> list:
    cfg = results["config"]
    out = []
    cut = float(cfg["forgetting_cut"])
    if "actor_bc" in m and "finetune" in m:
        seeds = sorted(set(m["actor_bc"]) & set(m["finetune"]))
        if all(s in floor for s in seeds):
            # the forgetting claim's floor: an actor that never learns forgets nothing, so actor-BC must
            # first perform above the random policy (average CW performance vs its mean success)
            out.append(paired(
                {s: m["actor_bc"][s]["performance"] for s in seeds},
                {s: float(np.mean(floor[s])) for s in seeds},
                min_effect=0.0, direction="greater",
                name="actor-BC learns: its average performance above the random policy's (the forgetting claim's floor)",
                key="claim_floor", a_label="actor_bc", b_label="random policy", paper=PAPER["claim"],
            ))  # fmt: skip
        out.append(paired(
            {s: m["actor_bc"][s]["forgetting"] for s in seeds},
            {s: (1 - cut) * m["finetune"][s]["forgetting"] for s in seeds},
            min_effect=0.0, direction="less",
            name=f"actor-BC's forgetting below (1 − {cut:g}) × fine-tuning's (BC removes most forgetting)",
            key="claim", a_label="actor_bc", b_label=f"{1 - cut:g} × finetune", paper=PAPER["claim"],
        ))  # fmt: skip
    has_ft = all("forward_transfer" in s for x in m.values() for s in x.values())
    if not has_ft:
        out.append(Check("forward transfer defined", None, "a reference run reached success 1 over its whole "
                         "training (AUC^b = 1): FT is undefined; raise success_return or shorten task_steps"))  # fmt: skip
    if has_ft and "bc_critic_reg" in m and "actor_bc" in m:
        seeds = sorted(set(m["actor_bc"]) & set(m["bc_critic_reg"]))
        out.append(paired(
            {s: m["bc_critic_reg"][s]["forward_transfer"] for s in seeds},
            {s: m["actor_bc"][s]["forward_transfer"] for s in seeds},
            min_effect=float(cfg["ft_drop"]), direction="less",
            name="critic regularisation lowers forward transfer (BC + critic reg vs actor-BC)",
            key="critic_ft", a_label="bc_critic_reg", b_label="actor_bc", paper=PAPER["critic_ft"],
        ))  # fmt: skip
    if has_ft and "clonex" in m and "actor_bc" in m:
        rel = [int(i) for i in cfg["related_tasks"]]
        seeds = sorted(set(m["actor_bc"]) & set(m["clonex"]))
        units = [(s, i) for s in seeds for i in rel]
        fl = {(s, i): floor[s][i] for s, i in units} if all(s in floor for s in seeds) else None
        out.append(paired(
            {(s, i): m["clonex"][s]["auc"][i] for s, i in units},
            {(s, i): m["actor_bc"][s]["auc"][i] for s, i in units},
            min_effect=float(cfg["auc_gain"]), direction="greater", floor=fl,
            name="best-return exploration raises the AUC on related tasks (ClonEx vs actor-BC)",
            key="best_return", a_label="clonex", b_label="actor_bc", floor_label="random policy",
            paper=PAPER["best_return"],
        ))  # fmt: skip
    return out


def report(results: dict) -> Report:
    cfg = results["config"]
    rep = Report("")
    m, floor = metrics(results)
    if not m:
        rep.checks.append(Check("jobs finished", None, "no sequence finished"))
        return rep
    rep.checks += [
        d if isinstance(d, Check) else d.check(headline=True) for d in decisions(results, m, floor)
    ]
    rep.figures += _figures(results, m)
    names = cfg["task_names"]
    rows = []
    for x, by_seed in m.items():
        ss = list(by_seed.values())
        row = [x, len(ss), np.mean([s["performance"] for s in ss]), np.mean([s["forgetting"] for s in ss])]
        row.append(
            np.mean([s["forward_transfer"] for s in ss]) if "forward_transfer" in ss[0] else float("nan")
        )
        row += [
            np.mean([s["auc"][i] for s in ss]) if "auc" in ss[0] else float("nan") for i in range(len(names))
        ]
        rows.append(row)
        for k, v in zip(("performance", "forgetting", "forward_transfer"), row[2:5]):
            rep.summary[f"{x}/{k}"] = float(v)
    rep.sections.append(("Continual World metrics (mean over seeds)", markdown_table(
        ["method", "seeds", "performance", "forgetting", "forward transfer"] + [f"AUC {n}" for n in names], rows)
        + "\n\nPerformance: mean final success over tasks; forgetting F_i = p_i(iΔ) − p_i(T) averaged over tasks; "
        "FT_i = (AUC_i − AUC_i^b)/(1 − AUC_i^b) with AUC^b from single-task reference runs of the same seed "
        "(CW §4, `replab.continual.cw_metrics`). Success: episode return above "
        f"{cfg['success_return']:g}."))  # fmt: skip
    if "clonex" in m:
        chosen = [[s, ", ".join(str(h) for h in v["chosen"])] for s, v in m["clonex"].items()]
        rep.sections.append(("Best-return exploration: the head copied into tasks 2 … N, per seed", markdown_table(
            ["seed", "heads chosen"], chosen)))  # fmt: skip
    if floor:
        rand = np.mean(list(floor.values()), 0)
        rep.sections.append(("Floor: uniform random policy", markdown_table(
            ["task", "success rate"], [[n, float(v)] for n, v in zip(names, rand)])))  # fmt: skip
    return rep
