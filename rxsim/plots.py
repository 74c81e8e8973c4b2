"""SER-vs-SNR figures from results rows (one panel per channel)."""

from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

__all__ = ["plot_ser"]


def _curves(rows):
    """{channel: {(detector, csi): rows sorted by SNR}}"""
    panels = defaultdict(lambda: defaultdict(list))
    for r in rows:
        panels[r["channel"]][(r["detector"], r["csi"])].append(r)
    for curves in panels.values():
        for pts in curves.values():
            pts.sort(key=lambda r: r["snr_db"])
    return panels


def plot_ser(rows, path, title=None, formats=("png", "pdf")):
    """Plot SER vs SNR per detector with confidence intervals as error bars.

    Points with zero errors are drawn as a downward triangle at the upper
    confidence bound (the SER is below it), since a log axis cannot show 0.

    Parameters
    ----------
    rows : list of dict
        Rows of :meth:`rxsim.store.ResultsStore.points` (keys ``channel``,
        ``detector``, ``csi``, ``snr_db``, ``ser``, ``ser_lo``, ``ser_hi``).
    path : str or Path
        Output file; its suffix is replaced by each of ``formats``.
    title : None or str
    formats : tuple of str, e.g. ``("png", "pdf")``

    Output
    ------
    : list of Path, the files written
    """
    if not rows:
        raise ValueError("no results to plot: the database has no finished "
                         "points (run `rxsim sweep` first, or check "
                         "--experiment).")
    panels = _curves(rows)
    n = len(panels)
    cols = min(n, 3)
    nrows = -(-n // cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(5.2 * cols, 4.2 * nrows),
                             squeeze=False, sharey=True)
    for ax, (channel, curves) in zip(axes.flat, sorted(panels.items())):
        for (detector, csi), pts in sorted(curves.items()):
            snr = np.array([p["snr_db"] for p in pts])
            ser = np.array([p["ser"] for p in pts])
            lo = np.array([p["ser_lo"] for p in pts])
            hi = np.array([p["ser_hi"] for p in pts])
            seen = ser > 0
            bars = ax.errorbar(snr[seen], ser[seen],
                               yerr=[ser[seen] - lo[seen], hi[seen] - ser[seen]],
                               marker="o", ms=4, capsize=3, label=detector)
            if np.any(~seen):
                ax.plot(snr[~seen], hi[~seen], "v", ms=6,
                        color=bars[0].get_color(), alpha=0.7)
        ax.set_yscale("log")
        ax.set_title(channel, fontsize=10)
        ax.set_xlabel("SNR [dB]")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    for ax in axes[:, 0]:
        ax.set_ylabel("symbol error rate")
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in formats:
        out = path.with_suffix("." + fmt)
        fig.savefig(out, dpi=130)
        written.append(out)
    plt.close(fig)
    return written
