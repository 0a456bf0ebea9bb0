"""The character-level language model of "The Unreasonable Effectiveness of Recurrent Neural
Networks": embedding -> multi-layer recurrent network -> linear read-out to next-character logits,
with temperature sampling and beam search."""
from __future__ import annotations

import math

import deepgrad as dg
from deepgrad import nn
from deepgrad.nn.functional import log_softmax

# cell name -> recurrent layer class in deepgrad.nn
CELLS = {"lstm": "LSTM", "gru": "GRU", "rnn": "RNN", "rnn_relu": "RNN", "mut1": "MUT1", "mut2": "MUT2",
         "mut3": "MUT3", "peephole": "PeepholeLSTM", "coupled": "CoupledLSTM"}
SQUARE_CELLS = {"mut1", "mut2"}  # their equations need input size == hidden size


class CharLM(nn.Module):
    """Character language model.

    Args:
        vocab_size: number of distinct characters.
        hidden: hidden units per recurrent layer.
        layers: number of stacked recurrent layers.
        cell: 'lstm', 'gru', 'rnn' (tanh), 'rnn_relu', 'mut1', 'mut2', 'mut3', 'peephole', 'coupled'.
        dropout: dropout between layers and before the read-out (training only).
        embed_dim: size of the learned character embedding (a one-hot input times a matrix). MUT1
            and MUT2 add the input to hidden-size vectors, so for them it is set to ``hidden``.

    ``forward(ids, state)`` takes int64 ids (batch, time) and returns logits (batch, time, vocab)
    and the final recurrent state, to carry into the next batch (truncated BPTT).
    """

    def __init__(self, vocab_size: int, hidden: int = 256, layers: int = 2, cell: str = "lstm",
                 dropout: float = 0.0, embed_dim: int = 64):
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"CharLM: unknown cell {cell!r}; choose one of {', '.join(CELLS)}")
        if cell in SQUARE_CELLS:
            embed_dim = hidden
        self.config = {"vocab_size": vocab_size, "hidden": hidden, "layers": layers, "cell": cell,
                       "dropout": dropout, "embed_dim": embed_dim}
        self.embed = nn.Embedding(vocab_size, embed_dim)
        layer_cls = getattr(nn, CELLS[cell])
        kwargs = {"nonlinearity": "relu"} if cell == "rnn_relu" else {}
        self.rnn = layer_cls(embed_dim, hidden, num_layers=layers, batch_first=True,
                             dropout=dropout if layers > 1 else 0.0, **kwargs)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, vocab_size)

    def forward(self, ids, state=None):
        out, state = self.rnn(self.embed(ids), state)
        return self.head(self.drop(out)), state


def _select_state(state, index):
    """Pick batch entries ``index`` from a recurrent state (a tensor or a tuple of tensors whose
    batch dimension is 1)."""
    if isinstance(state, (tuple, list)):
        return type(state)(_select_state(s, index) for s in state)
    return state[:, index]


@dg.no_grad()
def _prime(model: CharLM, vocab, prime: str):
    ids = vocab.encode(prime).reshape(1, -1)
    logits, state = model(ids)
    return logits[0, -1], state


@dg.no_grad()
def sample(model: CharLM, vocab, length: int = 500, temperature: float = 0.8, prime: str = "\n",
           generator=None, argmax: bool = False) -> str:
    """Generate ``length`` characters after ``prime``.

    Each character is drawn from softmax(logits / temperature), renormalised in float64 so any
    temperature > 0 works; temperature -> 0 approaches argmax, and ``argmax=True`` (or temperature 0)
    always takes the most likely character.
    """
    if temperature < 0 or not math.isfinite(temperature):
        raise ValueError(f"temperature must be a finite number >= 0, got {temperature}")
    if not prime:
        raise ValueError("prime must contain at least one character")
    was_training = model.training
    model.eval()
    try:
        logits, state = _prime(model, vocab, prime)
        out = []
        for _ in range(length):
            if argmax or temperature == 0:
                nxt = int(logits.argmax().item())
            else:
                z = logits.double() / temperature
                probs = (z - z.max()).exp()
                nxt = int(dg.multinomial(probs, 1, generator=generator).item())
            out.append(nxt)
            logits, state = model(dg.tensor([[nxt]]), state)
            logits = logits[0, -1]
        return vocab.decode(out)
    finally:
        model.train(was_training)


@dg.no_grad()
def beam_search(model: CharLM, vocab, length: int, beam: int = 7, prime: str = "\n"):
    """The ``length``-character continuation of ``prime`` with the highest total log-probability
    found by keeping the ``beam`` best partial sequences at every step (Karpathy & Fei-Fei use K=7).
    Returns (text, log_probability)."""
    if beam < 1:
        raise ValueError(f"beam width must be >= 1, got {beam}")
    if length <= 0:
        return "", 0.0
    was_training = model.training
    model.eval()
    try:
        logits, state = _prime(model, vocab, prime)
        scores = log_softmax(logits.double(), -1).reshape(1, -1)      # (beams, vocab)
        seqs = [[]]
        V = scores.shape[1]
        for step in range(length):
            flat = scores.reshape(-1)
            k = min(beam, flat.shape[0])
            top = _topk_indices(flat, k)
            origin = [int(i) // V for i in top]
            chars = [int(i) % V for i in top]
            best = flat[dg.tensor(top)]
            seqs = [seqs[o] + [c] for o, c in zip(origin, chars)]
            if step == length - 1:
                return vocab.decode(seqs[0]), float(best[0].item())
            state = _select_state(state, dg.tensor(origin))
            logits, state = model(dg.tensor(chars).reshape(-1, 1), state)
            scores = best.reshape(-1, 1) + log_softmax(logits[:, -1].double(), -1)
    finally:
        model.train(was_training)


def _topk_indices(flat, k: int) -> list:
    """Indices of the ``k`` largest entries, best first (ties: lower index first)."""
    values = flat.tolist()
    return sorted(range(len(values)), key=lambda i: (-values[i], i))[:k]
