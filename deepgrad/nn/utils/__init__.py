"""(being written) nn.utils: gradient clipping and regularisation helpers."""
