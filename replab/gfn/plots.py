"""Figures of the GFlowNet experiments: L1 and modes-found curves (log x), exact-distribution heat maps."""

from __future__ import annotations

import numpy as np

from replab.track.report import Figure

COLORS = {"fm": "C0", "db": "C5", "tb": "C6", "mcmc": "C1", "ppo": "C2", "sac": "C4", "random": "C7"}


def _mean_curve(curves: list[dict], key: str, x: str = "states") -> tuple[np.ndarray, np.ndarray]:
    n = min(len(c[key]) for c in curves)
    return np.asarray(curves[0][x][:n], float), np.mean([c[key][:n] for c in curves], axis=0)


def curve_figures(results: dict, get: dict, labels: dict) -> list[Figure]:
    """Empirical L1 and modes found vs visited terminal states, one panel per R0 (thesis Fig. 5.2)."""
    import matplotlib.pyplot as plt

    cfg = results["config"]
    R0s, methods = cfg["R0s"], cfg["methods"]
    figs = []
    for key, ylabel, logy in (("l1", "empirical L1 to R/Z", True), ("modes", "modes found", False)):
        fig, axes = plt.subplots(1, len(R0s), figsize=(4.2 * len(R0s), 3.4), squeeze=False)
        for ax, R0 in zip(axes[0], R0s):
            for m in methods:
                curves = get[(m, R0)]
                if not curves:
                    continue
                x, y = _mean_curve(curves, key)
                ax.plot(x, y, label=labels[m], color=COLORS.get(m))
            if key == "l1":
                ax.axhline(
                    results["uniform_l1"][f"{R0:g}"], color="k", ls=":", lw=1, label="uniform over cells"
                )
            else:
                # the counted modes (4^n at H = 18); 2^n for runs before the count was stored (H = 8)
                ax.axhline(results.get("n_modes", 2 ** cfg["n"]), color="k", ls=":", lw=1)
            ax.set_xscale("log")
            if logy:
                ax.set_yscale("log")
            ax.set_title(f"R0 = {R0:g}")
            ax.set_xlabel("visited terminal states")
            ax.set_ylabel(ylabel)
        axes[0][0].legend(fontsize=7)
        fig.tight_layout()
        caption = (
            f"{ylabel} vs visited terminal states (log x), mean over {cfg['seeds']} seeds, "
            f"n={cfg['n']}, H={cfg['H']}."
        )
        figs.append(Figure(f"{key}_vs_states", fig, caption))
    return figs


def heatmap_figure(hm: dict) -> Figure:
    """Target p(x) beside the exact learned u_θ(x) on the n=2 grid (thesis Fig. 5.3, left)."""
    import matplotlib.pyplot as plt

    H = hm["H"]
    p, u = np.asarray(hm["p"]).reshape(H, H), np.asarray(hm["u"]).reshape(H, H)
    vmax = max(p.max(), u.max())
    fig, axes = plt.subplots(1, 2, figsize=(7.5, 3.4))
    for ax, (title, z) in zip(axes, (("target p(x) = R(x)/Z", p), ("learned u_θ(x), exact by DP", u))):
        im = ax.imshow(z, vmin=0, vmax=vmax, cmap="viridis", origin="lower")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("k_2")
        ax.set_ylabel("k_1")
    fig.colorbar(im, ax=list(axes), shrink=0.8)
    return Figure("heatmap_n2", fig, f"n=2, H={H}, R0={hm['R0']:g}: exact L1 = {hm['exact_l1']:.3g}.")
