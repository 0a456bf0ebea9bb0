"""Convolutional training steps on 3x32x32 images, cross-entropy, SGD (lr 0.01, momentum 0.9).

- ``cnn/lenet``: the lectures' LeNet-5, batch 64: conv5x5 3->6, ReLU, maxpool 2, conv5x5 6->16, ReLU,
  maxpool 2, then fully connected 400->120->84->10.
- ``cnn/vgg``: a VGG-style block stack, batch 32: conv3x3 (padding 1) 3->32, ReLU, 32->32, ReLU,
  maxpool 2, 32->64, ReLU, 64->64, ReLU, maxpool 2, flatten, linear 64*8*8->10.

They measure deepgrad's convolution and pooling kernels (im2col + matrix product) against PyTorch's,
time and peak memory. Run: ``python benchmarks/cnn.py [--quick] [--only cnn/vgg]``.
"""
import _harness as H  # first: pins the thread pools before numpy loads

REQUIRES = ("nn.Conv2d", "nn.MaxPool2d", "optim.SGD")


def _lenet(nn):
    return nn.Sequential(
        nn.Conv2d(3, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


def _vgg(nn):
    return nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 8 * 8, 10))


CASES = [
    H.Case("cnn/lenet", "LeNet-5 training step, batch 64, 3x32x32, SGD momentum 0.9",
           H.classifier_builder(_lenet, (64, 3, 32, 32)), steps=60, target=1.5, requires=REQUIRES),
    H.Case("cnn/vgg", "VGG-style 4-conv training step, batch 32, 3x32x32, SGD momentum 0.9",
           H.classifier_builder(_vgg, (32, 3, 32, 32)), steps=30, target=1.5, requires=REQUIRES),
]

if __name__ == "__main__":
    H.run_modules(["cnn"], __doc__)
