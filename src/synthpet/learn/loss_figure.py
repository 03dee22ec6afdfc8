"""The loss curves of training, drawn once for a fold's own plot (``training.write_fold_artefacts``)
and for Figure 7 of every fold (``evaluate.figures.loss_curves``); no torch import, so that the
figures job does not pay for it."""

from __future__ import annotations


def draw_losses(ax, losses: dict, alpha: float) -> None:
    """Training (solid) and held-out (dashed) loss per epoch of each fold (``losses``: fold -> its loss
    table) on ``ax``: a fold's own plot, and Figure 7 of every fold."""
    from matplotlib.ticker import MaxNLocator

    for k, (fold, table) in enumerate(losses.items()):
        colour = f"C{k}"
        ax.plot(table["epoch"], table["train_loss"], color=colour, label=f"fold {fold} training scans")
        ax.plot(table["epoch"], table["held_out_loss"], color=colour, ls="--", label=f"fold {fold} held-out scans")
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(f"loss: {alpha:g} BCE + {1 - alpha:g} MSE (in brain)")
    ax.legend(fontsize=7, ncol=2 if len(losses) > 1 else 1)
