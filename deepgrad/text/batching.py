"""Contiguous-stream batching as in char-rnn: the text is cut into B parallel streams, and each batch
holds the next T characters of every stream, so a hidden state carried from one batch to the next
continues the same text."""
from __future__ import annotations

from ..creation import tensor
from ..tensor import Tensor
from .corpus import CorpusError


def split_train_val(ids: Tensor, val_fraction: float = 0.1):
    """The first (1 - val_fraction) of the ids for training, the rest for validation."""
    if not 0 <= val_fraction < 1:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    n_val = int(round(len(ids) * val_fraction))
    cut = len(ids) - n_val
    return ids[:cut], ids[cut:]


class StreamBatches:
    """Batches of (input, target) of shape (batch, seq_len), target = input shifted by one character.

    The ids are trimmed to batch * (n * seq_len) + 1 characters and reshaped into ``batch`` streams;
    batch k of an epoch is columns [k*T, (k+1)*T) of every stream.
    """

    def __init__(self, ids: Tensor, batch_size: int, seq_len: int, name: str = "corpus"):
        if batch_size < 1 or seq_len < 1:
            raise ValueError(f"batch_size and seq_len must be positive, got {batch_size} and {seq_len}")
        data = ids if isinstance(ids, Tensor) else tensor(ids)
        need = batch_size * seq_len + 1
        if len(data) < need:
            raise CorpusError(
                f"the {name} has {len(data)} characters, too few for one batch of {batch_size} streams x "
                f"{seq_len} steps (needs at least {need}); use a smaller --batch or --seq-len, or a "
                f"larger corpus")
        self.batch_size, self.seq_len = batch_size, seq_len
        stream_len = (len(data) - 1) // batch_size
        self.num_batches = stream_len // seq_len
        usable = self.num_batches * seq_len
        self.x = data[:batch_size * stream_len].reshape(batch_size, stream_len)[:, :usable]
        self.y = data[1:batch_size * stream_len + 1].reshape(batch_size, stream_len)[:, :usable]

    def __len__(self) -> int:
        return self.num_batches

    def batch(self, k: int):
        """Batch ``k`` (0 <= k < len(self)) as int64 tensors (input, target)."""
        if not 0 <= k < self.num_batches:
            raise IndexError(f"batch {k} is out of range for {self.num_batches} batches")
        cols = slice(k * self.seq_len, (k + 1) * self.seq_len)
        return self.x[:, cols].contiguous(), self.y[:, cols].contiguous()

    def __iter__(self):
        for k in range(self.num_batches):
            yield self.batch(k)
