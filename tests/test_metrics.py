"""Classification metrics against scikit-learn and hand-computed values."""
import numpy as np
import pytest
from sklearn import metrics as skm

import deepgrad as dg
from deepgrad import metrics


def _data(n=60, c=5, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, c)), rng.integers(0, c, n)


def test_accuracy_from_logits_and_from_labels():
    scores, y = _data()
    expected = skm.accuracy_score(y, scores.argmax(1))
    assert metrics.accuracy(dg.tensor(scores), dg.tensor(y)) == pytest.approx(expected)
    assert metrics.accuracy(dg.tensor(scores.argmax(1)), dg.tensor(y)) == pytest.approx(expected)
    assert metrics.zero_one_error(dg.tensor(scores), dg.tensor(y)) == pytest.approx(1 - expected)
    assert metrics.accuracy(dg.tensor([2, 0, 1, 1]), dg.tensor([2, 0, 0, 1])) == 0.75


def test_accuracy_ignores_autograd_and_handles_one_sample_and_dense_targets():
    logits = dg.tensor([[0.1, 2.0, -1.0], [3.0, 0.0, 0.0]], requires_grad=True)
    assert metrics.accuracy(logits, dg.tensor([1, 2])) == 0.5
    assert metrics.accuracy(dg.tensor([0.2, 0.1, 0.9]), dg.tensor(2)) == 1.0  # (C,) scores, 0-d target
    seg = np.zeros((2, 3, 4, 4))
    seg[:, 1] = 1.0  # every pixel predicts class 1
    target = np.ones((2, 4, 4), dtype=np.int64)
    target[0, 0, 0] = 0
    assert metrics.zero_one_error(dg.tensor(seg), dg.tensor(target)) == pytest.approx(1 / 32)


def test_confusion_matrix_matches_sklearn():
    scores, y = _data(80, 4, seed=1)
    cm = metrics.confusion_matrix(dg.tensor(scores), dg.tensor(y), num_classes=4)
    assert cm.dtype == dg.int64 and cm.shape == (4, 4)
    np.testing.assert_array_equal(cm.numpy(), skm.confusion_matrix(y, scores.argmax(1), labels=range(4)))
    pred = np.array([0, 2, 2, 1])
    cm = metrics.confusion_matrix(dg.tensor(pred), dg.tensor([0, 1, 2, 1]))  # classes inferred: 3
    np.testing.assert_array_equal(cm.numpy(), [[1, 0, 0], [0, 1, 1], [0, 0, 1]])


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_top_k_accuracy_matches_sklearn(k):
    scores, y = _data(70, 5, seed=2)
    expected = skm.top_k_accuracy_score(y, scores, k=k, labels=range(5))
    assert metrics.top_k_accuracy(dg.tensor(scores), dg.tensor(y), k) == pytest.approx(expected)


def test_top_1_agrees_with_accuracy_at_ties():
    scores = dg.zeros(4, 3)  # all tied: argmax picks class 0, and so does top-1
    y = dg.tensor([0, 1, 2, 0])
    assert metrics.top_k_accuracy(scores, y, 1) == metrics.accuracy(scores, y) == 0.5
    assert metrics.top_k_accuracy(scores, y, 2) == 0.75


def test_metric_errors():
    with pytest.raises(ValueError, match=r"accuracy: expected predicted labels of the target's shape "
                                         r"\(3,\) or scores .* got shape \(2,\)"):
        metrics.accuracy(dg.tensor([1, 2]), dg.tensor([1, 2, 0]))
    with pytest.raises(TypeError, match="target must hold integer class labels, got dtype float32"):
        metrics.accuracy(dg.tensor([1.0]), dg.tensor([1.0]))
    with pytest.raises(ValueError, match="accuracy: the target is empty"):
        metrics.accuracy(dg.zeros(0, 3), dg.zeros(0, dtype=dg.int64))
    with pytest.raises(ValueError, match="k must be between 1 and the number of classes 3, got 4"):
        metrics.top_k_accuracy(dg.zeros(2, 3), dg.tensor([0, 1]), 4)
    with pytest.raises(ValueError, match=r"expected scores of shape \(N, C, \.\.\.\) for a target .* \(2,\)"):
        metrics.top_k_accuracy(dg.zeros(2), dg.tensor([0, 1]), 1)
    with pytest.raises(ValueError, match="target label 3 is out of range for num_classes=3"):
        metrics.confusion_matrix(dg.tensor([0, 1]), dg.tensor([0, 3]), 3)
