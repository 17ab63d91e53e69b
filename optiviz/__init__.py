"""optiviz: animated optimizers racing over loss surfaces, and samplers filling histograms.

In Python and Jupyter: ``optiviz.animate(config, **overrides)`` (see :mod:`optiviz.notebook`);
the pipeline piece by piece: :mod:`optiviz.api`.
"""

from typing import Any

from optiviz.errors import ConfigError, OptivizError

__version__ = "0.1.0"
__all__ = ["Animation", "ConfigError", "OptivizError", "animate", "__version__"]


def __getattr__(name: str) -> Any:
    # imported on first use: ``import optiviz`` stays light (the CLI, batch workers)
    if name in ("animate", "Animation"):
        from optiviz import notebook

        return getattr(notebook, name)
    raise AttributeError(f"module 'optiviz' has no attribute {name!r}")
