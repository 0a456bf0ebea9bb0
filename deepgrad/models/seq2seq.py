"""Encoder-decoder recurrent networks for token sequences (Sutskever et al. 2014; Cho et al. 2014),
with optional attention (Bahdanau et al. 2015; Luong et al. 2015), teacher forcing, and greedy
and beam-search decoding.

Encoder: an embedding and ``layers`` recurrent layers (LSTM or GRU), bidirectional by default,
over the source padded on the right with ``<pad>``. There is no packed-sequence type, so variable
lengths are handled exactly instead: the backward direction reads each sequence reversed within
its own length (the padding stays at the end), so every direction sees only real tokens before
the last one, and each direction's final state is read at position ``length - 1`` of its run.
Encoder outputs at padded positions are excluded from attention by a mask.

Decoder (``attention``):

- ``None``: the encoder's summary c (both directions' final states) sets the initial state,
  (h_0, c_0) = tanh(W_b c), and is fed with the previous token at every step (Cho et al.):
  s_t = cell([E y_{t-1}; c], s_{t-1}), logits = W_o s_t. Under teacher forcing it runs as the
  fused ``nn.LSTM`` / ``nn.GRU`` layer over the whole target.
- ``'bahdanau'``: additive attention from the previous decoder state:
  e_ti = v^T tanh(W_a s_{t-1} + U_a m_i), alpha_t = softmax(e_t) over the real source positions,
  context z_t = sum_i alpha_ti m_i, s_t = cell([E y_{t-1}; z_t], s_{t-1}),
  logits = W_o [s_t; z_t].
- ``'luong'``: multiplicative ("general") attention from the new decoder state, with input
  feeding: s_t = cell([E y_{t-1}; h~_{t-1}], s_{t-1}), e_ti = s_t^T W_a m_i,
  z_t = sum_i alpha_ti m_i, h~_t = tanh(W_c [z_t; s_t]), logits = W_o h~_t.

Both attention decoders step an ``nn.LSTMCell`` / ``nn.GRUCell`` through time, and decoding runs
the same ``step`` the teacher-forced ``forward`` uses.

Example::

    model = Seq2Seq(len(src_vocab), len(tgt_vocab), attention="bahdanau")
    logits, alphas = model(src, tgt)                # (B, T-1, V), (B, T-1, S)
    loss = sequence_loss(logits, tgt)
    best = beam_search(model, src[:1], beam=5)[0]
    tgt_vocab.decode(best.ids)                      # '2019-03-03'
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import deepgrad as dg
from deepgrad import Tensor, nn
from deepgrad.nn import functional as F

__all__ = ["CELLS", "ATTENTIONS", "PAD_ID", "START_ID", "END_ID", "Seq2Seq", "Hypothesis", "sequence_loss",
           "greedy_decode", "beam_search", "decode_batch", "sequence_log_prob",
           "translate"]

CELLS = ("lstm", "gru")
ATTENTIONS = (None, "bahdanau", "luong")
# the special-token ids of deepgrad.text.CharTokens / WordVocab
PAD_ID, START_ID, END_ID = 0, 1, 2


@dataclass
class _Memory:
    """What the decoder reads from the encoded source: the outputs m_i (B, S, M), their attention
    keys (U_a m_i or W_a m_i; None without attention), the padding mask (B, S) (True at
    ``<pad>``) and the summary c (B, M) of both directions' final states."""

    outputs: Tensor
    keys: Tensor | None
    mask: Tensor
    summary: Tensor

    def select(self, index: Tensor) -> "_Memory":
        keys = None if self.keys is None else self.keys.index_select(0, index)
        return _Memory(self.outputs.index_select(0, index), keys, self.mask.index_select(0, index),
                       self.summary.index_select(0, index))


def _describe(x) -> str:
    return f"{x.dtype.name} tensor of shape {tuple(x.shape)}" if isinstance(x, Tensor) else type(x).__name__


def _reversal_index(lengths: Tensor, steps: int) -> Tensor:
    """(B, S) positions that reverse each row within its length and leave the padding in place;
    applying it twice is the identity."""
    t = dg.arange(steps).reshape(1, steps)
    last = (lengths - 1).reshape(-1, 1)
    return dg.where(t <= last, last - t, t.expand(lengths.shape[0], steps))


def _take_steps(x: Tensor, index: Tensor) -> Tensor:
    """x[b, index[b, j]] for a (B, S, D) tensor and a (B, J) index."""
    return dg.gather(x, 1, index.unsqueeze(-1).expand(index.shape[0], index.shape[1], x.shape[2]))


class Seq2Seq(nn.Module):
    """Recurrent encoder-decoder for token sequences (see the module docstring for the equations).

    Args:
        src_vocab_size, tgt_vocab_size: vocabulary sizes, the 4 special tokens included (``<pad>``
            0, ``<start>`` 1, ``<end>`` 2, ``<unk>`` 3, as ``CharTokens`` and ``WordVocab`` number them).
        embed_dim: token embedding size (source and target embeddings are separate).
        hidden: hidden units of each encoder direction and of the decoder.
        cell: 'lstm' or 'gru'.
        attention: None, 'bahdanau' (additive) or 'luong' (multiplicative, input feeding).
        bidirectional: encoder direction(s). layers: stacked encoder layers (the decoder has one).
        attn_dim: size of the additive attention layer (default ``hidden``).
        dropout: on the embeddings, between encoder layers and before the read-out (training only).

    ``forward(src, tgt)`` takes int64 sources (B, S) padded on the right with ``<pad>`` and targets
    (B, T) that start with ``<start>``, and returns the teacher-forced logits (B, T-1, V) predicting
    ``tgt[:, 1:]`` and the attention weights (B, T-1, S), or None without attention.
    """

    def __init__(self, src_vocab_size: int, tgt_vocab_size: int, embed_dim: int = 32, hidden: int = 128,
                 cell: str = "lstm", attention: str | None = "bahdanau", bidirectional: bool = True,
                 layers: int = 1, attn_dim: int | None = None, dropout: float = 0.0):
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"Seq2Seq: cell must be one of {', '.join(CELLS)}, got {cell!r}")
        if attention not in ATTENTIONS:
            raise ValueError(f"Seq2Seq: attention must be one of {ATTENTIONS}, got {attention!r}")
        for name, size in (("src_vocab_size", src_vocab_size), ("tgt_vocab_size", tgt_vocab_size)):
            if size < 5:
                raise ValueError(f"Seq2Seq: {name} must count the 4 special tokens and at least one more, "
                                 f"got {size}")
        for name, size in (("embed_dim", embed_dim), ("hidden", hidden), ("layers", layers)):
            if size < 1:
                raise ValueError(f"Seq2Seq: {name} must be >= 1, got {size}")
        attn_dim = attn_dim or hidden
        self.config = {"src_vocab_size": src_vocab_size, "tgt_vocab_size": tgt_vocab_size,
                       "embed_dim": embed_dim, "hidden": hidden, "cell": cell, "attention": attention,
                       "bidirectional": bidirectional, "layers": layers, "attn_dim": attn_dim,
                       "dropout": dropout}
        self.cell_kind, self.attention, self.hidden = cell, attention, hidden
        self.n_states = 2 if cell == "lstm" else 1
        layer_cls = nn.LSTM if cell == "lstm" else nn.GRU
        directions = 2 if bidirectional else 1
        memory_dim = directions * hidden
        self.src_embed = nn.Embedding(src_vocab_size, embed_dim, padding_idx=PAD_ID)
        self.tgt_embed = nn.Embedding(tgt_vocab_size, embed_dim, padding_idx=PAD_ID)
        self.drop = nn.Dropout(dropout)
        self.forward_layers = nn.ModuleList(
            [layer_cls(embed_dim if i == 0 else memory_dim, hidden, batch_first=True) for i in range(layers)])
        self.backward_layers = nn.ModuleList(
            [layer_cls(embed_dim if i == 0 else memory_dim, hidden, batch_first=True) for i in range(layers)]
            if bidirectional else [])
        self.bridge = nn.Linear(memory_dim, self.n_states * hidden)
        if attention is None:
            self.decoder = layer_cls(embed_dim + memory_dim, hidden, batch_first=True)
            self.head = nn.Linear(hidden, tgt_vocab_size)
            return
        cell_cls = nn.LSTMCell if cell == "lstm" else nn.GRUCell
        if attention == "bahdanau":
            self.att_keys = nn.Linear(memory_dim, attn_dim)
            self.att_query = nn.Linear(hidden, attn_dim, bias=False)
            self.att_score = nn.Linear(attn_dim, 1, bias=False)
            self.decoder = cell_cls(embed_dim + memory_dim, hidden)
            self.head = nn.Linear(hidden + memory_dim, tgt_vocab_size)
        else:
            self.att_keys = nn.Linear(memory_dim, hidden, bias=False)
            self.combine = nn.Linear(memory_dim + hidden, hidden, bias=False)
            self.decoder = cell_cls(embed_dim + hidden, hidden)
            self.head = nn.Linear(hidden, tgt_vocab_size)

    # ------------------------------------------------------------------ encoder
    def encode(self, src: Tensor) -> _Memory:
        """Run the encoder on int64 sources (B, S) padded on the right with ``<pad>``."""
        if not isinstance(src, Tensor) or src.ndim != 2 or src.dtype != dg.int64:
            raise ValueError(f"Seq2Seq: expected int64 source ids of shape (B, S), got {_describe(src)}")
        mask = src == PAD_ID
        lengths = (~mask).long().sum(1)
        if src.shape[1] == 0 or bool((lengths == 0).any()):
            raise ValueError("Seq2Seq: every source needs at least one token before its padding")
        if not dg.equal(mask, dg.arange(src.shape[1]).reshape(1, -1) >= lengths.reshape(-1, 1)):
            raise ValueError("Seq2Seq: <pad> may only fill the end of a source (pad on the right)")
        last = (lengths - 1).reshape(-1, 1)
        reverse = _reversal_index(lengths, src.shape[1]) if self.backward_layers else None
        x = self.drop(self.src_embed(src))
        for i, forward_layer in enumerate(self.forward_layers):
            if i:
                x = self.drop(x)
            out, _ = forward_layer(x)
            if reverse is None:
                x = out
                continue
            backward_out, _ = self.backward_layers[i](_take_steps(x, reverse))
            # the backward run's last real step has read the whole sequence, last token first
            finals = (_take_steps(out, last), _take_steps(backward_out, last))
            x = dg.cat([out, _take_steps(backward_out, reverse)], dim=-1)
        summary = dg.cat(finals, dim=-1) if reverse is not None else _take_steps(x, last)
        keys = None if self.attention is None else self.att_keys(x)
        return _Memory(x, keys, mask, summary.squeeze(1))

    def begin(self, memory: _Memory) -> tuple:
        """The decoder state before ``<start>``: (h, c) for an LSTM, (h,) for a GRU, each (B, hidden),
        then, for Luong attention, the attentional vector h~ (zeros)."""
        state = tuple(dg.tanh(self.bridge(memory.summary)).chunk(self.n_states, dim=-1))
        if self.attention == "luong":
            state += (dg.zeros_like(state[0]),)
        return state

    # ------------------------------------------------------------------ decoder
    def attend(self, query: Tensor, memory: _Memory) -> tuple:
        """Attention weights (B, S) over the real source positions for the decoder state ``query``
        (B, hidden), and the context vector (B, M) they weight."""
        if self.attention == "bahdanau":
            scores = self.att_score(dg.tanh(memory.keys + self.att_query(query).unsqueeze(1))).squeeze(-1)
        else:
            scores = dg.bmm(memory.keys, query.unsqueeze(-1)).squeeze(-1)
        alpha = F.softmax(scores.masked_fill(memory.mask, -math.inf), dim=-1)
        return alpha, dg.bmm(alpha.unsqueeze(1), memory.outputs).squeeze(1)

    def _cell(self, x: Tensor, state: tuple) -> tuple:
        out = self.decoder(x, state[:2] if self.n_states == 2 else state[0])
        return out if self.n_states == 2 else (out,)

    def step(self, tokens: Tensor, state: tuple, memory: _Memory) -> tuple:
        """One decoding step: the previous tokens (B,) int64 and the state -> logits (B, V) for the next
        token, the new state, and the attention weights (B, S) (None without attention)."""
        y = self.drop(self.tgt_embed(tokens))
        if self.attention is None:
            x = dg.cat([y, memory.summary], dim=-1).unsqueeze(1)
            out, new = self.decoder(x, tuple(s.unsqueeze(0) for s in state) if self.n_states == 2
                                    else state[0].unsqueeze(0))
            new = tuple(s[0] for s in new) if self.n_states == 2 else (new[0],)
            return self.head(self.drop(out[:, 0])), new, None
        if self.attention == "bahdanau":
            alpha, context = self.attend(state[0], memory)
            new = self._cell(dg.cat([y, context], dim=-1), state)
            return self.head(self.drop(dg.cat([new[0], context], dim=-1))), new, alpha
        new = self._cell(dg.cat([y, state[-1]], dim=-1), state)
        alpha, context = self.attend(new[0], memory)
        feed = dg.tanh(self.combine(dg.cat([context, new[0]], dim=-1)))
        return self.head(self.drop(feed)), new + (feed,), alpha

    # ------------------------------------------------------------------ teacher forcing
    def forward(self, src: Tensor, tgt: Tensor) -> tuple:
        if not isinstance(tgt, Tensor) or tgt.ndim != 2 or tgt.shape[1] < 2 or tgt.dtype != dg.int64:
            raise ValueError(f"Seq2Seq: expected int64 targets (B, T) with T >= 2 (<start> ... <end>), got "
                             f"{_describe(tgt)}")
        if isinstance(src, Tensor) and src.ndim == 2 and src.shape[0] != tgt.shape[0]:
            raise ValueError(f"Seq2Seq: {src.shape[0]} sources but {tgt.shape[0]} targets")
        memory = self.encode(src)
        state = self.begin(memory)
        if self.attention is None:
            steps = tgt.shape[1] - 1
            y = self.drop(self.tgt_embed(tgt[:, :-1]))
            context = memory.summary.unsqueeze(1).expand(tgt.shape[0], steps, memory.summary.shape[1])
            hx = tuple(s.unsqueeze(0) for s in state) if self.n_states == 2 else state[0].unsqueeze(0)
            out, _ = self.decoder(dg.cat([y, context], dim=-1), hx)
            return self.head(self.drop(out)), None
        logits, alphas = [], []
        for t in range(tgt.shape[1] - 1):
            out, state, alpha = self.step(tgt[:, t], state, memory)
            logits.append(out)
            alphas.append(alpha)
        return dg.stack(logits, dim=1), dg.stack(alphas, dim=1)

    def extra_repr(self) -> str:
        return f"cell={self.cell_kind!r}, attention={self.attention!r}"


def sequence_loss(logits: Tensor, tgt: Tensor) -> Tensor:
    """Mean cross-entropy of teacher-forced ``logits`` (B, T-1, V) against the next tokens
    ``tgt[:, 1:]``, over real tokens only: ``<pad>`` positions add nothing to the loss or its
    gradient."""
    targets = tgt[:, 1:]
    if tuple(logits.shape[:2]) != tuple(targets.shape):
        raise ValueError(f"sequence_loss: logits {tuple(logits.shape)} do not match targets "
                         f"{tuple(tgt.shape)} (expected logits (B, T-1, V))")
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=PAD_ID)


# ---------------------------------------------------------------------------------------- decoding
@dataclass
class Hypothesis:
    """A decoded sequence: the generated ids (ending with ``<end>`` unless cut at ``max_len``), their
    total log-probability, and the attention weights (len(ids), S) of each generated id, or None."""

    ids: list
    log_prob: float
    alphas: Tensor | None = None


_BANNED = (PAD_ID, START_ID)


def _log_probs(logits: Tensor) -> Tensor:
    """Float64 log-probabilities of the next token with ``<pad>`` and ``<start>`` made impossible and
    the rest renormalised; every decoder and ``sequence_log_prob`` score tokens with it."""
    mask = dg.zeros(logits.shape[-1], dtype=dg.bool)
    mask[list(_BANNED)] = True
    return F.log_softmax(logits.double().masked_fill(mask, -math.inf), dim=-1)


def _check_decoding(max_len: int, beam: int = 1, length_norm: float = 0.0) -> None:
    if max_len < 1:
        raise ValueError(f"max_len must be >= 1, got {max_len}")
    if beam < 1:
        raise ValueError(f"beam width must be >= 1, got {beam}")
    if length_norm < 0:
        raise ValueError(f"length_norm must be >= 0, got {length_norm}")


def _attention_rows(rows: list) -> Tensor | None:
    return None if not rows or rows[0] is None else dg.stack(rows)


@dg.no_grad()
def greedy_decode(model: Seq2Seq, src: Tensor, max_len: int = 20) -> list[Hypothesis]:
    """The output of each source taking the most likely token at every step (``<pad>`` and
    ``<start>`` excluded), stopping at ``<end>`` or after ``max_len`` tokens. Batched."""
    _check_decoding(max_len)
    was_training = model.training
    model.eval()
    try:
        memory = model.encode(src)
        state = model.begin(memory)
        n = src.shape[0]
        tokens = dg.full((n,), START_ID, dtype=dg.int64)
        ids, scores, alphas, done = [[] for _ in range(n)], [0.0] * n, [[] for _ in range(n)], [False] * n
        for _ in range(max_len):
            logits, state, alpha = model.step(tokens, state, memory)
            logp = _log_probs(logits)
            tokens = logp.argmax(dim=-1)
            picked = logp.gather(1, tokens.reshape(-1, 1)).reshape(-1).tolist()
            for i, (w, lp) in enumerate(zip(tokens.tolist(), picked)):
                if not done[i]:
                    ids[i].append(w)
                    scores[i] += lp
                    alphas[i].append(None if alpha is None else alpha[i])
                    done[i] = w == END_ID
            if all(done):
                break
        return [Hypothesis(i, s, _attention_rows(a)) for i, s, a in zip(ids, scores, alphas)]
    finally:
        model.train(was_training)


def _normalised(log_prob: float, length: int, length_norm: float) -> float:
    return log_prob / length ** length_norm if length_norm else log_prob


@dg.no_grad()
def _beam_one(model: Seq2Seq, memory: _Memory, beam: int, max_len: int, length_norm: float) -> Hypothesis:
    state = model.begin(memory)
    live = [([], 0.0, [])]                                   # (ids, log-probability, attention rows)
    tokens = dg.tensor([START_ID])
    finished = []
    for t in range(max_len):
        logits, state, alpha = model.step(tokens, state, memory.select(dg.zeros(len(live), dtype=dg.int64)))
        logp = _log_probs(logits)
        scores = dg.tensor([s for _, s, _ in live], dtype=dg.float64).reshape(-1, 1)
        totals = (logp + scores).reshape(-1).tolist()
        vocab = logp.shape[1]
        # a finished hypothesis leaves the beam, which shrinks (beam width 1 is greedy decoding)
        top = sorted((i for i, v in enumerate(totals) if v > -math.inf), key=lambda i: (-totals[i], i))
        keep = []
        for i in top[:beam - len(finished)]:
            origin, token = divmod(i, vocab)
            ids, _, rows = live[origin]
            hyp = (ids + [token], totals[i], rows + [None if alpha is None else alpha[origin]])
            if token == END_ID or t == max_len - 1:
                finished.append(hyp)
            else:
                keep.append((hyp, origin, token))
        if not keep:
            break
        live = [hyp for hyp, _, _ in keep]
        state = tuple(s.index_select(0, dg.tensor([origin for _, origin, _ in keep])) for s in state)
        tokens = dg.tensor([token for _, _, token in keep])
    ids, log_prob, rows = max(finished, key=lambda h: _normalised(h[1], len(h[0]), length_norm))
    return Hypothesis(ids, log_prob, _attention_rows(rows))


def beam_search(model: Seq2Seq, src: Tensor, beam: int = 5, max_len: int = 20,
                length_norm: float = 0.0) -> list[Hypothesis]:
    """The most likely output of each source found by beam search of width ``beam``: at every step
    the ``beam`` best extensions of the live hypotheses are kept; a hypothesis that ends in
    ``<end>`` (or reaches ``max_len`` tokens) is finished and leaves the beam, which shrinks, until
    none is live. The best finished one is returned, scored by its total log-probability divided
    by length ** ``length_norm`` (0: no normalisation; 1: the mean log-probability per token).

    Width 1 is greedy decoding; a width of at least the number of possible outputs is exhaustive.

    Example::

        hyp = beam_search(model, src_vocab.pad([src_vocab.encode("3rd of March 2019")]), beam=5)[0]
        tgt_vocab.decode(hyp.ids)      # '2019-03-03'
    """
    _check_decoding(max_len, beam, length_norm)
    was_training = model.training
    model.eval()
    try:
        with dg.no_grad():
            memory = model.encode(src)
        return [_beam_one(model, memory.select(dg.tensor([i])), beam, max_len, length_norm)
                for i in range(src.shape[0])]
    finally:
        model.train(was_training)


@dg.no_grad()
def sequence_log_prob(model: Seq2Seq, src: Tensor, tgt: Tensor) -> Tensor:
    """The float64 log-probability (B,) of each target (B, T) (starting with ``<start>``, padded with
    ``<pad>``) given its source, summed over its real tokens and scored as the decoders score them
    (``<pad>`` and ``<start>`` excluded and the rest renormalised)."""
    was_training = model.training
    model.eval()
    try:
        logp = _log_probs(model(src, tgt)[0])
        targets = tgt[:, 1:]
        picked = logp.gather(2, targets.unsqueeze(-1)).squeeze(-1)
        return picked.masked_fill(targets == PAD_ID, 0.0).sum(1)
    finally:
        model.train(was_training)


def decode_batch(model: Seq2Seq, src: Tensor, beam: int = 1, max_len: int = 20,
                 length_norm: float = 0.0) -> list[Hypothesis]:
    """Greedy decoding for ``beam`` 1, beam search otherwise."""
    if beam == 1:
        return greedy_decode(model, src, max_len)
    return beam_search(model, src, beam, max_len, length_norm)



def translate(model: Seq2Seq, src_vocab, tgt_vocab, texts: list[str], beam: int = 1, max_len: int = 20,
              length_norm: float = 0.0) -> list[tuple[str, Hypothesis]]:
    """The decoded output text and its ``Hypothesis`` for each source text; ``src_vocab`` and
    ``tgt_vocab`` are ``deepgrad.text.CharTokens`` (or any vocabulary with ``encode``, ``pad`` and
    ``decode``). Source characters outside the vocabulary are read as ``<unk>``.

    Example::

        translate(model, src_vocab, tgt_vocab, ["3rd of March 2019", "03/03/19"], beam=5)
        # [('2019-03-03', Hypothesis(...)), ('2019-03-03', Hypothesis(...))]
    """
    if isinstance(texts, str):
        raise TypeError("translate: expected a list of texts, got one str (wrap it in a list)")
    if any(not text for text in texts):
        raise ValueError("translate: every text needs at least one character")
    src = src_vocab.pad([src_vocab.encode(text, start=False, end=False) for text in texts])
    return [(tgt_vocab.decode(hyp.ids), hyp) for hyp in decode_batch(model, src, beam, max_len, length_norm)]
