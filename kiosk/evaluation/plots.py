"""ROC, DET and score histograms for `kiosk eval` and the calibration window.

Error rates of 0 are real results ("0 of 520 impostor pairs matched"), so the axes are
symmetric-log with a linear stretch of one error near zero: a rate of 0 is drawn at 0
and labelled "0 of N" instead of being clamped to an invented floor that reads as a
measured rate.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from kiosk.evaluation.evaluation import (
    EvalResult,
    equal_error_rate,
    error_rates,
    operating_thresholds,
)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _zero_axis(ax, axis: str, n: int) -> None:
    """Symlog scale whose linear part spans one error in `n`; the 0 tick says 'of N'."""
    linthresh = 1.0 / max(n, 1)
    getattr(ax, f"set_{axis}scale")("symlog", linthresh=linthresh, linscale=0.5)
    getattr(ax, f"set_{axis}lim")(0, 1.0)
    ticks = [0.0] + [10.0**e for e in range(-6, 1) if 10.0**e >= linthresh]
    labels = [f"0 of {n}"] + [f"{t:g}" for t in ticks[1:]]
    getattr(ax, f"set_{axis}ticks")(ticks, labels)


def plot_roc_det(result: EvalResult, path: Path, title: str, marks: Iterable[float] = ()) -> None:
    """ROC (TMR against FMR) and DET (FNMR against FMR), with the EER point and each
    threshold in `marks` annotated with its rates."""
    plt = _pyplot()
    g, i = result.genuine, result.impostor
    t = operating_thresholds(g, i)
    fmr, fnmr = error_rates(g, i, t)
    eer, eer_t = equal_error_rate(g, i)
    fig, (ax_roc, ax_det) = plt.subplots(1, 2, figsize=(12, 5))
    ax_roc.step(fmr, 1 - fnmr, where="post", lw=2)
    _zero_axis(ax_roc, "x", len(i))
    ax_roc.set_ylim(min(0.9, float((1 - fnmr[fmr > 0]).min(initial=1.0))) - 0.01, 1.005)
    ax_roc.set_xlabel(f"FMR (false match rate, {len(i)} impostor pairs)")
    ax_roc.set_ylabel(f"TMR = 1 − FNMR ({len(g)} genuine pairs)")
    ax_roc.set_title("ROC")
    ax_det.step(fmr, fnmr, where="post", lw=2)
    _zero_axis(ax_det, "x", len(i))
    _zero_axis(ax_det, "y", len(g))
    ax_det.set_xlabel(f"FMR ({len(i)} impostor pairs)")
    ax_det.set_ylabel(f"FNMR ({len(g)} genuine pairs)")
    ax_det.set_title("DET")
    ax_det.plot([eer], [eer], "s", color="black", label=f"EER {eer:.2%} at {eer_t:.3f}")
    ax_roc.plot([eer], [1 - eer], "s", color="black")
    for th in marks:
        f, n = error_rates(g, i, np.array([th]))
        label = (
            f"threshold {th:.3f}: FMR {round(f[0] * len(i))} of {len(i)}, "
            f"FNMR {round(n[0] * len(g))} of {len(g)}"
        )
        ax_det.plot([f[0]], [n[0]], "o", ms=8, label=label)
        ax_roc.plot([f[0]], [1 - n[0]], "o", ms=8)
    for ax in (ax_roc, ax_det):
        ax.grid(True, which="both", alpha=0.3)
    ax_det.legend(loc="best", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_score_histograms(
    result: EvalResult, path: Path, title: str, thresholds: Iterable[tuple[str, float]] = ()
) -> None:
    """Genuine and impostor similarity histograms on one axis, each threshold a line."""
    plt = _pyplot()
    g, i = result.genuine, result.impostor
    lo = float(min(g.min(initial=1.0), i.min(initial=1.0), 0.0))
    bins = np.linspace(lo, 1.0, 61)
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.hist(i, bins=bins, alpha=0.6, label=f"different people ({len(i)})", density=True)
    ax.hist(g, bins=bins, alpha=0.6, label=f"same person ({len(g)})", density=True)
    for name, th in thresholds:
        ax.axvline(th, color="black", ls="--", lw=1)
        ax.annotate(
            f"{name} {th:.3f}",
            (th, ax.get_ylim()[1] * 0.9),
            rotation=90,
            ha="right",
            va="top",
            fontsize=8,
        )
    ax.set_xlabel("cosine similarity")
    ax.set_ylabel("density")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
