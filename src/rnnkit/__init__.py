"""rnnkit: recurrent neural networks done properly, on PyTorch."""

__version__ = "0.1.0"
