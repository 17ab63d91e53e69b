"""The optimizer registry. Adding an optimizer = one module defining an ``OptimizerSpec`` and one
line below; config validation, ``optiviz list`` and the tests pick it up from ``OPTIMIZERS``.

Optimizers from outside optiviz (:mod:`optiviz.optimizers.plugins`): packages registering the
entry-point group ``optiviz.optimizers`` join ``OPTIMIZERS`` the first time it is read;
``{name: "pkg.module:obj"}`` and ``{torch: ...}`` entries are resolved by the config loader."""

from __future__ import annotations

from optiviz.optimizers.adam import ADAM, ADAMAX, ADAMW, NADAM, RADAM
from optiviz.optimizers.adaptive import ADADELTA, ADAGRAD, RMSPROP
from optiviz.optimizers.averaged import ASGD
from optiviz.optimizers.base import InnerOptimizer, OptimizerSpec, Oracle
from optiviz.optimizers.lookahead import LOOKAHEAD
from optiviz.optimizers.newton import NEWTON
from optiviz.optimizers.plugins import PluginRegistry
from optiviz.optimizers.quasi_newton import LBFGS
from optiviz.optimizers.sgd import SGD
from optiviz.optimizers.sign import LION, RPROP
from optiviz.optimizers.textbook import GD, MOMENTUM, NAG

OPTIMIZERS: PluginRegistry = PluginRegistry("optimizer")

for _spec in (
    SGD, ADAGRAD, RMSPROP, ADAM, ADAMW, ADAMAX, NADAM, RADAM, ADADELTA, RPROP, ASGD, LBFGS,
    GD, MOMENTUM, NAG, NEWTON, LION, LOOKAHEAD,
):
    OPTIMIZERS.add(_spec.name, _spec)

__all__ = ["OPTIMIZERS", "InnerOptimizer", "OptimizerSpec", "Oracle"]
