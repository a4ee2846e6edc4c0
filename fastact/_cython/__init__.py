"""Backend 'cython': ahead-of-time compiled kernels (typed memoryviews, OpenMP).

``scalar.pxd`` holds the scalar math of the elementwise ops, ``rows.pxd`` the
row kernels, ``_kernels.pyx.tp`` the template setup.py renders into the loops
(built twice: baseline and AVX2+FMA), and ``backend.py`` the dispatcher's entry
points.
"""
