"""The plotted range of a discrete distribution: scipy's quantiles, found in a few dozen cdf
calls, and heavy tails refused in one line instead of a quantile search that never ends."""

import subprocess
import sys

import pytest
import scipy.stats

from optiviz.sampling.distributions import _finite_domain

CASES = [scipy.stats.binom(10, 0.3), scipy.stats.binom(1000, 0.5), scipy.stats.poisson(4),
         scipy.stats.poisson(0.01), scipy.stats.poisson(4, loc=-100), scipy.stats.zipf(3.5),
         scipy.stats.geom(0.5), scipy.stats.randint(-5, 5), scipy.stats.nbinom(5, 0.5),
         scipy.stats.bernoulli(0.3), scipy.stats.boltzmann(1.4, 19), scipy.stats.dlaplace(0.8)]


@pytest.mark.parametrize("frozen", CASES, ids=lambda f: f"{f.dist.name}{f.args}")
def test_discrete_ranges_are_scipys_quantiles(frozen):
    low, high = _finite_domain(frozen, True)
    q_low, q_high = frozen.ppf([0.001, 0.999])
    s_low, s_high = frozen.support()
    # whole bounded supports are kept (their edges are the story), else the quantiles
    assert low + 0.5 in (q_low, s_low) and high - 0.5 in (q_high, s_high)


def test_a_tail_too_heavy_to_draw_is_refused_in_one_line_at_once(tmp_path):
    config = tmp_path / "zipf.yaml"
    config.write_text("title: zipf\nsampling: {distribution: {name: zipf, a: 1.1}, "
                      "samples: 1000}\nrender: {output: z.gif}\n")
    result = subprocess.run([sys.executable, "-m", "optiviz", "validate", str(config)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"error: {config}:2: sampling.distribution: zipf with these "
                           "parameters cannot be drawn: its 99.9% quantile lies beyond ")
    assert "unit bins a histogram may have" in line
