"""optiviz: animated optimizers racing over loss surfaces, and samplers filling histograms."""

__version__ = "0.1.0"
