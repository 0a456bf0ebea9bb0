"""Runnable demos of the lectures' experiments; each prints its results and writes PNGs to ``--out``:

    python -m deepgrad.examples.curve_fitting --out figures/
    python -m deepgrad.examples.perceptron_2d --out figures/
    python -m deepgrad.examples.transfer_digits --out figures/
"""
