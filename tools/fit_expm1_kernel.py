"""Fit and check the e^r - 1 kernel's polynomial: r + r^2 q(r) on |r| <= ln2/2.

The kernel (fastact/_cython/vecmath.h fa_expm1_kernel_f/_d, fastact/_numba/vecmath.py
_EXPM1_Q_F32/_F64) serves expm1 (elu, selu, celu) and tanh after the reduction
x = n ln2 + r.  q approximates (e^r - 1 - r)/r^2 with q(0) = 1/2 exact, minimax in the
relative error of the kernel's result e^r - 1 (the error that reaches the ops): degree 4
for float32, 10 for float64.  Taylor series took one term more in each (to r^7, to r^13)
for less accuracy than these.

    python tools/fit_expm1_kernel.py --check          # the committed coefficients' error
    python tools/fit_expm1_kernel.py --fit float32    # Remez exchange, then round

The fit runs in mpmath at 60 digits: the linear Remez exchange on a grid of 4000
Chebyshev points of [-L, L], L = 1.0001 ln2/2 (the reduction's r reaches ln2/2 by a
rounding or two).  Coefficients are then rounded to nearest in the dtype.  Needs mpmath;
not part of the package.
"""

from __future__ import annotations

import argparse

import mpmath as mp

mp.mp.dps = 60
DEGREE = {"float32": 4, "float64": 10}
HALF_RANGE = mp.log(2) / 2 * mp.mpf("1.0001")


def q_exact(r):
    """(e^r - 1 - r)/r^2, with the digits its cancellation near 0 needs."""
    if r == 0:
        return mp.mpf(1) / 2
    with mp.workdps(mp.mp.dps + 40):
        return +((mp.expm1(r) - r) / r ** 2)


def weight(r):
    """From an error in q to the relative error of r + r^2 q: r^2 / (e^r - 1)."""
    return r ** 2 / mp.expm1(r) if r != 0 else mp.mpf(0)


def horner(c, x):
    """c[0] + c[1] x + ... (lowest power first)."""
    p = mp.mpf(0)
    for a in reversed(c):
        p = p * x + a
    return p


def grid(n=4000):
    return [HALF_RANGE * mp.cos(mp.pi * (k + mp.mpf(1) / 2) / n) for k in range(n)]


def relative_error(c, points=None):
    """Max |r + r^2 q(r) - (e^r - 1)| / |e^r - 1| of coefficients c (lowest first)."""
    c = [mp.mpf(v) for v in c]
    return max(abs(weight(r) * (horner(c, r) - q_exact(r))) for r in (points or grid(1500)))


def remez(degree, iters=30):
    """q = 1/2 + c1 r + ... + c_degree r^degree minimising max |w (q - q_exact)|."""
    xs = grid()
    f = [q_exact(r) for r in xs]
    w = [weight(r) for r in xs]
    n = degree + 1  # unknowns c1..c_degree and the levelled error E
    # n Chebyshev points to start, none at 0 (where the weight, so the error, vanishes)
    ref = sorted(HALF_RANGE * mp.cos(mp.pi * (k + mp.mpf(1) / 2) / (n + 1)) for k in range(n + 1))
    ref.remove(min(ref, key=abs))
    c = None
    for _ in range(iters):
        A = mp.matrix(n, n)
        b = mp.matrix(n, 1)
        for i, r in enumerate(ref):
            for j in range(1, degree + 1):
                A[i, j - 1] = r ** j
            A[i, n - 1] = (-1) ** i / weight(r)
            b[i] = q_exact(r) - mp.mpf(1) / 2
        sol = mp.lu_solve(A, b)
        c = [mp.mpf(1) / 2] + [sol[j] for j in range(degree)]
        err = [wi * (horner(c, r) - fi) for r, fi, wi in zip(xs, f, w)]
        # the extremum of each run of one sign, then the n largest alternating ones
        peaks, start = [], 0
        for i in range(1, len(xs) + 1):
            if i == len(xs) or (err[i] > 0) != (err[start] > 0):
                k = max(range(start, i), key=lambda j: abs(err[j]))
                peaks.append(k)
                start = i
        while len(peaks) > n:
            drop = min(range(len(peaks)), key=lambda j: abs(err[peaks[j]]))
            if drop in (0, len(peaks) - 1):
                peaks.pop(drop)
            else:  # keep the alternation: merge the smaller pair
                peaks.pop(drop)
                merged = []
                for k in peaks:
                    if merged and (err[k] > 0) == (err[merged[-1]] > 0):
                        if abs(err[k]) > abs(err[merged[-1]]):
                            merged[-1] = k
                    else:
                        merged.append(k)
                peaks = merged
        if len(peaks) < n:
            break
        new = [xs[k] for k in peaks]
        if all(abs(a - b_) < mp.mpf(10) ** -30 for a, b_ in zip(new, ref)):
            break
        ref = new
    return c


def committed(dtype):
    """The coefficients in the package, lowest power first (Numba's tables; the Cython
    kernel spells the same numbers, which the backends' bit-for-bit tests hold)."""
    from fastact._numba import vecmath
    table = vecmath._EXPM1_Q_F32 if dtype == "float32" else vecmath._EXPM1_Q_F64
    return [float(v) for v in table[::-1]]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="the committed coefficients' error")
    parser.add_argument("--fit", choices=sorted(DEGREE), help="fit anew for this dtype")
    args = parser.parse_args()
    if args.check or not args.fit:
        for dtype in DEGREE:
            err = relative_error(committed(dtype))
            print(f"{dtype}: degree {DEGREE[dtype]} + 2, max relative error "
                  f"{mp.nstr(err, 3)} = 2^{mp.nstr(mp.log(err, 2), 4)}")
    if args.fit:
        import numpy as np
        c = remez(DEGREE[args.fit])
        print("unrounded:", mp.nstr(relative_error(c), 3))
        np_type = np.float32 if args.fit == "float32" else np.float64
        c = [float(np_type(float(v))) for v in c]
        print("rounded:", mp.nstr(relative_error(c), 3))
        print("q (highest power first):", [repr(v) for v in c[::-1]])


if __name__ == "__main__":
    main()
