"""The optimizer registry. Adding an optimizer = one module defining an ``OptimizerSpec`` and one
line below; config validation, ``optiviz list`` and the tests pick it up from ``OPTIMIZERS``."""

from __future__ import annotations

from optiviz.optimizers.adam import ADAM, ADAMAX, ADAMW, NADAM, RADAM
from optiviz.optimizers.adaptive import ADADELTA, ADAGRAD, RMSPROP
from optiviz.optimizers.averaged import ASGD
from optiviz.optimizers.base import InnerOptimizer, OptimizerSpec, Oracle
from optiviz.optimizers.lookahead import LOOKAHEAD
from optiviz.optimizers.newton import NEWTON
from optiviz.optimizers.quasi_newton import LBFGS
from optiviz.optimizers.sgd import SGD
from optiviz.optimizers.sign import LION, RPROP
from optiviz.optimizers.textbook import GD, MOMENTUM, NAG
from optiviz.registry import Registry

OPTIMIZERS: Registry[OptimizerSpec] = Registry("optimizer")

for _spec in (
    SGD, ADAGRAD, RMSPROP, ADAM, ADAMW, ADAMAX, NADAM, RADAM, ADADELTA, RPROP, ASGD, LBFGS,
    GD, MOMENTUM, NAG, NEWTON, LION, LOOKAHEAD,
):
    OPTIMIZERS.add(_spec.name, _spec)

__all__ = ["OPTIMIZERS", "InnerOptimizer", "OptimizerSpec", "Oracle"]
