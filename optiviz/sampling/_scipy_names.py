"""Names and shape parameters of scipy.stats' univariate distributions (scipy 1.17).

Importing scipy.stats costs more than half a second, so validation and the normal fast path use
this table and import scipy.stats only when a distribution is built. tests/test_sampling.py
checks that the table matches the installed scipy exactly.
"""

# name -> comma-separated shape parameters (loc and scale come on top)
CONTINUOUS = {
    "alpha": "a", "anglit": "", "arcsine": "", "argus": "chi", "beta": "a,b", "betaprime": "a,b",
    "bradford": "c", "burr": "c,d", "burr12": "c,d", "cauchy": "", "chi": "df", "chi2": "df",
    "cosine": "", "crystalball": "beta,m", "dgamma": "a", "dpareto_lognorm": "u,s,a,b",
    "dweibull": "c", "erlang": "a", "expon": "", "exponnorm": "K", "exponpow": "b",
    "exponweib": "a,c", "f": "dfn,dfd", "fatiguelife": "c", "fisk": "c", "foldcauchy": "c",
    "foldnorm": "c", "gamma": "a", "gausshyper": "a,b,c,z", "genexpon": "a,b,c",
    "genextreme": "c", "gengamma": "a,c", "genhalflogistic": "c", "genhyperbolic": "p,a,b",
    "geninvgauss": "p,b", "genlogistic": "c", "gennorm": "beta", "genpareto": "c", "gibrat": "",
    "gompertz": "c", "gumbel_l": "", "gumbel_r": "", "halfcauchy": "", "halfgennorm": "beta",
    "halflogistic": "", "halfnorm": "", "hypsecant": "", "invgamma": "a", "invgauss": "mu",
    "invweibull": "c", "irwinhall": "n", "jf_skew_t": "a,b", "johnsonsb": "a,b",
    "johnsonsu": "a,b", "kappa3": "a", "kappa4": "h,k", "ksone": "n", "kstwo": "n",
    "kstwobign": "", "landau": "", "laplace": "", "laplace_asymmetric": "kappa", "levy": "",
    "levy_l": "", "levy_stable": "alpha,beta", "loggamma": "c", "logistic": "", "loglaplace": "c",
    "lognorm": "s", "loguniform": "a,b", "lomax": "c", "maxwell": "", "mielke": "k,s",
    "moyal": "", "nakagami": "nu", "ncf": "dfn,dfd,nc", "nct": "df,nc", "ncx2": "df,nc",
    "norm": "", "norminvgauss": "a,b", "pareto": "b", "pearson3": "skew", "powerlaw": "a",
    "powerlognorm": "c,s", "powernorm": "c", "rayleigh": "", "rdist": "c", "recipinvgauss": "mu",
    "reciprocal": "a,b", "rel_breitwigner": "rho", "rice": "b", "semicircular": "",
    "skewcauchy": "a", "skewnorm": "a", "studentized_range": "k,df", "t": "df",
    "trapezoid": "c,d", "triang": "c", "truncexpon": "b", "truncnorm": "a,b",
    "truncpareto": "b,c", "truncweibull_min": "c,a,b", "tukeylambda": "lam", "uniform": "",
    "vonmises": "kappa", "vonmises_line": "kappa", "wald": "", "weibull_max": "c",
    "weibull_min": "c", "wrapcauchy": "c",
}
DISCRETE = {
    "bernoulli": "p", "betabinom": "n,a,b", "betanbinom": "n,a,b", "binom": "n,p",
    "boltzmann": "lambda_,N", "dlaplace": "a", "geom": "p", "hypergeom": "M,n,N", "logser": "p",
    "nbinom": "n,p", "nchypergeom_fisher": "M,n,N,odds", "nchypergeom_wallenius": "M,n,N,odds",
    "nhypergeom": "M,n,r", "planck": "lambda_", "poisson": "mu", "poisson_binom": "p",
    "randint": "low,high", "skellam": "mu1,mu2", "yulesimon": "alpha", "zipf": "a",
    "zipfian": "a,n",
}
