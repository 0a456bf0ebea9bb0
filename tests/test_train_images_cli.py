"""The image workflow's commands (train-images, eval, lr-find, tune) end to end, the model choices and
the preprocessing, on digits and on a small synthetic MNIST."""
import argparse
import csv
import gzip
import re
import struct

import pytest

import deepgrad as dg
from deepgrad.train import images
from deepgrad.train.images import DATASETS, MODELS, ImageConfig, build_model, image_transform, input_geometry

pytest.importorskip("sklearn")  # Digits reads scikit-learn's bundled table


def run(argv, capsys):
    parser = argparse.ArgumentParser()
    images.add_parsers(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code = args.func(args)
    return code, capsys.readouterr().out


def test_train_images_then_eval_on_digits(tmp_path, capsys):
    out = tmp_path / "run"
    code, text = run(["train-images", "--dataset", "digits", "--model", "mlp", "--epochs", "2",
                      "--out", str(out), "--no-progress", "--dropout", "0.1"], capsys)
    assert code == 0
    assert re.search(r"epoch 1/2: loss [\d.]+, accuracy [\d.]+, val_loss [\d.]+, val_accuracy [\d.]+, "
                     r"lr 0.05", text)
    test_acc = float(re.search(r"test accuracy ([\d.]+) \(359 images\)", text).group(1))
    assert test_acc > 0.85
    for name in ("best.ckpt", "last.ckpt", "history.csv"):
        assert (out / name).is_file()
    pytest.importorskip("matplotlib")
    for name in ("history.png", "confusion.png", "filters.png", "layer_stats.png"):
        assert (out / name).stat().st_size > 1000
    rows = list(csv.DictReader(open(out / "history.csv", encoding="utf-8")))
    assert [r["epoch"] for r in rows] == ["1", "2"]

    code, text = run(["eval", str(out / "best.ckpt")], capsys)
    assert code == 0
    acc = float(re.search(r"accuracy ([\d.]+)", text).group(1))
    err = float(re.search(r"zero-one error ([\d.]+)", text).group(1))
    assert acc == pytest.approx(test_acc, abs=1e-4) and acc + err == pytest.approx(1.0, abs=2e-4)
    matrix = [line.split()[1:] for line in text.splitlines() if re.match(r"\s+\d \s", line)]
    assert len(matrix) == 10 and sum(int(v) for row in matrix for v in row) == 359

    model, config, ckpt = images.load_classifier(out / "best.ckpt")
    assert config.dropout == 0.1 and config.mean == pytest.approx(images.normalization("digits")[0])
    assert ckpt["epoch"] in (1, 2) and not model.training


def test_train_images_lenet_with_augmentation_is_seeded(tmp_path, capsys):
    argv = ["train-images", "--model", "lenet", "--epochs", "1", "--augment", "--no-progress",
            "--val-fraction", "0.5", "--patience", "1", "--scheduler", "cosine"]
    weights = []
    for name in ("a", "b"):
        code, text = run(argv + ["--out", str(tmp_path / name)], capsys)
        assert code == 0
        weights.append(dg.load(tmp_path / name / "last.ckpt")["model"])
    assert weights[0].keys() == weights[1].keys()
    assert all(dg.equal(weights[0][k], weights[1][k]) for k in weights[0])


def _write_idx(path, array_bytes, shape, type_code=0x08):
    header = bytes([0, 0, type_code, len(shape)]) + struct.pack(f">{len(shape)}I", *shape)
    path.write_bytes(gzip.compress(header + array_bytes))


@pytest.fixture
def fake_mnist(tmp_path):
    """A 40-image training set and 20-image test set in MNIST's gzipped IDX format."""
    gen = dg.Generator().manual_seed(0)
    for prefix, n in (("train", 40), ("t10k", 20)):
        pixels = dg.randint(0, 256, (n, 28, 28), generator=gen).to(dg.uint8)
        labels = dg.randint(0, 10, (n,), generator=gen).to(dg.uint8)
        _write_idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz", pixels.numpy().tobytes(), (n, 28, 28))
        _write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte.gz", labels.numpy().tobytes(), (n,))
    return tmp_path


def test_train_images_on_mnist_files_with_lenet(fake_mnist, tmp_path, capsys):
    out = tmp_path / "mnist-run"
    code, text = run(["train-images", "--dataset", "mnist", "--root", str(fake_mnist), "--model", "lenet",
                      "--epochs", "1", "--batch-size", "8", "--augment", "--out", str(out), "--no-progress"],
                     capsys)
    assert code == 0 and "test accuracy" in text and "(20 images)" in text
    code, text = run(["eval", str(out / "last.ckpt"), "--split", "train"], capsys)
    assert code == 0 and "mnist train split, 40 images" in text


def test_lr_find_and_tune_commands(tmp_path, capsys):
    plot = tmp_path / "lr.png"
    code, text = run(["lr-find", "--model", "mlp", "--steps", "60", "--out", str(plot)], capsys)
    assert code == 0
    suggestion = float(re.search(r"suggested learning rate: ([\d.e+-]+)", text).group(1))
    assert 1e-3 < suggestion < 1.0
    table_csv = tmp_path / "tune.csv"
    code, text = run(["tune", "--model", "mlp", "--trials", "3", "--epochs", "1", "--sampler", "random",
                      "--out", str(table_csv)], capsys)
    assert code == 0 and "3 trials (random search), 1 epochs each" in text
    rows = list(csv.DictReader(open(table_csv, encoding="utf-8")))
    accs = [float(r["val_accuracy"]) for r in rows]
    assert accs == sorted(accs, reverse=True) and [r["rank"] for r in rows] == ["1", "2", "3"]
    assert set(rows[0]) == {"rank", "trial", "lr", "weight_decay", "dropout", "val_accuracy", "val_loss",
                            "seconds"}
    assert all(1e-3 <= float(r["lr"]) <= 0.3 and 0 <= float(r["dropout"]) <= 0.5 for r in rows)


@pytest.mark.parametrize("dataset", list(DATASETS))
@pytest.mark.parametrize("model", MODELS)
def test_models_take_their_input_geometry(model, dataset):
    channels, size = input_geometry(model, dataset)
    net = build_model(model, dataset).eval()
    with dg.no_grad():
        out = net(dg.randn(2, channels, size, size))
    assert out.shape == (2, DATASETS[dataset].classes)


def test_transforms_resize_normalise_and_repeat_channels():
    gray = (dg.rand(28, 28) * 255).to(dg.uint8).numpy()
    x = image_transform("mnist", "vgg", (0.5,), (0.25,), augment=False)(gray)
    assert x.shape == (3, 32, 32) and x.dtype == dg.float32
    assert dg.equal(x[0], x[2])
    digit = dg.full((1, 8, 8), 0.75)
    y = image_transform("digits", "mlp", (0.5,), (0.25,), augment=False)(digit)
    assert dg.allclose(y, dg.ones(1, 8, 8))
    aug = image_transform("digits", "lenet", (0.0,), (1.0,), augment=True)(dg.ones(1, 8, 8))
    assert aug.shape == (1, 8, 8) and aug.sum().item() >= 49   # shifted by at most one pixel


def test_user_errors(tmp_path, capsys):
    with pytest.raises(ValueError, match="the lenet model for mnist has no dropout layer"):
        build_model("lenet", "mnist", dropout=0.2)
    with pytest.raises(ValueError, match="unknown model 'alexnet'; choose one of mlp, lenet, vgg, resnet"):
        input_geometry("alexnet", "digits")
    with pytest.raises(ValueError, match="--root is needed for cifar10"):
        images.load_splits(ImageConfig(dataset="cifar10", mean=(0, 0, 0), std=(1, 1, 1)))
    with pytest.raises(FileNotFoundError, match="CIFAR10: cannot find"):
        images.load_splits(ImageConfig(dataset="cifar10", root=str(tmp_path)).resolve())
    with pytest.raises(ValueError, match="val_fraction 0.0 leaves no validation"):
        images.load_splits(ImageConfig(val_fraction=0.0).resolve())
    dg.save({"weights": dg.zeros(2)}, tmp_path / "other.ckpt")
    with pytest.raises(ValueError, match="not an image-classifier checkpoint"):
        run(["eval", str(tmp_path / "other.ckpt")], capsys)
