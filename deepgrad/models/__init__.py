"""Ready-made models built from the public API."""
from .charlm import CharLM, beam_search, sample  # noqa: F401
from .mlp import MLP  # noqa: F401
from .autoencoder import Autoencoder  # noqa: F401
from .convnets import VGG, AlexNet, LeNet  # noqa: F401
from .resnet import (  # noqa: F401
    BasicBlock, Bottleneck, ResNet, cifar_resnet, resnet18, resnet20, resnet34, resnet50)
from .captioner import Captioner, caption_loss, feature_extractor, greedy_decode, sample_captions  # noqa: F401
from .perceptron import Perceptron  # noqa: F401
from .seq2seq import Seq2Seq, sequence_loss, translate  # noqa: F401
