"""Write a quality benchmark out: ``results.md``, ``results.json`` and matplotlib figures.

Every number in the Markdown comes from the ``QualityResult`` it is given, and so do the
verdicts on the paper's claims: each is a comparison of measured numbers, stated with them.
"""

from __future__ import annotations

import math
import platform
from pathlib import Path

import numpy as np
import torch

from ..io import atomic_write, make_grid, write_json, write_text
from ..sampling import DEFAULT_PRESET, PRESETS
from .quality import DIFFUSION_ROWS, METRICS, QualityResult

HEADERS = {
    "accuracy": "accuracy ↑", "fid": "FID ↓", "kid": "KID ↓", "inception_score": "IS ↑",
    "diversity": "diversity (1 = real)", "ms_ssim": "MS-SSIM ↓", "precision": "precision ↑", "recall": "recall ↑",
    "distinct_classes": "classes visited", "switch_rate": "switches followed", "seconds_per_sample": "s / sample",
    "evaluations_per_sample": "network evals / sample",
}
PAPER_PRESETS = ("dgn-am", "ppgn-x", "ppgn-h", "joint-ppgn-h", "noiseless-joint-ppgn-h")  # the paper's variants (Nguyen et al., 2017)
K_NEIGHBOURS = 3  # precision and recall's k (ppgn.evaluation.evaluate.class_precision_recall)


def _fmt(mean: float, std: float, metric: str) -> str:
    if math.isnan(mean):
        return "–"
    if metric == "evaluations_per_sample":  # a count fixed by the settings: the same every seed
        return f"{mean:g}"
    digits = 4 if metric in ("kid",) else 3
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def _row_means(result: QualityResult) -> dict[str, dict[str, float]]:
    return {row.name: {m: row.summary(m)[0] for m in METRICS} for row in result.rows}


def claims(result: QualityResult) -> list[str]:
    """The paper's comparative claims and this project's goals, each checked against the numbers."""
    means, lines = _row_means(result), []

    def verdict(ok: bool) -> str:
        return "**reproduces**" if ok else "**does not reproduce**"

    if "dgn-am" in means:
        dgn = means["dgn-am"]
        for name in ("ppgn-h", "joint-ppgn-h"):
            if name in means:
                m = means[name]
                ok = m["diversity"] > dgn["diversity"] and m["ms_ssim"] < dgn["ms_ssim"]
                lines.append(
                    f"- A learned prior on h gives more diverse samples than DGN-AM ({name}): {verdict(ok)}. "
                    f"Diversity {m['diversity']:.3f} vs {dgn['diversity']:.3f}, MS-SSIM {m['ms_ssim']:.3f} vs "
                    f"{dgn['ms_ssim']:.3f}, at accuracy {m['accuracy']:.3f} vs {dgn['accuracy']:.3f}.")
    if result.ablation:
        low, high = min(c["eps1"] for c in result.ablation), max(c["eps1"] for c in result.ablation)
        pairs = [(a, b) for a in result.ablation for b in result.ablation
                 if a["eps3"] == b["eps3"] and a["eps1"] == low and b["eps1"] == high]
        ok = all(b["diversity"] < a["diversity"] for a, b in pairs)
        detail = "; ".join(f"ε3 = {a['eps3']:g}: {a['diversity']:.3f} → {b['diversity']:.3f}" for a, b in pairs)
        lines.append(f"- Too strong a prior collapses diversity (ε1 {low:g} → {high:g}, "
                     f"{result.config.ablation_preset}): {verdict(ok)}. Diversity {detail}.")
    mixing = {n: m["distinct_classes"] for n, m in means.items() if not math.isnan(m["distinct_classes"])}
    if "joint-ppgn-h" in mixing and "dgn-am" in mixing:
        ok = mixing["joint-ppgn-h"] >= mixing["dgn-am"]
        lines.append(f"- Joint PPGN-h chains move between classes at least as well as DGN-AM's: {verdict(ok)}. "
                     f"Classes visited {mixing['joint-ppgn-h']:.2f} vs {mixing['dgn-am']:.2f} "
                     f"of {result.config.mixing_segments}.")
    if DEFAULT_PRESET in means and "real" in means:
        for goal, ok, value in goals(means[DEFAULT_PRESET], means["real"]):
            lines.append(f"- Goal for the default preset ({DEFAULT_PRESET}), {goal}: "
                         f"{'met' if ok else '**missed**' if ok is not None else 'not measured'} ({value}).")
        beside = [n for n in means if n in PRESETS and n not in PAPER_PRESETS] + [n for n in DIFFUSION_ROWS if n in means]
        for name in beside:  # presets beyond the paper and the modern alternative, beside it, whatever they show
            met = [goal for goal, ok, _ in goals(means[name], means["real"]) if ok]
            lines.append(f"- Beside it, {name} (the same goals): " + "; ".join(value for _, _, value in goals(means[name], means["real"]))
                         + f"; meets {len(met)} of 6" + (f" ({', '.join(met)})" if met else "") + ".")
    return lines


def goals(m: dict[str, float], real: dict[str, float]) -> list[tuple[str, bool | None, str]]:
    """Issue 15's goals for a row's means ``m`` against the real floor's: (goal, met (None: not measured), the numbers)."""
    ratio = m["fid"] / real["fid"]
    recall = m["recall"] / real["recall"] if real["recall"] > 0 else float("nan")
    evals = m["evaluations_per_sample"]

    def check(value: float, ok: bool) -> bool | None:
        return None if math.isnan(value) else bool(ok)

    return [
        ("accuracy ≥ 0.95", check(m["accuracy"], m["accuracy"] >= 0.95), f"accuracy {m['accuracy']:.3f}"),
        ("FID ≤ 3× the real-data floor", check(ratio, ratio <= 3), f"FID {m['fid']:.3f} = {ratio:.1f}× {real['fid']:.3f}"),
        ("diversity ≥ 0.95", check(m["diversity"], m["diversity"] >= 0.95), f"diversity {m['diversity']:.3f}"),
        ("MS-SSIM ≤ real's + 0.02", check(m["ms_ssim"], m["ms_ssim"] <= real["ms_ssim"] + 0.02),
         f"MS-SSIM {m['ms_ssim']:.3f} vs real {real['ms_ssim']:.3f}"),
        ("recall ≥ 0.8 of real's", check(recall, recall >= 0.8), f"recall {m['recall']:.3f} = {recall:.2f}× real {real['recall']:.3f}"),
        ("≤ 200 network evaluations per sample", check(evals, evals <= 200), f"{evals:g} evaluations per sample"),
    ]


def _diffusion_notes(result: QualityResult) -> list[str]:
    """How the diffusion rows were made and sampled, when there are any."""
    c = result.config
    if not any(row.name in DIFFUSION_ROWS for row in result.rows):
        return []
    return [
        "",
        f"`diffusion-guided` and `diffusion-cfg`: the diffusion model in `{c.diffusion}` (a 1.4M-parameter UNet made by "
        "`ppgn train diffusion`; its card's `command` says how), sampled by DDIM in "
        f"{c.diffusion_steps} steps. `diffusion-guided` is its unconditional branch steered by the shipped classifier E/C "
        "through the same `ClassCondition` the PPGN chains climb, read on the denoised estimate x̂0 "
        f"(weight {c.guided_scale:g}, η = {c.guided_eta:g}); each step also backpropagates through the UNet, as a PPGN "
        f"step does through G. `diffusion-cfg` is classifier-free guidance by its own labels (w = {c.cfg_scale:g}, "
        f"η = {c.cfg_eta:g}). Both settings were picked on seed 7, apart from the seeds reported.",
    ]


def _missing_notes(result: QualityResult) -> list[str]:
    """Say why a column is blank where a metric could not be computed (never a silent blank)."""
    c = result.config
    if c.per_class <= K_NEIGHBOURS:
        return ["", f"Precision and recall are blank (–): they need more than k = {K_NEIGHBOURS} samples per class, "
                    f"and this run has {c.per_class}."]  # fmt: skip
    return []


def markdown(result: QualityResult, command: str) -> str:
    c = result.config
    out = [
        "# Measured results",
        "",
        f"Written by `{command}` on {platform.machine()} with torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads. Rows: {len(c.seeds)} seeds ({', '.join(map(str, c.seeds))}) × "
        f"{c.per_class} samples per class; mean ± std over seeds. Chains: "
        f"{'each preset’s own length' if c.steps is None else f'{c.steps} steps'}. Scored by the independent "
        "evaluator (never used while sampling) against 10k real test images.",
        "",
        "| row | " + " | ".join(HEADERS[m] for m in METRICS) + " |",
        "|---|" + "---|" * len(METRICS),
    ]
    for row in result.rows:
        out.append(f"| {row.name} | " + " | ".join(_fmt(*row.summary(m), m) for m in METRICS) + " |")
    loads = [s.get("load_per_core", float("nan")) for row in result.rows for s in row.per_seed]
    out += [
        "",
        f"Machine load while rows ran (1-minute load average per core): {np.nanmin(loads):.1f} to {np.nanmax(loads):.1f}; "
        "above 1, other processes shared the cores and `s / sample` overstates the time on an idle machine.",
        "",
        "`real`: real train images scored like samples (the floor). `reconstruction`: G(E(x)) of the same "
        "images, the best this generator does when handed a real code. `classes visited`: distinct classes "
        f"(per the evaluator) one chain ends {c.mixing_segments} segments of {c.mixing_steps} steps in, the asked "
        f"class switching each segment ({c.mixing_chains} chains); `switches followed`: how often it ends in the "
        "asked class. `precision` / `recall`: improved precision and recall (Kynkäänniemi et al., 2019) in "
        f"evaluator features, k = {K_NEIGHBOURS}, per class against as many real test images of the class, averaged "
        "over classes: the share of samples inside the real images' manifold (fidelity), and of real images inside the "
        "samples' (coverage); the `real` row is the floor for the sample size. `network evals / sample`: forward passes "
        "of the generating network (G once per chain step; the UNet once per DDIM step, twice with classifier-free "
        "guidance; the cINN once).",
        *_diffusion_notes(result),
        *_missing_notes(result),
        "",
        "## The paper's claims and this project's goals, checked",
        "",
        *claims(result),
    ]
    if result.ablation:
        eps1s = sorted({cell["eps1"] for cell in result.ablation})
        eps3s = sorted({cell["eps3"] for cell in result.ablation})
        cell = {(a["eps1"], a["eps3"]): a for a in result.ablation}
        out += [
            "",
            f"## ε1 × ε3 ablation ({c.ablation_preset}, seed {c.seeds[0]}, {c.ablation_per_class} per class)",
            "",
            "Each cell: accuracy / diversity / FID / MS-SSIM.",
            "",
            "| ε1 \\ ε3 | " + " | ".join(f"{e:g}" for e in eps3s) + " |",
            "|---|" + "---|" * len(eps3s),
        ]
        for e1 in eps1s:
            out.append(f"| {e1:g} | " + " | ".join(
                f"{cell[e1, e3]['accuracy']:.3f} / {cell[e1, e3]['diversity']:.3f} / {cell[e1, e3]['fid']:.3f} / "
                f"{cell[e1, e3]['ms_ssim']:.3f}" for e3 in eps3s) + " |")
    out += [
        "",
        "## Figures",
        "",
        "![samples per row](figures/samples.png)",
        "",
        "![diversity against accuracy](figures/diversity-accuracy.png)",
        "",
        "![class switching](figures/mixing.png)",
        "",
    ]
    if result.ablation:
        out += ["![ablation](figures/ablation.png)", ""]
    return "\n".join(out)


def _panel(ax, images: np.ndarray, columns: int, title: str) -> None:
    grid = np.asarray(make_grid(images, columns, scale=1))
    ax.imshow(grid, cmap="gray", vmin=0, vmax=255)
    ax.set_title(title, fontsize=8)
    ax.axis("off")


def _per_class_rows(images: np.ndarray, labels: np.ndarray, per_class: int) -> np.ndarray:
    """The first ``per_class`` images of each class, class after class (a grid with a row per class)."""
    return np.concatenate([images[labels == k][:per_class] for k in np.unique(labels)])


def figures(result: QualityResult, folder: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    paths, means = [], _row_means(result)
    shown = min(8, result.config.per_class)

    fig, axes = plt.subplots(1, len(result.rows), figsize=(2.2 * len(result.rows), 2.8))
    for ax, row in zip(np.atleast_1d(axes), result.rows):
        m = means[row.name]
        _panel(ax, _per_class_rows(row.grid, row.grid_labels, shown), shown,
               f"{row.name}\nacc {m['accuracy']:.2f}  FID {m['fid']:.2f}")
    paths.append(_save(fig, folder / "samples.png"))

    fig, ax = plt.subplots(figsize=(5, 4))
    for row in result.rows:
        (acc, acc_sd), (div, div_sd) = row.summary("accuracy"), row.summary("diversity")
        ax.errorbar(acc, div, xerr=acc_sd, yerr=div_sd, fmt="o", capsize=3, label=row.name)
    for cell in result.ablation:
        ax.plot(cell["accuracy"], cell["diversity"], "x", color="gray", alpha=0.6)
    ax.axhline(1.0, color="gray", lw=0.5, ls="--")
    ax.set_xlabel("evaluator accuracy on the asked class")
    ax.set_ylabel("diversity (within-class spread / real)")
    ax.set_title("diversity vs accuracy (× = ε1 × ε3 grid)", fontsize=9)
    ax.legend(fontsize=7)
    paths.append(_save(fig, folder / "diversity-accuracy.png"))

    mixed = [row for row in result.rows if row.mixing_images is not None]
    if mixed:
        fig, axes = plt.subplots(1, len(mixed), figsize=(2.2 * len(mixed), 2.8))
        for ax, row in zip(np.atleast_1d(axes), mixed):
            chains = row.mixing_images[:6]
            _panel(ax, chains.reshape(-1, *chains.shape[2:]), chains.shape[1],
                   f"{row.name}\n{means[row.name]['distinct_classes']:.2f} classes visited")
        paths.append(_save(fig, folder / "mixing.png"))

    if result.ablation:
        eps1s = sorted({c["eps1"] for c in result.ablation})
        eps3s = sorted({c["eps3"] for c in result.ablation})
        fig, axes = plt.subplots(len(eps1s), len(eps3s), figsize=(2.4 * len(eps3s), 2.6 * len(eps1s)), squeeze=False)
        for cell in result.ablation:
            ax = axes[eps1s.index(cell["eps1"]), eps3s.index(cell["eps3"])]
            per = min(4, result.config.ablation_per_class)
            _panel(ax, _per_class_rows(cell["images"], cell["labels"], per), per,
                   f"ε1={cell['eps1']:g} ε3={cell['eps3']:g}\nacc {cell['accuracy']:.2f} div {cell['diversity']:.2f}")
        paths.append(_save(fig, folder / "ablation.png"))
    return paths


def _save(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=120, format="png"))
    plt.close(fig)
    return path


def write_report(result: QualityResult, folder: str | Path, command: str) -> list[Path]:
    """``results.md``, ``results.json`` and ``figures/*.png`` in ``folder``; returns the paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = figures(result, folder / "figures")
    write_json(folder / "results.json", result.as_json(), default=float)
    md = markdown(result, command)
    write_text(folder / "results.md", md)
    return [folder / "results.md", folder / "results.json", *paths]
