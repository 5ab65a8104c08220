"""Learning-curve figure from a per-epoch training log."""

import matplotlib.pyplot as plt

from hybridrec.reporting.common import save_figure


def plot_learning_curve(history, path, title: str) -> None:
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.4))
    a.plot(history["epoch"], history["loss"], label="training loss")
    a.set_xlabel("epoch")
    a.set_ylabel("loss")
    a.set_yscale("log")
    a.legend()
    b.plot(history["epoch"], history["train_rmse"], label="train RMSE")
    b.plot(history["epoch"], history["val_rmse"], label="val RMSE")
    b.set_xlabel("epoch")
    b.set_ylabel("RMSE (clamped)")
    b.legend()
    fig.suptitle(title)
    save_figure(fig, path)
