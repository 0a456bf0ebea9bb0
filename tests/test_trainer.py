"""Trainer, History, callbacks, the divergence policy in the epoch loop, lr_find and the search helpers."""
import csv
import math
import sys

import pytest

import deepgrad as dg
import deepgrad.nn as nn
import deepgrad.nn.functional as F
from deepgrad import optim
from deepgrad.optim.lr_scheduler import ReduceLROnPlateau, StepLR
from deepgrad.train import (
    Callback, CSVLogger, DivergenceGuard, EarlyStopping, History, LRSchedulerCallback, ModelCheckpoint,
    TerminateOnNaN, Trainer, lr_find)
from deepgrad.train.images import Range, format_trials, tune
from deepgrad.utils.data import DataLoader, TensorDataset


def blobs(n=64, seed=0):
    """Two Gaussian blobs in 4-d, classes 0 and 1 (linearly separable)."""
    gen = dg.Generator().manual_seed(seed)
    y = dg.randint(0, 2, (n,), generator=gen)
    x = dg.randn(n, 4, generator=gen) * 0.5 + (y.float() * 2 - 1).unsqueeze(1)
    return x, y


def loaders(n=64, batch=16, seed=0):
    x, y = blobs(n, seed)
    xv, yv = blobs(32, seed + 1)
    train = DataLoader(TensorDataset(x, y), batch_size=batch, shuffle=True,
                       generator=dg.Generator().manual_seed(seed))
    return train, DataLoader(TensorDataset(xv, yv), batch_size=batch)


def make(lr=0.1, seed=0, dropout=0.0, **kwargs):
    dg.manual_seed(seed)
    layers = [nn.Linear(4, 8), nn.ReLU()] + ([nn.Dropout(dropout)] if dropout else []) + [nn.Linear(8, 2)]
    model = nn.Sequential(*layers)
    opt = optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    kwargs.setdefault("progress", False)
    kwargs.setdefault("verbose", False)
    return Trainer(model, opt, F.cross_entropy, **kwargs)


def params_copy(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def same(a, b):
    return a.keys() == b.keys() and all(dg.equal(a[k], b[k]) for k in a)


class Record(Callback):
    """Copies of the weights after every step and every epoch, and the verdicts."""

    def __init__(self):
        self.steps, self.epochs, self.verdicts, self.lrs = [], [], [], []

    def on_batch_end(self, trainer, logs):
        self.steps.append(params_copy(trainer.model))
        self.verdicts.append(logs["verdict"])
        self.lrs.append(logs["lr"])

    def on_epoch_end(self, trainer, logs):
        self.epochs.append(params_copy(trainer.model))


class Script(Callback):
    """Overwrites one epoch-log value with scripted numbers (placed before the callbacks reading it)."""

    def __init__(self, key, values):
        self.key, self.values = key, list(values)

    def on_epoch_end(self, trainer, logs):
        logs[self.key] = self.values[logs["epoch"] - 1]


def nan_at(steps, loss_fn=F.cross_entropy):
    """A loss that is NaN at the given 1-based call numbers."""
    calls = [0]

    def loss(out, y):
        calls[0] += 1
        value = loss_fn(out, y)
        return value * math.nan if calls[0] in steps else value
    return loss


# ---------------------------------------------------------------------------- fit / evaluate / predict
def test_fit_learns_and_records_history():
    train, val = loaders()
    trainer = make()
    history = trainer.fit(train, val, epochs=4)
    assert history is trainer.history and len(history) == 4 and trainer.epoch == 4
    assert history["epoch"] == [1, 2, 3, 4]
    assert set(history.keys()) == {"epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr", "time"}
    assert history["loss"][-1] < history["loss"][0] * 0.5
    assert history["val_accuracy"][-1] >= 0.9
    assert history["lr"] == [0.1] * 4
    assert len(history.steps["loss"]) == 4 * len(train) == trainer.global_step
    # fit continues counting epochs
    trainer.fit(train, val, epochs=1)
    assert history["epoch"] == [1, 2, 3, 4, 5]


def test_evaluate_and_predict_match_a_manual_pass():
    train, val = loaders()
    trainer = make()
    trainer.fit(train, epochs=2)
    xv, yv = val.dataset.tensors
    trainer.model.eval()
    with dg.no_grad():
        logits = trainer.model(xv)
    result = trainer.evaluate(val)
    assert result["loss"] == pytest.approx(F.cross_entropy(logits, yv).item(), rel=1e-5)
    assert result["accuracy"] == dg.metrics.accuracy(logits, yv)
    assert dg.allclose(trainer.predict(xv, batch_size=5), logits, atol=1e-6)
    assert dg.allclose(trainer.predict(val), logits, atol=1e-6)
    assert not trainer.predict(xv).requires_grad


def test_train_and_eval_modes_are_switched_and_restored():
    seen = []

    class Probe(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 2)

        def forward(self, x):
            seen.append((self.training, dg.is_grad_enabled()))
            return self.fc(x)

    train, val = loaders(n=16, batch=8)
    model = Probe().eval()
    trainer = Trainer(model, optim.SGD(model.parameters(), lr=0.1), F.cross_entropy, progress=False,
                      verbose=False)
    trainer.fit(train, val, epochs=1)
    assert seen == [(True, True)] * 2 + [(False, False)] * 4   # 2 training batches, 4 validation batches
    assert model.training is False                              # the mode it had before fit
    model.train()
    trainer.predict(val.dataset.tensors[0])
    assert seen[-1] == (False, False) and model.training is True


def test_history_best_to_dict_and_padding():
    h = History()
    h.add_epoch({"epoch": 1, "loss": 2.0, "val_loss": 1.5})
    h.add_epoch({"epoch": 2, "loss": 1.0, "val_loss": math.nan})
    h.add_epoch({"epoch": 3, "loss": 1.0, "val_loss": 1.2, "val_accuracy": 0.9})
    h.add_step(0.5, 0.1)
    assert h.best("loss") == (2, 1.0)                   # the earliest epoch wins a tie
    assert h.best("val_loss") == (3, 1.2)               # NaN never wins
    assert h.best("loss", "max") == (1, 2.0)
    assert math.isnan(h["val_accuracy"][0]) and h["val_accuracy"][2] == 0.9
    d = h.to_dict()
    assert d["loss"] == [2.0, 1.0, 1.0] and d["steps"] == {"loss": [0.5], "lr": [0.1]}
    again = History.from_dict(d)
    assert again.epochs["epoch"] == [1, 2, 3] and again.steps == h.steps
    with pytest.raises(KeyError, match="no 'acc' values; recorded: epoch, loss"):
        h["acc"]
    with pytest.raises(ValueError, match="mode must be 'min' or 'max'"):
        h.best("loss", "lowest")


def test_user_errors_are_named():
    trainer = make()
    with pytest.raises(ValueError, match=r"Trainer.fit: each batch must be \(inputs, targets\), got Tensor"):
        trainer.fit([dg.zeros(2, 4)])
    with pytest.raises(ValueError, match="epochs must be a non-negative int, got 1.5"):
        trainer.fit([], epochs=1.5)
    with pytest.raises(TypeError, match="callbacks must be Callback instances, got builtin_function"):
        Trainer(trainer.model, trainer.optimizer, F.cross_entropy, callbacks=[print])
    with pytest.raises(ValueError, match="the loader gave no samples"):
        trainer.evaluate([])
    train, _ = loaders()
    with pytest.raises(KeyError, match="'val_loss' is not in the epoch logs .*need validation data"):
        make(callbacks=[EarlyStopping()]).fit(train, epochs=1)


def test_seeded_runs_are_bit_identical():
    results = []
    for _ in range(2):
        train, val = loaders()
        trainer = make(seed=3, dropout=0.3)
        trainer.fit(train, val, epochs=2)
        results.append((params_copy(trainer.model), trainer.history.to_dict()))
    assert same(results[0][0], results[1][0])
    assert results[0][1]["loss"] == results[1][1]["loss"]


# ---------------------------------------------------------------------------- callbacks
@pytest.mark.parametrize("epochs, expect_stop", [(6, 4), (3, 0)])
def test_early_stopping_restores_the_best_weights(epochs, expect_stop):
    train, val = loaders()
    rec, stop = Record(), EarlyStopping("val_loss", patience=2)
    trainer = make(callbacks=[Script("val_loss", [1.0, 0.5, 0.7, 0.8, 0.9, 0.95]), rec, stop])
    trainer.fit(train, val, epochs=epochs)
    assert stop.stopped_epoch == expect_stop and stop.best_epoch == 2 and stop.best == 0.5
    assert len(trainer.history) == (expect_stop or epochs)
    assert not same(params_copy(trainer.model), rec.epochs[-1])   # the last epoch moved on
    assert same(params_copy(trainer.model), rec.epochs[1])         # and epoch 2's weights came back


def test_early_stopping_max_mode_and_min_delta():
    train, val = loaders()
    stop = EarlyStopping("val_accuracy", mode="max", patience=1, min_delta=0.05, restore_best_weights=False)
    trainer = make(callbacks=[Script("val_accuracy", [0.5, 0.52, 0.9]), stop])
    trainer.fit(train, val, epochs=3)
    assert stop.stopped_epoch == 2 and stop.best == 0.5         # +0.02 is not an improvement of > 0.05
    with pytest.raises(ValueError, match="patience must be a positive int, got 0"):
        EarlyStopping(patience=0)
    with pytest.raises(ValueError, match="mode must be 'min' or 'max', got 'up'"):
        EarlyStopping(mode="up")


def test_model_checkpoint_best_and_last(tmp_path):
    train, val = loaders()
    rec = Record()
    ckpt = ModelCheckpoint(tmp_path / "run", monitor="val_loss")
    trainer = make(callbacks=[Script("val_loss", [0.9, 0.4, 0.6]), rec, ckpt], config={"name": "blobs"})
    trainer.fit(train, val, epochs=3)
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["best.ckpt", "last.ckpt"]  # no temp files
    best, last = dg.load(ckpt.best_path), dg.load(ckpt.last_path)
    assert best["epoch"] == 2 and best["value"] == 0.4 and last["epoch"] == 3
    assert best["config"] == {"name": "blobs"} and best["monitor"] == "val_loss"
    assert best["history"]["epoch"] == [1, 2] and last["history"]["epoch"] == [1, 2, 3]
    assert same(best["model"], rec.epochs[1]) and same(last["model"], rec.epochs[2])
    fresh = make(seed=5)
    fresh.model.load_state_dict(last["model"])
    fresh.optimizer.load_state_dict(last["optimizer"])
    assert same(params_copy(fresh.model), params_copy(trainer.model))


def test_csv_logger_rows_and_append(tmp_path):
    train, val = loaders()
    path = tmp_path / "log" / "history.csv"
    trainer = make(callbacks=[CSVLogger(path)])
    trainer.fit(train, val, epochs=2)
    rows = list(csv.DictReader(open(path, encoding="utf-8")))
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    assert list(rows[0]) == ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr", "time"]
    assert [float(r["val_loss"]) for r in rows] == trainer.history["val_loss"]   # exact: repr round-trips
    trainer.callbacks = [CSVLogger(path, append=True)]
    trainer.fit(train, val, epochs=1)
    rows = list(csv.DictReader(open(path, encoding="utf-8")))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]


def test_reduce_lr_on_plateau_gets_the_validation_loss():
    train, val = loaders()
    trainer = make()

    def flat_loss(out, y):          # the same value whatever the weights: a plateau
        return (out * 0).sum() + 1.0
    trainer.loss_fn = flat_loss
    sched = ReduceLROnPlateau(trainer.optimizer, factor=0.5, patience=0)
    trainer.callbacks = [LRSchedulerCallback(sched)]
    trainer.fit(train, val, epochs=3)
    assert trainer.history["lr"] == [0.1, 0.1, 0.05]   # the rate each epoch trained with
    assert trainer.lr == pytest.approx(0.025)
    assert sched.best == 1.0


def test_trainer_scheduler_steps_per_epoch_and_per_step_callback():
    train, _ = loaders(n=64, batch=16)
    base = make(lr=0.1)
    trainer = Trainer(base.model, base.optimizer, F.cross_entropy, progress=False, verbose=False,
                      scheduler=StepLR(base.optimizer, step_size=1, gamma=0.5))
    trainer.fit(train, epochs=3)
    assert trainer.history["lr"] == pytest.approx([0.1, 0.05, 0.025])
    stepper = make(lr=0.1)
    per_step = StepLR(stepper.optimizer, step_size=1, gamma=0.5)
    stepper.callbacks = [LRSchedulerCallback(per_step, interval="step")]
    stepper.fit(train, epochs=1)
    assert stepper.lr == pytest.approx(0.1 * 0.5 ** 4)   # 4 batches
    with pytest.raises(ValueError, match="ReduceLROnPlateau watches an epoch metric"):
        LRSchedulerCallback(ReduceLROnPlateau(stepper.optimizer), interval="step")


# ---------------------------------------------------------------------------- the divergence policy
def test_nan_loss_skips_the_step_and_lowers_the_lr():
    train, _ = loaders(n=64, batch=16)
    rec = Record()
    trainer = make(callbacks=[rec])
    trainer.loss_fn = nan_at({3})
    trainer.fit(train, epochs=1)
    assert rec.verdicts == ["ok", "ok", "skip", "ok"]
    assert same(rec.steps[2], rec.steps[1])             # weights unchanged by the NaN step
    assert not same(rec.steps[3], rec.steps[2])
    assert rec.lrs == [0.1, 0.1, 0.05, 0.05]
    assert math.isnan(trainer.history.steps["loss"][2])
    assert trainer.guard.total_skipped == 1
    assert math.isfinite(trainer.history["loss"][0])    # the epoch's loss averages the steps taken


def test_repeated_failures_restore_the_last_good_epoch():
    train, _ = loaders(n=64, batch=16)
    rec = Record()
    trainer = make(callbacks=[rec], guard=DivergenceGuard(max_failures=2))
    trainer.loss_fn = nan_at({6, 7})                     # epoch 2, batches 2 and 3
    trainer.fit(train, epochs=2)
    assert rec.verdicts == ["ok"] * 5 + ["skip", "restore", "ok"]
    assert same(rec.steps[6], rec.epochs[0])            # back to the end of epoch 1
    assert rec.lrs[6] == pytest.approx(0.025)            # keeping the lowered rate
    assert trainer.optimizer.state_dict()["param_groups"][0]["lr"] == pytest.approx(0.025)


def test_non_finite_gradient_norm_is_a_bad_step():
    train, _ = loaders(n=32, batch=16)
    rec = Record()
    trainer = make(callbacks=[rec])
    calls = [0]

    def loss_with_inf_grad(out, y):     # a finite loss whose gradient is infinite at the second step
        calls[0] += 1
        if calls[0] == 2:
            out.register_hook(lambda g: g * math.inf)
        return F.cross_entropy(out, y)
    trainer.loss_fn = loss_with_inf_grad
    trainer.fit(train, epochs=1)
    assert rec.verdicts == ["ok", "skip"]
    assert math.isfinite(trainer.history.steps["loss"][1])
    assert same(rec.steps[1], rec.steps[0])


def test_without_a_guard_every_step_is_taken():
    train, _ = loaders(n=32, batch=16)
    rec = Record()
    trainer = make(callbacks=[rec], guard=None)
    trainer.loss_fn = nan_at({1})
    trainer.fit(train, epochs=1)
    assert rec.verdicts == ["ok", "ok"]
    assert any(dg.isnan(p).any() for p in trainer.model.parameters())


def test_terminate_on_nan_stops_training():
    train, _ = loaders(n=64, batch=16)
    stop = TerminateOnNaN()
    trainer = make(callbacks=[stop])
    trainer.loss_fn = nan_at({3})
    trainer.fit(train, epochs=5)
    assert stop.stopped == (1, 3) and trainer.global_step == 3 and len(trainer.history) == 1
    assert all(dg.isfinite(p).all() for p in trainer.model.parameters())   # the guard kept the NaN out


# ---------------------------------------------------------------------------- lr_find
def test_lr_find_suggests_a_stable_rate_and_restores_the_model():
    # least squares with E[x x^T] = I: the loss's curvature is 2 / out_features, plain SGD diverges
    # above lr = 2 / curvature = 1 (for one output)
    gen = dg.Generator().manual_seed(0)
    x = dg.randn(512, 4, generator=gen)
    y = x @ dg.tensor([[1.0], [-2.0], [0.5], [3.0]])
    loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True, generator=gen)
    dg.manual_seed(0)
    model = nn.Linear(4, 1)
    opt = optim.SGD(model.parameters(), lr=0.01)
    before = params_copy(model)
    model.eval()
    result = lr_find(model, opt, F.mse_loss, loader, start_lr=1e-5, end_lr=100.0)
    assert 1e-2 < result.suggestion < 1.0
    assert result.steepest_lr == result.suggestion and result.min_loss_lr <= 2.0
    assert result.lrs[-1] < 100.0                      # stopped once the loss diverged
    assert len(result.lrs) == len(result.losses) == len(result.raw_losses)
    assert same(params_copy(model), before) and opt.param_groups[0]["lr"] == 0.01 and not opt.state
    assert model.training is False
    with pytest.raises(ValueError, match="need 0 < start_lr < end_lr"):
        lr_find(model, opt, F.mse_loss, loader, start_lr=1.0, end_lr=0.1)


def test_lr_find_short_curve_falls_back_to_min_over_ten():
    x, y = blobs(8)
    trainer = make()
    result = lr_find(trainer.model, trainer.optimizer, F.cross_entropy, [(x, y)], 1e-3, 1e-1, num_steps=3)
    assert result.steepest_lr is None and result.suggestion == pytest.approx(result.min_loss_lr / 10)


# ---------------------------------------------------------------------------- hyper-parameter search
def test_random_search_table_is_sorted_and_seeded(monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)       # 'auto' must fall back to the built-in search
    space = {"lr": Range(1e-4, 1e-1, log=True), "dropout": Range(0.0, 0.5)}

    def objective(p):   # best near lr = 1e-2, dropout = 0.2
        return {"val_accuracy": 1 - abs(math.log10(p["lr"]) + 2) / 3 - abs(p["dropout"] - 0.2)}
    trials, used = tune(objective, space, 12, seed=1)
    assert used == "random" and len(trials) == 12
    values = [t.results["val_accuracy"] for t in trials]
    assert values == sorted(values, reverse=True)
    assert all(1e-4 <= t.params["lr"] <= 1e-1 and 0 <= t.params["dropout"] <= 0.5 for t in trials)
    assert sum(t.params["lr"] < 1e-2 for t in trials) >= 3      # log-uniform: a third of the draws per decade
    again, _ = tune(objective, space, 12, seed=1)
    assert [t.params for t in again] == [t.params for t in trials]
    table = format_trials(trials).splitlines()
    assert table[0].split() == ["rank", "trial", "lr", "dropout", "val_accuracy"]
    assert table[1].split()[0] == "1" and len(table) == 13
    with pytest.raises(ImportError):
        tune(objective, space, 1, sampler="tpe")
    with pytest.raises(ValueError, match="need low < high"):
        Range(1.0, 0.5)
