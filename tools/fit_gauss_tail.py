"""Fit, round and check the rational R(t) = P(t)/Q(t) ~ e^(t^2/2) Phi(-t) of exact GELU.

The kernels (fastact/_cython/vecmath.h fa_norm_sfx, fastact/_numba/vecmath.py norm_sfx)
compute Phi(-t) = R(t) e^(-t^2/2) with one rational, deg Q = deg P + 1 (R falls like
1/(sqrt(2 pi) t)), Q(0) = 1, minimax in relative error on [0, T]: (4, 5) on [0, 14.5] for
float32, (10, 11) on [0, 38.7] for float64, where e^(-t^2/2) has underflowed.

    python tools/fit_gauss_tail.py --check            # the committed coefficients' error
    python tools/fit_gauss_tail.py --fit float64      # Lawson then rational Remez (minutes)
    python tools/fit_gauss_tail.py --fit float64 --milp 300   # and round them by MILP

The fit runs in mpmath at 90 digits: Lawson's iteratively reweighted least squares on
Chebyshev points of s = t/T, then rational Remez (Newton on the levelled-error system at
2m + 3 alternation points).  Rounding each coefficient to nearest lost 0.7 ulp in float64
(8.2e-17 against 9.1e-19); the committed float64 ones add an integer number of ulps to
each, chosen by a mixed-integer LP (scipy's HiGHS, time-limited, so a rerun may choose
others of the same quality): 7.6e-18.  The committed float32 coefficients are an earlier
Lawson fit (5.9e-9 unrounded, like this Remez fit): rounded to float they reach 1.6e-8,
where this fit rounded to nearest reaches 3.9e-8 (0.27 against 0.65 ulp).  Needs mpmath
(and scipy for --milp); not part of the package.
"""

from __future__ import annotations

import argparse

import mpmath as mp
import numpy as np

mp.mp.dps = 90
DEGREE = {"float32": 4, "float64": 10}
T_MAX = {"float32": 14.5, "float64": 38.7}


def exact(t):
    return mp.exp(t * t / 2) * mp.ncdf(-t)


def horner(c, x):
    """c[0] + c[1] x + ... (lowest power first)."""
    r = mp.mpf(0)
    for a in reversed(c):
        r = r * x + a
    return r


def chebyshev_points(n):
    return [(1 - mp.cos(mp.pi * k / (n - 1))) / 2 for k in range(n)]


def lawson(m, xs, ys, iters=50):
    """P (deg m), Q (deg m + 1, Q(0) = 1) in s minimising max relative error on xs."""
    n1 = n2 = m + 1
    w = [mp.mpf(1) / len(xs)] * len(xs)
    q = [mp.mpf(1)] * len(xs)
    powers = [[x ** d for d in range(2 * m + 3)] for x in xs]
    best = None
    for _ in range(iters):
        mu = [[mp.mpf(0)] * (2 * m + 3) for _ in range(3)]
        for i, p in enumerate(powers):
            c = w[i] / (ys[i] * q[i]) ** 2
            for d in range(2 * m + 3):
                mu[0][d] += c * p[d]
                mu[1][d] += c * ys[i] * p[d]
                mu[2][d] += c * ys[i] ** 2 * p[d]
        A = mp.matrix(n1 + n2, n1 + n2)
        v = mp.matrix(n1 + n2, 1)
        for j in range(n1):
            for k in range(n1):
                A[j, k] = mu[0][j + k]
            for k in range(n2):
                A[j, n1 + k] = A[n1 + k, j] = -mu[1][j + k + 1]
            v[j] = mu[1][j]
        for j in range(n2):
            for k in range(n2):
                A[n1 + j, n1 + k] = mu[2][j + k + 2]
            v[n1 + j] = -mu[2][j + 1]
        sol = mp.lu_solve(A, v)
        a = [sol[k] for k in range(n1)]
        b = [mp.mpf(1)] + [sol[n1 + k] for k in range(n2)]
        q = [horner(b, x) for x in xs]
        errors = [(horner(a, x) / q[i] - ys[i]) / ys[i] for i, x in enumerate(xs)]
        worst = max(abs(e) for e in errors)
        if best is None or worst < best[0]:
            best = (worst, a, b)
        w = [wi * abs(e) for wi, e in zip(w, errors)]
        w = [wi / sum(w) for wi in w]
    return best[1], best[2]


def remez(m, a, b, f, grid, iters=40):
    """Rational Remez from (a, b): levels the relative error at 2m + 3 alternating extrema."""
    yg = [f(s) for s in grid]
    for _ in range(iters):
        e = [(horner(a, s) / horner(b, s) - y) / y for s, y in zip(grid, yg)]
        extrema = [(grid[i], e[i]) for i in range(len(e))
                   if abs(e[i]) >= abs(e[max(i - 1, 0)]) and abs(e[i]) >= abs(e[min(i + 1, len(e) - 1)])]
        alternating = []
        for s, v in extrema:
            if alternating and (alternating[-1][1] > 0) == (v > 0):
                if abs(v) > abs(alternating[-1][1]):
                    alternating[-1] = (s, v)
            else:
                alternating.append((s, v))
        while len(alternating) > 2 * m + 3:
            alternating.pop(0 if abs(alternating[0][1]) < abs(alternating[-1][1]) else -1)
        worst = max(abs(v) for _, v in extrema)
        if worst / min(abs(v) for _, v in alternating) - 1 < 1e-9:
            break
        xs = [s for s, _ in alternating]
        ys = [f(s) for s in xs]
        sign = [1 if v > 0 else -1 for _, v in alternating]
        u = list(a) + list(b[1:]) + [sum(abs(v) for _, v in alternating) / len(alternating)]
        n1, n = m + 1, 2 * m + 3
        for _ in range(30):  # Newton: P(x) - y (1 + sign E) Q(x) = 0 at each point
            aa, bb, E = u[:n1], [mp.mpf(1)] + u[n1:n - 1], u[-1]
            F, J = mp.matrix(n, 1), mp.matrix(n, n)
            for i, (x, y) in enumerate(zip(xs, ys)):
                fac = y * (1 + sign[i] * E)
                F[i] = horner(aa, x) - fac * horner(bb, x)
                for k in range(n1):
                    J[i, k] = x ** k
                for k in range(1, m + 2):
                    J[i, n1 + k - 1] = -fac * x ** k
                J[i, n - 1] = -y * sign[i] * horner(bb, x)
            d = mp.lu_solve(J, F)
            u = [ui - di for ui, di in zip(u, d)]
            if max(abs(di) for di in d) < mp.mpf(10) ** -60:
                break
        a, b = u[:n1], [mp.mpf(1)] + u[n1:n - 1]
    return a, b


def fit(dtype):
    m, T = DEGREE[dtype], mp.mpf(T_MAX[dtype])
    f = lambda s: exact(s * T)  # noqa: E731
    xs = chebyshev_points(1500)
    a, b = lawson(m, xs, [f(x) for x in xs])
    a, b = remez(m, a, b, f, chebyshev_points(6000))
    return [c / T ** k for k, c in enumerate(a)], [c / T ** k for k, c in enumerate(b)]


def relative_error(P, Q, dtype, n=4000):
    """Max |P/Q - R| / R over a Chebyshev grid of [0, T], in exact arithmetic."""
    T = T_MAX[dtype]
    ts = [mp.mpf(float(s * T)) for s in chebyshev_points(n)]
    P = [mp.mpf(c) for c in P]
    Q = [mp.mpf(c) for c in Q]
    return max(abs(horner(P, t) / horner(Q, t) / exact(t) - 1) for t in ts)


def milp_rounding(P, Q, dtype, seconds):
    """Round to float64 plus integer ulp offsets minimising the linearised max error."""
    from scipy.optimize import Bounds, LinearConstraint, milp
    P0, Q0 = [float(c) for c in P], [float(c) for c in Q]
    ts = [mp.mpf(float(s * T_MAX[dtype])) for s in chebyshev_points(2500)]
    ys = [exact(t) for t in ts]
    p = [horner([mp.mpf(c) for c in P0], t) for t in ts]
    q = [horner([mp.mpf(c) for c in Q0], t) for t in ts]
    scale = 2.0 ** 60
    b = np.array([float((pi / qi - y) / y) for pi, qi, y in zip(p, q, ys)]) * scale
    cols = [[float(t ** k / (qi * y)) * np.spacing(abs(c)) * scale for t, qi, y in zip(ts, q, ys)]
            for k, c in enumerate(P0)]
    cols += [[float(-pi * t ** k / (qi ** 2 * y)) * np.spacing(abs(c)) * scale
              for t, pi, qi, y in zip(ts, p, q, ys)] for k, c in enumerate(Q0) if k > 0]
    A = np.array(cols).T
    nv = A.shape[1]
    ones = np.ones((A.shape[0], 1))
    res = milp(np.r_[np.zeros(nv), 1.0],
               constraints=[LinearConstraint(np.hstack([A, -ones]), -np.inf, -b),
                            LinearConstraint(np.hstack([-A, -ones]), -np.inf, b)],
               bounds=Bounds(np.r_[-40.0 * np.ones(nv), 0], np.r_[40.0 * np.ones(nv), np.inf]),
               integrality=np.r_[np.ones(nv), 0], options={"time_limit": seconds})
    n = np.round(res.x[:nv]).astype(int)
    P1 = [c + int(k) * np.spacing(abs(c)) for c, k in zip(P0, n)]
    Q1 = [1.0] + [c + int(k) * np.spacing(abs(c)) for c, k in zip(Q0[1:], n[len(P0):])]
    return P1, Q1


def committed(dtype):
    from fastact._numba import vecmath
    suffix = "F32" if dtype == "float32" else "F64"
    P = getattr(vecmath, f"_NORM_SFX_P_{suffix}")[::-1]
    Q = getattr(vecmath, f"_NORM_SFX_Q_{suffix}")[::-1]
    return [float(c) for c in P], [float(c) for c in Q]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="the committed coefficients' error")
    parser.add_argument("--fit", choices=sorted(DEGREE), help="fit anew for this dtype")
    parser.add_argument("--milp", type=float, metavar="SECONDS",
                        help="round by mixed-integer LP (float64; needs scipy)")
    args = parser.parse_args()
    if args.check or not args.fit:
        for dtype in DEGREE:
            P, Q = committed(dtype)
            err = relative_error(P, Q, dtype)
            print(f"{dtype}: P{len(P) - 1}/Q{len(Q) - 1} on [0, {T_MAX[dtype]}], "
                  f"max relative error {mp.nstr(err, 3)} = 2^{mp.nstr(mp.log(err, 2), 4)}")
    if args.fit:
        P, Q = fit(args.fit)
        print("unrounded:", mp.nstr(relative_error(P, Q, args.fit), 3))
        np_type = np.float32 if args.fit == "float32" else np.float64
        if args.milp and args.fit == "float64":
            P, Q = milp_rounding(P, Q, args.fit, args.milp)
        P = [float(np_type(float(c))) for c in P]
        Q = [float(np_type(float(c))) for c in Q]
        print("rounded:", mp.nstr(relative_error(P, Q, args.fit), 3))
        print("P (highest power first):", [repr(c) for c in P[::-1]])
        print("Q (highest power first):", [repr(c) for c in Q[::-1]])


if __name__ == "__main__":
    main()
