"""The report of `td-interference`: a pure function of its results (`replab report RUN_ID` rebuilds it).

Results without `config["task"]` (the runs before the masked-digits variant) are the digits chain; units
without `rho_prime` (the same runs) simply have no ρ′ rows."""

from __future__ import annotations

import numpy as np

from replab.experiments.bootstrapping._td_interference_trends import pearson, trends_section
from replab.track.claims import one_sample, paired
from replab.track.report import Check, Figure, Report, markdown_table

PAPER = "Fig 3.4: SL r(log ρ̄, gap) > 0 and DDQN r < 0 at sufficient data; regression weaker (Fig 3.5)"
PAPER_RHO = "Fig 3.17: r₁, r₂ mostly positive in regression; in TD a much larger negative share, above all r₂"
LABELS = {
    "chain": {"regression": "regression", "td": "TD(0)", "td_lambda": "TD(λ)"},
    "masked-digits": {"regression": "SL (cross-entropy)", "td": "DDQN", "reinforce": "REINFORCE"},
}


def _units(res, method, n, seed, cfg):
    keys = [f"{method}/n{n}/h{w}L{d}/s{seed}" for w in cfg["widths"] for d in cfg["depths"]]
    return [res[k] for k in keys if k in res]


def per_seed_r(res, cfg, method) -> dict[int, float]:
    """{seed: mean over n_T of r(log ρ̄, gap) across capacities} (ρ̄ ≤ 0 has no log and is dropped)."""
    out = {}
    for s in range(int(cfg["seeds"])):
        rs = []
        for n in cfg["n_train"]:
            units = _units(res, method, n, s, cfg)
            logs = [np.log(u["rho"]) if u["rho"] > 0 else np.nan for u in units]
            rs.append(pearson(logs, [u["gap"] for u in units]))
        rs = [r for r in rs if np.isfinite(r)]
        if rs:
            out[s] = float(np.mean(rs))
    return out


def per_seed_rho(res, cfg, method, stat: str) -> dict[int, float]:
    """{seed: mean over n_T and capacities of a ρ′ statistic (e.g. `r2_pos`)}, where measured."""
    out = {}
    for s in range(int(cfg["seeds"])):
        units = [u for n in cfg["n_train"] for u in _units(res, method, n, s, cfg) if _has(u, stat)]
        vals = [u["rho_prime"][stat] for u in units if np.isfinite(u["rho_prime"][stat])]
        if vals:
            out[s] = float(np.mean(vals))
    return out


def _has(u, stat):
    return stat in (u.get("rho_prime") or {})


def report(results: dict) -> Report:
    cfg, res = results["config"], results["results"]
    task = cfg.get("task", "chain")
    methods, label = list(cfg["methods"]), LABELS[task]
    rep = Report(title=f"Function interference and the generalization gap ({task})")
    rep.sections.append(("Gap, interference and their correlation", _gap_section(cfg, res, methods, task)))
    rho_rows = _rho_rows(cfg, res, methods, label)
    if rho_rows:
        rep.sections.append(
            (
                "The evolution of interference ρ′ (eq. 3.25–3.26, 3.40)",
                f"Measured once, after {cfg.get('rho_at', 0.1):g} of training, on {cfg.get('rho_pairs', 32)}² "
                "pairs (A, B) of training samples (A ≠ B): ρ′ = −r₁ − r₂ − r₃; 'pos' is the share of pairs "
                "where the term is > 0. Targets held fixed (the regression target, or the EMA target network's "
                "bootstrap: the frozen form, whose γ terms vanish). "
                + (
                    "The SL twin's cross-entropy has no r₁–r₃ split: its ρ′ is eq. 3.40 by autodiff"
                    + (" (REINFORCE's −G log π(a|s) likewise). " if "reinforce" in methods else ". ")
                    if task != "chain"
                    else ""
                )
                + f"The thesis: {PAPER_RHO}.\n\n"
                + markdown_table(
                    [
                        "method",
                        "r₁ mean",
                        "r₁ pos",
                        "r₂ mean",
                        "r₂ pos",
                        "r₃ mean",
                        "r₃ pos",
                        "ρ′ mean",
                        "ρ′ pos",
                    ],
                    rho_rows,
                ),
            )
        )
    trends = trends_section(cfg, res, methods, label)
    if trends:
        rep.sections.append(("Pooled over n_T (Fig 3.5) and the capacity trend (Fig 3.16)", trends))
    if task == "chain":
        _chain_claims(rep, cfg, res, methods)
    else:
        _masked_claims(rep, cfg, res, methods)
    for method in methods:
        rs = per_seed_r(res, cfg, method)
        if rs:
            rep.summary[f"{method}/r"] = float(np.mean(list(rs.values())))
    rep.figures.append(_figure(res, methods, label, task))
    if rho_rows:
        rep.figures.append(_rho_figure(cfg, res, methods, label))
    return rep


def _gap_section(cfg, res, methods, task) -> str:
    chain, rows = task == "chain", []
    a, b = ("train_mse", "test_mse") if chain else ("train_acc", "test_acc")
    for method in methods:
        for n in cfg["n_train"]:
            units = [u for s in range(int(cfg["seeds"])) for u in _units(res, method, n, s, cfg)]
            if not units:
                continue
            rs = list(per_seed_r(res, cfg | {"n_train": [n]}, method).values())
            r = f"{np.mean(rs):+.3f} (n={len(rs)})" if rs else "–"
            rows.append(
                [LABELS[task][method], n, *(np.mean([u[k] for u in units]) for k in (a, b, "gap", "rho")), r]
            )
    if chain:
        head = (
            f"The digits chain: {cfg['steps']} Adam steps (batch {cfg['batch']}, lr {cfg['lr']}), γ = {cfg['gamma']}, "
            f"TD target EMA τ = {cfg['tau']}"
            + (f", TD(λ) λ = {cfg['lam']}" if "td_lambda" in methods else "")
            + ". MSE to the true V; gap = test − train MSE; ρ̄ = mean pairwise ∇V(s)ᵀ∇V(s′) on training states"
        )
        cols = ["method", "n_T", "train MSE", "test MSE", "gap", "ρ̄", "r"]
    else:
        head = (
            f"The masked-digits MDP (§S2.6a): DDQN for {cfg['env_steps']} env steps ({cfg['envs']} episodes side by "
            f"side), the SL twin for as many updates (batch {cfg['masked_batch']}, Adam {cfg['masked_lr']}), γ = "
            f"{cfg['gamma']}, EMA τ = {cfg['tau']}. Accuracy: greedy episodes ending on the right class (DDQN), "
            "argmax on the full image (SL); gap = train − test accuracy; ρ̄: f = max over the 14 Q outputs "
            f"(DDQN), {cfg.get('sl_output', 'max_logit')} (SL)"
            + (
                "; REINFORCE (eq. 3.15, no baseline; descriptive, no claim) for as many env steps, one update per "
                f">= {cfg['masked_batch']} steps of finished episodes, greedy accuracy and ρ̄ (f = max of its 14 "
                "logits) as DDQN's"
                if "reinforce" in methods
                else ""
            )
        )
        cols = ["method", "n_T", "train acc", "test acc", "gap", "ρ̄", "r"]
    return (
        f"{head}; capacities n_h ∈ {list(cfg['widths'])} × n_L ∈ {list(cfg['depths'])}. r = Pearson r(log ρ̄, "
        "gap) across capacities, per seed and n_T, mean over seeds.\n\n" + markdown_table(cols, rows)
    )


def _rho_rows(cfg, res, methods, label):
    rows = []
    for method in methods:
        units = [u for k, u in res.items() if k.startswith(f"{method}/") and _has(u, "rho_prime_mean")]
        if units:
            cells = []
            for t in ("r1", "r2", "r3", "rho_prime"):
                for s in ("mean", "pos"):
                    vals = [u["rho_prime"][f"{t}_{s}"] for u in units if _has(u, f"{t}_{s}")]
                    cells.append(np.mean(vals) if vals else "–")
            rows.append([label[method], *cells])
    return rows


def _rule_text(rep, text):
    rep.sections.append(
        (
            "The rule",
            text + " Each claim needs its 95% CI (bootstrap) beyond the threshold and the sign-flip test at "
            "p ≤ 0.05 over at least 5 seeds; ties never win.",
        )
    )


def _chain_claims(rep, cfg, res, methods):
    m = float(cfg["min_effect"])
    _rule_text(
        rep,
        f"Headline: the regression arm's per-seed r (averaged over n_T) must exceed 0 by the registered minimum "
        f"effect {m:g}. Secondary: regression r > TD r, paired by seed; the share of pairs with r₂ > 0 larger for "
        f"regression than for TD(0) by {cfg.get('rho_min_effect', 0.1):g} (registered; Fig 3.17), decided only once "
        "both arms' test MSE is below the constant predictor's (the training mean of V; floor guard, the shared "
        f"rule). The thesis: {PAPER}.",
    )
    reg = per_seed_r(res, cfg, "regression") if "regression" in methods else {}
    name = "r(log ρ̄, gap) > 0 for regression"
    if not reg:
        rep.checks.append(Check(name, None, "needs finished regression runs with a defined correlation"))
    else:
        d = one_sample(reg, 0.0, min_effect=m, name=name, key="claim", label="r_regression", paper=PAPER)
        rep.checks.append(d.check(headline=True))
        rep.summary.update(d.summary())
    td = per_seed_r(res, cfg, "td") if "td" in methods else {}
    _paired(rep, reg, td, 0.0, "r(regression) > r(TD)", "td", "regression", "td")
    a, b = (per_seed_rho(res, cfg, k, "r2_pos") if k in methods else {} for k in ("regression", "td"))
    name = "share of r₂ > 0: regression > TD(0)"
    if not (set(a) & set(b)):
        return
    guard = _constant_floor(rep, res, cfg, methods)
    if guard:  # an arm that does not beat the constant predictor has learned nothing whose ρ′ signs mean much
        reason = f"not decided: the floor guard did not hold ({guard})"
        rep.checks.append(Check(name, None, reason, rule="paired, floor-guarded (track/claims.py)"))
        return
    _paired(rep, a, b, float(cfg.get("rho_min_effect", 0.1)), name, "rho2", "regression", "td", PAPER_RHO)
    if guard is None:  # results from before the constant predictor's test MSE was stored
        d_check = rep.checks[-1]
        d_check.measured = (
            "no floor guard: these results carry no constant-predictor test MSE (runs before it was stored); "
            + d_check.measured
        )


def _constant_floor(rep, res, cfg, methods) -> str | None:
    """The ρ′ claim's floor guard: per seed, each of regression and TD(0)'s test MSE (mean over n_T and
    capacities) must be below the constant predictor's (the training mean of V, on the test digits), by the
    shared rule (direction "less", min_effect 0). Returns "" when both held, a reason when not, None when
    the results carry no `const_test_mse` (no guard possible)."""
    failed = []
    for method in ("regression", "td"):
        arm, const = {}, {}
        for s in range(int(cfg["seeds"])):
            units = [u for n in cfg["n_train"] for u in _units(res, method, n, s, cfg)]
            if units and all("const_test_mse" in u for u in units):
                arm[s] = float(np.mean([u["test_mse"] for u in units]))
                const[s] = float(np.mean([u["const_test_mse"] for u in units]))
        if not arm:
            return None
        d = paired(
            arm,
            const,
            min_effect=0.0,
            direction="less",
            name=f"floor: {LABELS['chain'][method]} test MSE < the constant predictor's",
            key=f"floor_{method}",
            a_label=method,
            b_label="constant",
        )
        rep.checks.append(d.check(headline=False))
        if d.verdict != "held":
            failed.append(f"{LABELS['chain'][method]}: {d.verdict}")
    return "; ".join(failed)


def _paired(rep, a, b, min_effect, name, key, a_label, b_label, paper="", floor=None, headline=False):
    common = sorted(set(a) & set(b))
    if not common:
        if headline:
            rep.checks.append(Check(name, None, "needs finished runs of both arms with a defined value"))
        return None
    kw = {"floor": floor, "floor_label": "r = 0"} if floor is not None else {}
    d = paired(
        {s: a[s] for s in common},
        {s: b[s] for s in common},
        min_effect=min_effect,
        name=name,
        key=key,
        a_label=a_label,
        b_label=b_label,
        paper=paper,
        **kw,
    )
    rep.checks.append(d.check(headline=headline))
    if headline:
        rep.summary.update(d.summary())
    return d


def _masked_claims(rep, cfg, res, methods):
    m, cmin = float(cfg["masked_min_effect"]), int(cfg["claim_min_train"])
    # registered 2026-12-05 (Config fields); results from before they were fields used these values
    m_dq, m_acc = float(cfg.get("ddqn_min_effect", 0.0)), float(cfg.get("learned_min_effect", 0.1))
    big = cfg | {"n_train": [n for n in cfg["n_train"] if n >= cmin]}
    _rule_text(
        rep,
        f"Headline: per seed, r(log ρ̄, gap) averaged over n_T ≥ {cmin} ({list(big['n_train'])}): SL − DDQN > "
        f"{m:g} (registered), with the floor guard SL r > 0 (SL must correlate positively at all). Secondary: "
        f"DDQN r < 0 by {m_dq:g}; DDQN's training accuracy above chance (0.1) by {m_acc:g} (it learned the task; "
        f"both registered). The thesis: {PAPER}.",
    )
    sl = per_seed_r(res, big, "regression") if "regression" in methods else {}
    dq = per_seed_r(res, big, "td") if "td" in methods else {}
    name = "r(log ρ̄, gap): SL > DDQN (masked digits)"
    _paired(rep, sl, dq, m, name, "claim", "SL", "DDQN", PAPER, floor=0.0, headline=True)
    if dq:
        d = one_sample(
            dq,
            0.0,
            min_effect=m_dq,
            direction="less",
            name="r(log ρ̄, gap) < 0 for DDQN",
            key="ddqn",
            label="r_DDQN",
        )
        rep.checks.append(d.check(headline=False))
    acc = {}
    for s in range(int(cfg["seeds"])):
        vals = [u["train_acc"] for n in cfg["n_train"] for u in _units(res, "td", n, s, cfg)]
        if vals:
            acc[s] = float(np.mean(vals))
    if acc:
        d = one_sample(
            acc,
            0.1,
            min_effect=m_acc,
            name="DDQN training accuracy > chance",
            key="learned",
            label="acc_DDQN",
        )
        rep.checks.append(d.check(headline=False))


def _figure(res, methods, label, task) -> Figure:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.0, 3.8))
    for method in methods:
        pts = [(u["rho"], u["gap"]) for k, u in res.items() if k.startswith(f"{method}/") and u["rho"] > 0]
        if pts:
            ax.scatter(*zip(*pts), s=12, label=label[method], alpha=0.7)
    ax.set_xscale("log")
    ax.set_xlabel("ρ̄ (mean pairwise function interference)")
    ax.set_ylabel("gap (test − train MSE)" if task == "chain" else "gap (train − test accuracy)")
    ax.legend(fontsize=8)
    ax.set_title("Interference vs generalization gap")
    return Figure("gap", fig, "One point per network (method, n_T, capacity, seed).")


def _rho_figure(cfg, res, methods, label) -> Figure:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.0, 3.4))
    terms = ("r1", "r2", "r3", "rho_prime")
    width = 0.8 / max(1, len(methods))
    for i, method in enumerate(methods):
        units = [u for k, u in res.items() if k.startswith(f"{method}/")]
        ys = [
            np.mean([u["rho_prime"][f"{t}_pos"] for u in units if _has(u, f"{t}_pos")] or [np.nan])
            for t in terms
        ]
        ax.bar(np.arange(len(terms)) + i * width, ys, width, label=label[method])
    ax.axhline(0.5, color="grey", lw=0.5)
    ax.set_xticks(np.arange(len(terms)) + 0.4 - width / 2, ["r₁", "r₂", "r₃", "ρ′"])
    ax.set_ylabel("share of pairs > 0")
    ax.legend(fontsize=8)
    ax.set_title("Signs of the ρ′ terms (Fig 3.17)")
    return Figure("rho_prime", fig, "Share of sample pairs where each term is positive, mean over networks.")
