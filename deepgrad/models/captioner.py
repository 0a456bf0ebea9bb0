"""Image captioning: a convolutional encoder and an LSTM decoder (Karpathy & Fei-Fei, "Deep
Visual-Semantic Alignments"; Vinyals et al., "Show and Tell"; Xu et al., "Show, Attend and Tell").

Three ways for the image to condition the decoder (``mode``):

- ``'init'``: the image vector v enters the hidden state -- the lectures'
  h = tanh(W_xh x + W_hh h + W_ih v) at the first step, here as the LSTM's initial state
  (h_0, c_0) = tanh(W_ih v), so every later step carries it through W_hh;
- ``'first'``: v, projected to the word-embedding size, is the LSTM's input at a step before
  ``<start>`` (Show and Tell);
- ``'attention'``: soft attention over the spatial feature map at every step (Show, Attend and
  Tell): scores e_ti = w^T tanh(W_a a_i + W_h h_{t-1}), weights alpha_t = softmax(e_t) over the
  H x W positions, context z_t = sum_i alpha_ti a_i fed to the LSTM with the previous word and
  to the read-out. The weights are returned, to show where the model looked for each word.

Feature-map positions carry their (x, y) coordinates into the attention features, so "left of"
and "above" can be read from where the attended features sit.

Decoding (``greedy_decode``, ``sample_captions``, ``beam_search``) runs the same ``step`` the
teacher-forced ``forward`` uses.

Example::

    model = Captioner(len(vocab), mode="attention")
    logits, alphas = model(images, captions)      # (B, T-1, V), (B, T-1, H*W)
    loss = caption_loss(logits, captions, vocab.pad_id)
    best = beam_search(model, images, vocab, beam=7)[0]
    vocab.decode(best.ids)                         # 'a small red circle above a large blue square'
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import deepgrad as dg
from deepgrad import Tensor, nn
from deepgrad.nn import functional as F

from .convnets import VGG
from .resnet import ResNet, resnet18, resnet20

__all__ = ["MODES", "ENCODERS", "SmallEncoder", "feature_extractor", "build_encoder", "Captioner",
           "Caption", "caption_loss", "greedy_decode", "sample_captions", "beam_search"]

MODES = ("init", "first", "attention")


class SmallEncoder(nn.Module):
    """Four 3x3 convolutions with batch norm and ReLU, the first three at stride 2: a 64 x 64 image
    becomes an 8 x 8 map of ``4 * width`` channels. Small enough to train jointly with the decoder
    on a CPU."""

    def __init__(self, width: int = 32, in_channels: int = 3):
        super().__init__()
        layers = []
        for c_in, c_out, stride in ((in_channels, width, 2), (width, 2 * width, 2),
                                    (2 * width, 4 * width, 2), (4 * width, 4 * width, 1)):
            layers += [nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(c_out),
                       nn.ReLU()]
        self.features = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.features(x)


def feature_extractor(model: nn.Module) -> nn.Module:
    """The convolutional part of a zoo image model, mapping (N, 3, H, W) images to a (N, C, h, w)
    feature map: a ResNet's stem and residual stages (without pooling and ``fc``), or the
    ``features`` of a VGG, AlexNet or any model that has them. The modules are shared, not copied,
    so weights loaded into ``model`` are used.

    Example::

        encoder = feature_extractor(resnet20())     # (N, 3, 32, 32) -> (N, 64, 8, 8)
    """
    if isinstance(model, ResNet):
        stages = [getattr(model, f"layer{i + 1}") for i in range(model.n_stages)]
        return nn.Sequential(model.conv1, model.bn1, model.relu, model.maxpool, *stages)
    features = getattr(model, "features", None)
    if isinstance(features, nn.Module):
        return features
    raise TypeError(f"feature_extractor: {type(model).__name__} has no convolutional feature stage; expected "
                    f"a ResNet or a model with a `features` module (VGG, AlexNet, ...)")


ENCODERS: dict[str, Callable[[int], nn.Module]] = {
    "small": lambda width: SmallEncoder(width),
    "resnet20": lambda width: feature_extractor(resnet20()),
    "resnet18": lambda width: feature_extractor(resnet18()),
    "vgg11": lambda width: VGG(11, batch_norm=True, input_size=32).features,
    "vgg16": lambda width: VGG(16, batch_norm=True, input_size=32).features,
}


def build_encoder(name: str, width: int = 32) -> nn.Module:
    """A fresh image encoder by name: 'small' (``SmallEncoder(width)``), 'resnet20', 'resnet18',
    'vgg11' or 'vgg16' (the zoo models' feature stages)."""
    if name not in ENCODERS:
        raise ValueError(f"unknown encoder {name!r}; choose one of {', '.join(ENCODERS)}")
    return ENCODERS[name](width)


@dataclass
class _Memory:
    """What the decoder reads from the encoded images: the features (attention: (B, L, D) positions;
    otherwise the (B, K) image vector), their attention keys W_a a_i, and the map's (h, w)."""

    features: Tensor
    keys: Tensor | None
    grid: tuple

    def select(self, index: Tensor) -> "_Memory":
        keys = None if self.keys is None else self.keys.index_select(0, index)
        return _Memory(self.features.index_select(0, index), keys, self.grid)


def _grid_coordinates(h: int, w: int, dtype) -> Tensor:
    """(h * w, 2) positions of a feature map's cells, x and y in [-1, 1], row-major."""
    ys = (dg.arange(h, dtype=dtype) + 0.5) * (2.0 / h) - 1
    xs = (dg.arange(w, dtype=dtype) + 0.5) * (2.0 / w) - 1
    return dg.stack([xs.reshape(1, w).expand(h, w), ys.reshape(h, 1).expand(h, w)], dim=-1).reshape(h * w, 2)


class Captioner(nn.Module):
    """CNN encoder + LSTM decoder for image captioning.

    Args:
        vocab_size: number of words, specials included.
        mode: 'init', 'first' or 'attention' (see the module docstring).
        encoder: 'small', 'resnet20', 'resnet18', 'vgg11', 'vgg16' (``build_encoder``), or any
            module mapping (N, 3, S, S) images to (N, C, h, w) feature maps (its name is then not
            in ``config``: rebuild it yourself to load a checkpoint).
        image_size: side S of the square input images (the encoder is probed with it once).
        embed_dim: word embedding size. hidden: LSTM hidden size.
        attn_dim: size of the attention layer; feature_dim: size the attended features are
            projected to (default ``hidden``).
        pool: for 'init' and 'first', the feature map is average-pooled to pool x pool, flattened
            and projected to the image vector (keeping coarse positions).
        dropout: before the read-out. width: the small encoder's first-layer channels.
        freeze_encoder: keep the encoder's weights fixed (no gradients, batch norm in eval mode).

    ``forward(images, captions)`` takes float images (B, 3, S, S) and int64 captions (B, T) that
    start with ``<start>``, and returns logits (B, T-1, vocab_size) predicting ``captions[:, 1:]``
    (teacher forcing) and the attention weights (B, T-1, h*w), or None outside 'attention'.
    """

    def __init__(self, vocab_size: int, mode: str = "attention", encoder: str | nn.Module = "small",
                 image_size: int = 64, embed_dim: int = 128, hidden: int = 256, attn_dim: int = 128,
                 feature_dim: int | None = None, pool: int = 4, dropout: float = 0.0, width: int = 32,
                 freeze_encoder: bool = False):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"Captioner: mode must be one of {', '.join(MODES)}, got {mode!r}")
        if vocab_size < 5:
            raise ValueError(f"Captioner: vocab_size must count the 4 special tokens and at least one word, "
                             f"got {vocab_size}")
        feature_dim = feature_dim or hidden
        self.config = {"vocab_size": vocab_size, "mode": mode,
                       "encoder": encoder if isinstance(encoder, str) else None, "image_size": image_size,
                       "embed_dim": embed_dim, "hidden": hidden, "attn_dim": attn_dim,
                       "feature_dim": feature_dim, "pool": pool, "dropout": dropout, "width": width,
                       "freeze_encoder": freeze_encoder}
        self.mode, self.hidden, self.freeze_encoder = mode, hidden, freeze_encoder
        self.encoder = build_encoder(encoder, width) if isinstance(encoder, str) else encoder
        channels, self.grid = self._probe_encoder(image_size)
        self.embed = nn.Embedding(vocab_size, embed_dim)
        self.drop = nn.Dropout(dropout)
        if mode == "attention":
            self.project = nn.Linear(channels + 2, feature_dim)
            self.att_features = nn.Linear(feature_dim, attn_dim)
            self.att_hidden = nn.Linear(hidden, attn_dim)
            self.att_score = nn.Linear(attn_dim, 1)
            self.init_state = nn.Linear(feature_dim, 2 * hidden)
            self.cell = nn.LSTMCell(embed_dim + feature_dim, hidden)
            self.head = nn.Linear(hidden + feature_dim, vocab_size)
        else:
            self.pool = nn.AdaptiveAvgPool2d(pool)
            self.image = nn.Linear(channels * pool * pool, 2 * hidden if mode == "init" else embed_dim)
            self.rnn = nn.LSTM(embed_dim, hidden, batch_first=True)
            self.head = nn.Linear(hidden, vocab_size)
        if freeze_encoder:
            self.encoder.requires_grad_(False)
            self.encoder.eval()

    def _probe_encoder(self, image_size: int) -> tuple:
        was_training = self.encoder.training
        self.encoder.eval()
        with dg.no_grad():
            out = self.encoder(dg.zeros(1, 3, image_size, image_size))
        self.encoder.train(was_training)
        if out.ndim != 4 or out.shape[2] < 1 or out.shape[3] < 1:
            raise ValueError(f"Captioner: the encoder must map (N, 3, {image_size}, {image_size}) images to "
                             f"(N, C, h, w) feature maps, it gave shape {tuple(out.shape)}")
        return out.shape[1], (out.shape[2], out.shape[3])

    def train(self, mode: bool = True) -> "Captioner":
        super().train(mode)
        if self.freeze_encoder:
            self.encoder.eval()
        return self

    # ------------------------------------------------------------------ the pieces decoding uses
    def encode(self, images: Tensor) -> _Memory:
        """Run the encoder on float images (B, 3, S, S)."""
        if not isinstance(images, Tensor) or images.ndim != 4 or images.shape[1] != 3:
            got = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
            raise ValueError(f"Captioner: expected float images of shape (B, 3, H, W), got {got}")
        if not images.is_floating_point():
            raise ValueError(f"Captioner: images must be floating point in [0, 1], got {images.dtype} "
                             "(convert uint8 images with images.float() / 255)")
        feats = self.encoder(images)
        b, c, h, w = feats.shape
        if self.mode != "attention":
            return _Memory(self.image(dg.flatten(self.pool(feats), 1)), None, (h, w))
        cells = feats.reshape(b, c, h * w).transpose(1, 2)
        coords = _grid_coordinates(h, w, cells.dtype).unsqueeze(0).expand(b, h * w, 2)
        features = self.project(dg.cat([cells, coords], dim=-1))
        return _Memory(features, self.att_features(features), (h, w))

    def begin(self, memory: _Memory) -> tuple:
        """The decoder's state (h, c), each (B, hidden), before the ``<start>`` token."""
        if self.mode == "attention":
            return tuple(dg.tanh(self.init_state(memory.features.mean(1))).chunk(2, dim=-1))
        if self.mode == "init":
            return tuple(dg.tanh(memory.features).chunk(2, dim=-1))
        _, (h, c) = self.rnn(memory.features.unsqueeze(1))
        return h[0], c[0]

    def attend(self, h: Tensor, memory: _Memory) -> tuple:
        """Attention weights (B, L) over the feature-map positions given the hidden state h, and the
        context vector (B, D) they weight."""
        scores = self.att_score(dg.tanh(memory.keys + self.att_hidden(h).unsqueeze(1))).squeeze(-1)
        alpha = F.softmax(scores, dim=-1)
        return alpha, dg.bmm(alpha.unsqueeze(1), memory.features).squeeze(1)

    def step(self, words: Tensor, state: tuple, memory: _Memory) -> tuple:
        """One decoding step: the previous words (B,) int64 and state -> logits (B, V) for the next
        word, the new state, and the attention weights (B, L) (None outside 'attention')."""
        if self.mode == "attention":
            alpha, context = self.attend(state[0], memory)
            h, c = self.cell(dg.cat([self.embed(words), context], dim=-1), state)
            return self.head(self.drop(dg.cat([h, context], dim=-1))), (h, c), alpha
        out, (h, c) = self.rnn(self.embed(words).unsqueeze(1), (state[0].unsqueeze(0), state[1].unsqueeze(0)))
        return self.head(self.drop(out[:, 0])), (h[0], c[0]), None

    # ------------------------------------------------------------------ teacher forcing
    def forward(self, images: Tensor, captions: Tensor) -> tuple:
        if not isinstance(captions, Tensor) or captions.ndim != 2 or captions.shape[1] < 2:
            got = tuple(captions.shape) if isinstance(captions, Tensor) else type(captions).__name__
            raise ValueError(f"Captioner: expected int64 captions (B, T) with T >= 2 (<start> ... <end>), "
                             f"got {got}")
        if captions.shape[0] != images.shape[0]:
            raise ValueError(f"Captioner: {images.shape[0]} images but {captions.shape[0]} captions")
        memory = self.encode(images)
        state = self.begin(memory)
        if self.mode != "attention":
            out, _ = self.rnn(self.embed(captions[:, :-1]), (state[0].unsqueeze(0), state[1].unsqueeze(0)))
            return self.head(self.drop(out)), None
        logits, alphas = [], []
        for t in range(captions.shape[1] - 1):
            out, state, alpha = self.step(captions[:, t], state, memory)
            logits.append(out)
            alphas.append(alpha)
        return dg.stack(logits, dim=1), dg.stack(alphas, dim=1)

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}, feature map {self.grid[0]}x{self.grid[1]}"


def caption_loss(logits: Tensor, captions: Tensor, pad_id: int) -> Tensor:
    """Mean cross-entropy of the teacher-forced ``logits`` (B, T-1, V) against the next words
    ``captions[:, 1:]``, over the real words only: positions holding ``<pad>`` contribute neither to
    the loss nor to its gradient."""
    targets = captions[:, 1:]
    if tuple(logits.shape[:2]) != tuple(targets.shape):
        raise ValueError(f"caption_loss: logits {tuple(logits.shape)} do not match captions "
                         f"{tuple(captions.shape)} (expected logits (B, T-1, V))")
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=pad_id)


# ---------------------------------------------------------------------------------------- decoding
@dataclass
class Caption:
    """A decoded caption: the generated ids (ending with ``<end>`` unless cut at ``max_len``), their
    total log-probability, and the attention map (len(ids), h, w) of each generated id, or None."""

    ids: list
    log_prob: float
    alphas: Tensor | None = None


def _log_probs(logits: Tensor, banned: Sequence[int]) -> Tensor:
    """Float64 log-probabilities of the next word with ``banned`` ids (``<pad>``, ``<start>``) made
    impossible and the rest renormalised."""
    mask = dg.zeros(logits.shape[-1], dtype=dg.bool)
    mask[list(banned)] = True
    return F.log_softmax(logits.double().masked_fill(mask, -math.inf), dim=-1)


def _alphas_tensor(rows: list, grid: tuple) -> Tensor | None:
    return None if not rows or rows[0] is None else dg.stack(rows).reshape(len(rows), *grid)


@dg.no_grad()
def _decode(model: Captioner, images: Tensor, vocab, max_len: int,
            choose: Callable[[Tensor], Tensor]) -> list:
    """Run ``step`` from ``<start>`` on a batch, taking the next words ``choose(log_probs)`` until
    every caption has produced ``<end>`` or ``max_len`` words."""
    if max_len < 1:
        raise ValueError(f"max_len must be >= 1, got {max_len}")
    was_training = model.training
    model.eval()
    try:
        memory = model.encode(images)
        state = model.begin(memory)
        n = images.shape[0]
        words = dg.full((n,), vocab.start_id, dtype=dg.int64)
        ids, scores, alphas = [[] for _ in range(n)], [0.0] * n, [[] for _ in range(n)]
        done = [False] * n
        for _ in range(max_len):
            logits, state, alpha = model.step(words, state, memory)
            logp = _log_probs(logits, (vocab.pad_id, vocab.start_id))
            words = choose(logp)
            picked = logp.gather(1, words.reshape(-1, 1)).reshape(-1).tolist()
            for i, (w, lp) in enumerate(zip(words.tolist(), picked)):
                if not done[i]:
                    ids[i].append(w)
                    scores[i] += lp
                    alphas[i].append(None if alpha is None else alpha[i])
                    done[i] = w == vocab.end_id
            if all(done):
                break
        return [Caption(i, s, _alphas_tensor(a, memory.grid)) for i, s, a in zip(ids, scores, alphas)]
    finally:
        model.train(was_training)


def greedy_decode(model: Captioner, images: Tensor, vocab, max_len: int = 20) -> list[Caption]:
    """The caption of each image taking the most likely word at every step (``<pad>`` and
    ``<start>`` excluded), stopping at ``<end>`` or after ``max_len`` words."""
    return _decode(model, images, vocab, max_len, lambda logp: logp.argmax(dim=-1))


def sample_captions(model: Captioner, images: Tensor, vocab, temperature: float = 1.0,
                    generator: dg.Generator | None = None, max_len: int = 20) -> list[Caption]:
    """A caption of each image drawn word by word from softmax(logits / temperature), renormalised
    in float64 so any temperature works; temperature 0 is greedy decoding."""
    if not (temperature >= 0 and math.isfinite(temperature)):
        raise ValueError(f"temperature must be a finite number >= 0, got {temperature}")
    if temperature == 0:
        return greedy_decode(model, images, vocab, max_len)

    def draw(logp: Tensor) -> Tensor:
        z = logp / temperature
        return dg.multinomial((z - z.amax(dim=-1, keepdim=True)).exp(), 1, generator=generator).reshape(-1)
    return _decode(model, images, vocab, max_len, draw)


def _normalised(log_prob: float, length: int, length_norm: float) -> float:
    return log_prob / length ** length_norm if length_norm else log_prob


@dg.no_grad()
def _beam_one(model: Captioner, memory: _Memory, vocab, beam: int, max_len: int,
              length_norm: float) -> Caption:
    state = model.begin(memory)
    live = [([], 0.0, [])]                                   # (ids, log-probability, attention rows)
    words = dg.tensor([vocab.start_id])
    finished = []
    banned = (vocab.pad_id, vocab.start_id)
    for t in range(max_len):
        rows = memory.select(dg.zeros(len(live), dtype=dg.int64))
        logits, state, alpha = model.step(words, state, rows)
        logp = _log_probs(logits, banned)
        so_far = dg.tensor([s for _, s, _ in live], dtype=dg.float64).reshape(-1, 1)
        totals = (logp + so_far).reshape(-1).tolist()
        n_words = logp.shape[1]
        finite = [i for i, v in enumerate(totals) if v > -math.inf]
        # the beam shrinks as hypotheses finish (beam width 1 is greedy decoding)
        top = sorted(finite, key=lambda i: (-totals[i], i))[:beam - len(finished)]
        keep = []
        for i in top:
            origin, word = divmod(i, n_words)
            ids, _, att = live[origin]
            hyp = (ids + [word], totals[i], att + [None if alpha is None else alpha[origin]])
            if word == vocab.end_id or t == max_len - 1:
                finished.append(hyp)
            else:
                keep.append((hyp, origin, word))
        if not keep:
            break
        live = [hyp for hyp, _, _ in keep]
        index = dg.tensor([origin for _, origin, _ in keep])
        state = tuple(s.index_select(0, index) for s in state)
        words = dg.tensor([word for _, _, word in keep])
    ids, log_prob, att = max(finished, key=lambda h: _normalised(h[1], len(h[0]), length_norm))
    return Caption(ids, log_prob, _alphas_tensor(att, memory.grid))


def beam_search(model: Captioner, images: Tensor, vocab, beam: int = 7, max_len: int = 20,
                length_norm: float = 0.0) -> list[Caption]:
    """The most likely caption of each image found by beam search of width ``beam`` (Karpathy &
    Fei-Fei use 7): at every step the ``beam`` best extensions of the live hypotheses are kept; a
    hypothesis ending in ``<end>`` (or reaching ``max_len`` words) is finished and leaves the beam,
    which shrinks, until none is live. The best finished one is returned, scored by its total
    log-probability divided by length ** ``length_norm`` (0: no length normalisation; 1: the mean
    log-probability per word, which favours longer captions).

    Width 1 is greedy decoding; a width of at least the number of possible captions is exhaustive.
    """
    if beam < 1:
        raise ValueError(f"beam width must be >= 1, got {beam}")
    if max_len < 1:
        raise ValueError(f"max_len must be >= 1, got {max_len}")
    if length_norm < 0:
        raise ValueError(f"length_norm must be >= 0, got {length_norm}")
    was_training = model.training
    model.eval()
    try:
        with dg.no_grad():
            memory = model.encode(images)
        return [_beam_one(model, memory.select(dg.tensor([i])), vocab, beam, max_len, length_norm)
                for i in range(images.shape[0])]
    finally:
        model.train(was_training)
