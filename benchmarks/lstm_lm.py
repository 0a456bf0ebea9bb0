"""Character language-model training step: embedding, 2-layer LSTM, linear head, Adam.

Vocabulary 65 (tiny-shakespeare's), nn.Embedding(65, 64), nn.LSTM(64, 256, num_layers=2), batch 32,
sequence 64 (sequence-first), Linear 256->65, cross-entropy over every position, gradient clipping to
norm 5, Adam (lr 2e-3). The time goes into 64 x 2 small recurrent matrix products each way, so this
measures deepgrad's LSTM kernel and the per-timestep Python cost against PyTorch's.
Run: ``python benchmarks/lstm_lm.py [--quick]``.
"""
import _harness as H  # first: pins the thread pools before numpy loads
import deepgrad
import torch

VOCAB, EMBED, HIDDEN, LAYERS, BATCH, SEQ = 65, 64, 256, 2, 32, 64


def _model(nn):
    class CharLSTM(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(VOCAB, EMBED)
            self.lstm = nn.LSTM(EMBED, HIDDEN, num_layers=LAYERS)
            self.head = nn.Linear(HIDDEN, VOCAB)

        def forward(self, tokens):
            hidden, _ = self.lstm(self.embed(tokens))
            return self.head(hidden)
    return CharLSTM()


def _step(lib, model, optimizer, tokens, targets):
    F, clip = lib.nn.functional, lib.nn.utils.clip_grad_norm_

    def step():
        logits = model(tokens)
        loss = F.cross_entropy(logits.reshape(SEQ * BATCH, VOCAB), targets.reshape(SEQ * BATCH))
        loss.backward()
        clip(model.parameters(), 5.0)
        optimizer.step()
        optimizer.zero_grad()
        return loss
    return step


def build(libs: tuple) -> dict:
    deepgrad.manual_seed(0)
    dg_model = _model(deepgrad.nn)
    text = deepgrad.randint(0, VOCAB, (SEQ + 1, BATCH))
    tokens, targets = text[:-1].contiguous(), text[1:].contiguous()
    steps = {}
    for lib in libs:
        model = dg_model if lib == "deepgrad" else H.torch_copy(dg_model, _model(torch.nn))
        optimizer = H.LIBS[lib].optim.Adam(model.parameters(), lr=2e-3)
        steps[lib] = _step(H.LIBS[lib], model, optimizer, *H.data_for(lib, tokens, targets))
    return steps


CASES = [H.Case("lstm_lm", "2-layer LSTM char-LM step, hidden 256, batch 32, seq 64, Adam, clip 5",
                build, steps=30, target=1.0,
                requires=("nn.Embedding", "nn.LSTM", "optim.Adam", "nn.utils.clip_grad_norm_"))]

if __name__ == "__main__":
    H.run_modules(["lstm_lm"], __doc__)
