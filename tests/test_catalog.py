"""optiviz.catalog: the `optiviz list` tables are read from the registries, whole."""

from __future__ import annotations

import pytest

from optiviz import catalog
from optiviz.errors import UnknownNameError
from optiviz.functions import FUNCTIONS
from optiviz.optimizers import OPTIMIZERS
from optiviz.render.writers import WRITERS
from optiviz.sampling import METHODS
from optiviz.sampling.distributions import DISTRIBUTIONS
from optiviz.schedules import SCHEDULES

REGISTRIES = {
    "optimizers": OPTIMIZERS,
    "functions": FUNCTIONS,
    "schedules": SCHEDULES,
    "methods": METHODS,
}


def rows(kind: str) -> dict[str, str]:
    """First cell of each table row -> the row (continuation lines joined to it)."""
    lines = catalog.table(kind).splitlines()[3:]
    out: dict[str, str] = {}
    last = None
    for line in lines:
        if line and not line.startswith(" "):
            last = line.split()[0]
            out[last] = line
        elif last is not None:
            out[last] += " " + line.strip()
    return out


def column(kind: str, name: str, heading: str) -> str:
    """One cell of a table, its wrapped lines joined by spaces."""
    lines = catalog.table(kind).splitlines()
    header, rule = lines[1], lines[2]
    start = header.index(heading)
    end = rule.find(" ", start)
    cell, inside = [], False
    for line in lines[3:]:
        if line and not line.startswith(" "):
            inside = line.split()[0] == name
        if inside:
            cell.append(line[start:end if end > 0 else None].strip())
    return " ".join(part for part in cell if part)


@pytest.mark.parametrize("kind", catalog.kinds())
def test_every_kind_has_a_titled_table(kind):
    text = catalog.table(kind)
    title, header, rule = text.splitlines()[:3]
    assert title.startswith(f"{kind} (") and header.startswith(("name", "extension"))
    assert set(rule.replace(" ", "")) == {"-"}


def test_no_kind_lists_every_table():
    text = catalog.all_tables()
    assert [k for k in catalog.kinds() if f"\n{k} (" in "\n" + text] == list(catalog.kinds())


@pytest.mark.parametrize(
    ("kind", "name"), [(kind, name) for kind, registry in REGISTRIES.items() for name in registry]
)
def test_every_registered_name_is_listed_with_its_parameters(kind, name):
    heading = "options: defaults" if kind == "methods" else "parameters: defaults"
    cell = column(kind, name, heading)
    params = REGISTRIES[kind].get(name).params
    assert cell == (", ".join(f"{p.name}: {p.describe_default()}" for p in params) or "-")


@pytest.mark.parametrize("extension", list(WRITERS))
def test_every_output_format_is_listed(extension):
    assert f".{extension}" in rows("writers")


def test_optimizer_rows_name_their_torch_counterpart():
    assert "torch.optim.Adam" in rows("optimizers")["adam"]


def test_functions_show_domain_and_minima():
    row = rows("functions")["rosenbrock"]
    assert "[-2, 2] x [-1, 3]" in row and "global minimum (1, 1) = 0" in row


@pytest.mark.parametrize(
    "name", [n for n, s in DISTRIBUTIONS.items() if s.family in ("multivariate", "target")]
)
def test_non_scipy_distributions_are_listed(name):
    assert name in rows("distributions")


def test_scipy_distributions_are_listed_by_alias_and_summarized():
    table = catalog.table("distributions")
    listed = rows("distributions")
    assert "normal" in listed["norm"] and "binomial" in listed["binom"]
    assert "any scipy.stats distribution by name" in table
    assert "gamma" not in listed  # no alias: covered by the footer, not a row


def test_unknown_kind_names_the_closest():
    with pytest.raises(UnknownNameError) as caught:
        catalog.table("optimisers")
    assert caught.value.suggestion == "optimizers"
