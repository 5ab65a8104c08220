"""Shared report helpers: markdown tables (tabulate), figures (matplotlib, headless), atomic writes."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from tabulate import tabulate  # noqa: E402

from hybridrec import io  # noqa: E402

# Real MyAnimeList shape, from ../shared/docs/reference.md (for calibration tables).
MAL_REFERENCE = {
    "ratings per user q10/25/50/75/90/99": [14, 47, 108, 240, 424, 866],
    "ratings per anime q10/25/50/75/90/99": [1, 1, 4, 13, 37, 140],
    "std of user mean ratings": 0.92,
    "std of anime mean ratings": 1.48,
    "genres per anime (mean)": 2.97,
    "synopsis length median / mean (chars)": [264, 377],
}


def table(rows, headers, floatfmt=".3f", numparse=True) -> str:
    return tabulate(rows, headers=headers, tablefmt="github", floatfmt=floatfmt, disable_numparse=not numparse)


def save_figure(fig, path, temp=None) -> None:
    """``fig`` as a PNG at ``path`` (written under a temporary name and renamed; ``temp``: the temporary-path
    function of an :func:`hybridrec.io.atomic_files` block, which renames it with the block's other files)."""
    try:
        if temp is not None:
            fig.savefig(temp(path, ".png"), dpi=110, bbox_inches="tight", format="png", metadata={"Software": None})
        else:
            with io.atomic_path(path, suffix=".png") as tmp:
                fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png", metadata={"Software": None})
    finally:
        plt.close(fig)


def fmt(v, digits=3) -> str:
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    if isinstance(v, (list, tuple)):
        return " / ".join(fmt(x, digits) for x in v)
    return str(v)
