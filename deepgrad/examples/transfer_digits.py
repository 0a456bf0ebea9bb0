"""Transfer learning on the 8x8 digits (lecture 004): a small CNN trained on digits 0-4 meets digits
5-9 with 20 examples per class. Compares a linear classifier on its frozen features (from several
stages), fine-tuning it, and training the same network from scratch; then looks at what it learned:
first-layer filters, PCA pictures of its features, nearest neighbours, and the fine-tuned network's
confusion matrix.

What it shows on these digits: a linear classifier on an early (convolutional) stage of the 0-4
network learns 5-9 fastest and as well as anything; fine-tuning and training from scratch end up
close once they have had enough epochs (the 8x8 digits are easy: 100 examples suffice), but the
pretrained starts lead at small budgets; the top layer's features, shaped for 0-4, transfer worst,
which is the lectures' advice for a dataset that differs: "try linear classifier from different stages".

    python -m deepgrad.examples.transfer_digits --out figures/
"""
from __future__ import annotations

import argparse
import os

import deepgrad as dg
from deepgrad.metrics import confusion_matrix
from deepgrad.train.transfer import PROBE_STAGES, transfer_experiment
from deepgrad.vision.datasets import Digits
from deepgrad.vision.embed import Img2Vec, nearest_neighbours, pca, plot_embeddings
from deepgrad.viz._plot import pyplot
from deepgrad.viz.monitor import plot_confusion, plot_filters

DIGITS_5_TO_9 = [str(d) for d in range(5, 10)]


def plot_curves(results: dict, path: str) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for key, accs in results["accuracy"].items():
        label = f"linear on {PROBE_STAGES[key][1]}" if key in PROBE_STAGES else key
        ax.plot(results["epochs"], accs, "o-", label=label)
    ax.set_xlabel("epochs on the 5-9 examples")
    ax.set_ylabel("test accuracy on 5-9")
    ax.set_title("Transfer learning: pretrained on 0-4, learning 5-9")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run(shots: int = 20, pretrain_epochs: int = 15, epochs=(5, 10, 20, 40), seed: int = 0,
        out: str | None = None, k: int = 5) -> dict:
    """Run the experiment, print its table and a nearest-neighbour analysis of the pretrained
    features, and, with ``out``, save the figures there. Returns the experiment's results with
    'knn' ({stage key: 1-nearest-neighbour accuracy on 5-9 using that stage's features}) added."""
    results = transfer_experiment(shots=shots, pretrain_epochs=pretrain_epochs, epochs=epochs, seed=seed)
    pretrained = results["models"]["pretrained"]
    test = Digits(train=False)
    keep = [i for i, t in enumerate(test.targets.tolist()) if t >= 5]
    index = dg.tensor(keep, dtype=dg.int64)
    x_test, y_test = test.data[index], test.targets[index] - 5
    # 1-NN among the test images themselves (leave-one-out): how well each stage's features group 5-9
    print(f"\nLeave-one-out {k}-nearest neighbours among the {len(keep)} test images of 5-9 (cosine):")
    results["knn"] = {}
    for key, (layer, desc) in PROBE_STAGES.items():
        feats = Img2Vec(pretrained, layer)(x_test)
        idx, _ = nearest_neighbours(feats, feats, k=k + 1)
        neighbours = y_test[idx[:, 1:]]  # the first neighbour of each image is itself
        agree = (neighbours == y_test.unsqueeze(1)).float().mean().item()
        one_nn = (neighbours[:, 0] == y_test).float().mean().item()
        results["knn"][key] = one_nn
        print(f"  {desc:<24} 1-NN accuracy {one_nn:.3f}; neighbours of the same digit {agree:.3f}")
    if out is not None:
        os.makedirs(out, exist_ok=True)
        paths = {name: os.path.join(out, f"transfer_{name}.png")
                 for name in ("curves", "filters", "pca_top", "pca_conv1", "confusion")}
        plot_curves(results, paths["curves"])
        plot_filters(pretrained.features[0].weight, paths["filters"],
                     title="First-layer filters of the network trained on 0-4")
        for name, key in (("pca_top", "linear"), ("pca_conv1", "linear_conv1")):
            layer, desc = PROBE_STAGES[key]
            plot_embeddings(pca(Img2Vec(pretrained, layer)(x_test), 2), y_test, paths[name],
                            class_names=DIGITS_5_TO_9, title=f"Digits 5-9 in the 0-4 network's {desc}, PCA")
        finetuned = results["models"]["finetune"]
        finetuned.eval()
        with dg.no_grad():
            pred = finetuned(x_test).argmax(1)
        plot_confusion(confusion_matrix(pred, y_test, 5), paths["confusion"], class_names=DIGITS_5_TO_9,
                       title="Fine-tuned network on 5-9 (test)")
        for path in paths.values():
            print(f"wrote {path}")
    return results


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="figures", help="folder for the PNGs (default: figures)")
    parser.add_argument("--shots", type=int, default=20, help="training examples per new class")
    parser.add_argument("--pretrain-epochs", type=int, default=15)
    parser.add_argument("--epochs", type=int, nargs="+", default=[5, 10, 20, 40],
                        help="epochs on the new classes after which to evaluate")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    run(args.shots, args.pretrain_epochs, args.epochs, args.seed, args.out)


if __name__ == "__main__":
    main()
