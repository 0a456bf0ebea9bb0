"""Trainer, callbacks, the NaN policy, and the image CLI end to end on digits."""
import csv
import math
import os
import subprocess
import sys
from pathlib import Path


import deepgrad as dg
import deepgrad.nn as nn
import deepgrad.nn.functional as F
from deepgrad import optim
from deepgrad.train import Callback, CSVLogger, EarlyStopping, ModelCheckpoint, TerminateOnNaN, Trainer
from deepgrad.utils.data import DataLoader, TensorDataset

ROOT = Path(__file__).resolve().parents[1]


def _blobs(n=120, seed=0):
    g = dg.Generator().manual_seed(seed)
    y = dg.randint(0, 3, (n,), generator=g)
    centres = dg.tensor([[2.0, 0.0], [-2.0, 1.0], [0.0, -2.5]])
    x = centres[y] + 0.5 * dg.randn(n, 2, generator=g)
    return x, y


def _setup(seed=0, lr=0.1, **kw):
    dg.manual_seed(seed)
    x, y = _blobs()
    model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 3))
    opt = optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    loader = DataLoader(TensorDataset(x[:90], y[:90]), batch_size=16, shuffle=True,
                        generator=dg.Generator().manual_seed(seed))
    val = DataLoader(TensorDataset(x[90:], y[90:]), batch_size=64)
    trainer = Trainer(model, opt, F.cross_entropy, progress=False, verbose=False, **kw)
    return trainer, loader, val, x, y


def test_fit_evaluate_predict_and_history():
    trainer, loader, val, x, y = _setup()
    history = trainer.fit(loader, val, epochs=5)
    assert len(history["loss"]) == 5 and len(history["val_accuracy"]) == 5
    assert history["loss"][-1] < history["loss"][0]
    result = trainer.evaluate(val)
    assert result["accuracy"] > 0.9 and math.isfinite(result["loss"])
    pred = trainer.predict(x[90:])
    assert pred.shape == (30, 3) and not pred.requires_grad
    epoch, best = history.best("val_loss", "min")
    assert best == min(history["val_loss"]) and 1 <= epoch <= 5


def test_seeded_runs_are_bit_identical():
    a, loader_a, val_a, _, _ = _setup(seed=3)
    a.fit(loader_a, val_a, epochs=2)
    b, loader_b, val_b, _, _ = _setup(seed=3)
    b.fit(loader_b, val_b, epochs=2)
    for (k, pa), pb in zip(a.model.state_dict().items(), b.model.state_dict().values()):
        assert dg.equal(pa, pb), k


def test_early_stopping_restores_best_weights_also_at_normal_end():
    trainer, loader, val, _, _ = _setup(lr=0.5)
    stopper = EarlyStopping("val_loss", patience=50)
    snapshots = []

    class Snap(Callback):
        def on_epoch_end(self, trainer, logs):
            snapshots.append({k: v.clone() for k, v in trainer.model.state_dict().items()})

    trainer.callbacks += [stopper, Snap()]
    history = trainer.fit(loader, val, epochs=6)
    best_epoch = min(range(6), key=lambda i: history["val_loss"][i])
    for k, v in trainer.model.state_dict().items():
        assert dg.equal(v, snapshots[best_epoch][k]), k


def test_model_checkpoint_and_csv_logger(tmp_path):
    trainer, loader, val, _, _ = _setup(
        callbacks=[ModelCheckpoint(tmp_path / "ck", monitor="val_accuracy", mode="max")])
    trainer.callbacks.append(CSVLogger(tmp_path / "log.csv"))
    trainer.fit(loader, val, epochs=3)
    best = dg.load(tmp_path / "ck" / "best.ckpt")
    last = dg.load(tmp_path / "ck" / "last.ckpt")
    assert last["epoch"] == 3 and set(best["model"]) == set(trainer.model.state_dict())
    assert not [p for p in (tmp_path / "ck").iterdir() if p.name.startswith(".")]  # no temp files left
    rows = list(csv.DictReader(open(tmp_path / "log.csv")))
    assert len(rows) == 3 and "val_loss" in rows[0]


def test_nan_loss_skips_the_step_and_lowers_the_lr():
    trainer, loader, val, _, _ = _setup()
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    lr0 = trainer.optimizer.param_groups[0]["lr"]
    trainer.loss_fn = lambda out, target: F.cross_entropy(out, target) * float("nan")
    trainer.fit(loader, epochs=1)
    lr1 = trainer.optimizer.param_groups[0]["lr"]
    assert lr1 < lr0
    for k, v in trainer.model.state_dict().items():
        assert dg.equal(v, before[k]), k          # every step was skipped: no update applied


def test_terminate_on_nan_stops_training():
    trainer, loader, val, _, _ = _setup(guard=False, callbacks=[TerminateOnNaN()])
    trainer.loss_fn = lambda out, target: F.cross_entropy(out, target) * float("nan")
    history = trainer.fit(loader, val, epochs=4)
    assert trainer.stop_training and len(history["loss"]) <= 1


def _cli(*args, cwd):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "deepgrad.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_cli_train_images_then_eval_on_digits(tmp_path):
    r = _cli("train-images", "--dataset", "digits", "--model", "mlp", "--epochs", "2", "--out", "run",
             cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "test accuracy" in r.stdout
    files = {p.name for p in (tmp_path / "run").iterdir()}
    assert {"best.ckpt", "last.ckpt", "history.csv", "history.png"} <= files
    r = _cli("eval", "run/best.ckpt", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "accuracy" in r.stdout.lower()
    r = _cli("train-images", "--dataset", "mnist", "--root", "nowhere", "--out", "m", cwd=tmp_path)
    assert r.returncode == 2 and "error" in r.stderr
