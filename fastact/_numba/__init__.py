"""Backend 'numba': every op as lazily compiled, disk-cached Numba kernels.

``elementwise.py`` holds the scalar math of the elementwise ops, ``rows.py``
the row kernels of the softmax family and maxout, ``prelu.py`` the per-channel
loops, ``kernels.py`` the loops generated from them, and ``backend.py`` the
dispatcher's entry points.  Nothing here is imported by ``import fastact``.
"""
