"""The vanishing/exploding gradient picture: ||dL/dh_t|| against t for a loss at the last step."""
from __future__ import annotations

import deepgrad as dg
from deepgrad import nn
import deepgrad.nn.functional as F

from ._plot import pyplot


def gradient_flow(cell: str, inputs, targets, hidden: int = 128, seed: int = 0) -> list:
    """Unroll a ``cell`` ('rnn' or 'lstm') over ``inputs`` (T, batch, in) and return ||dL/dh_t|| for
    every t, where L is the cross-entropy of a linear read-out of the last hidden state against
    ``targets`` (batch,) — how much the loss still 'hears' of step t."""
    dg.manual_seed(seed)
    T, batch, n_in = inputs.shape
    rnn = nn.RNNCell(n_in, hidden) if cell == "rnn" else nn.LSTMCell(n_in, hidden)
    head = nn.Linear(hidden, int(targets.max().item()) + 1)
    h = dg.zeros(batch, hidden)
    c = dg.zeros(batch, hidden)
    hs = []
    for t in range(T):
        if cell == "rnn":
            h = rnn(inputs[t], h)
        else:
            h, c = rnn(inputs[t], (h, c))
        h.retain_grad()
        hs.append(h)
    F.cross_entropy(head(h), targets).backward()
    return [float(x.grad.norm().item()) for x in hs]


def plot_gradient_flow(curves: dict, path, title: str = "Gradient flow through time") -> None:
    """Plot ||dL/dh_t|| curves (name -> list) on a log scale and save a PNG."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    for name, values in curves.items():
        ax.semilogy(range(len(values)), [max(v, 1e-30) for v in values], label=name)
    ax.set_xlabel("time step t (loss at the last step)")
    ax.set_ylabel("||dL/dh_t||")
    ax.set_title(title)
    ax.legend()
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
