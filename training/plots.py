"""PNG figures for the bundle (matplotlib Agg, no display): ROC curve and training curves."""
from __future__ import annotations

import io
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def roc_curve_png(fpr: Sequence[float], tpr: Sequence[float], auc: float | None, title: str,
                  operating_point: tuple[float, float] | None = None) -> bytes:
    """ROC curve; `operating_point` = (1 - specificity, sensitivity) at the chosen threshold."""
    figure, axis = plt.subplots(figsize=(4.5, 4.5))
    label = f"AUC = {auc:.4f}" if auc is not None else "AUC undefined"
    axis.plot(fpr, tpr, lw=2, label=label)
    axis.plot([0, 1], [0, 1], ls="--", color="grey", lw=1)
    if operating_point is not None:
        axis.plot([operating_point[0]], [operating_point[1]], "o", color="crimson", label="operating threshold")
    axis.set_xlabel("1 - specificity (false positive rate)")
    axis.set_ylabel("sensitivity (true positive rate)")
    axis.set_title(title)
    axis.set_xlim(0, 1)
    axis.set_ylim(0, 1.01)
    axis.legend(loc="lower right")
    return _png(figure)


def training_curves_png(history: Sequence[dict]) -> bytes:
    """Train/val loss and the validation score per epoch."""
    epochs = [h["epoch"] for h in history]
    figure, (loss_axis, score_axis) = plt.subplots(1, 2, figsize=(9, 3.6))
    loss_axis.plot(epochs, [h["train_loss"] for h in history], marker="o", label="train loss")
    loss_axis.plot(epochs, [h["val_loss"] for h in history], marker="o", label="validation loss")
    loss_axis.set_xlabel("epoch")
    loss_axis.set_ylabel("cross-entropy")
    loss_axis.legend()
    key = "val_auc" if history and "val_auc" in history[0] else "val_accuracy"
    score_axis.plot(epochs, [h.get(key) for h in history], marker="o", color="darkgreen",
                    label=key.replace("_", " "))
    score_axis.plot(epochs, [h.get("val_acc") for h in history], marker=".", color="grey",
                    label="val accuracy (argmax)")
    best = [h["epoch"] for h in history if h.get("best")]
    if best:
        score_axis.axvline(best[-1], color="crimson", ls=":", label="best epoch")
    score_axis.set_xlabel("epoch")
    score_axis.legend()
    figure.suptitle("Training curves")
    return _png(figure)
