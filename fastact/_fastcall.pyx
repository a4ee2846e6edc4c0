# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""Run a ufunc's own inner loop on the common case, without NumPy's dispatch.

A call through NumPy's ufunc machinery costs about 0.45 us before the first element is
computed (argument parsing, type resolution, the iterator): at 2^10 float32 elements as
long as a sigmoid itself.  Almost every call is the same simple case: exact ndarrays
of one native float32 or float64 dtype, contiguous in the same order, Python-float
parameters and a new result (or an ``out=`` array of that kind).  For that case ``call`` finds the inner loop the ufunc
registered for the dtype and runs it over the whole buffer as NumPy would run it (the
same loop, the same operands, so the same bits).  For anything else it returns None,
and the caller calls the ufunc through NumPy.

It works on any ufunc made with PyUFunc_FromFuncAndData or ...AndSignature (the
Cython and Numba backends' both are), including generalized ufuncs whose operands
have at most one core dimension, on the last axis: (n)->(n), (n),(n)->(n), (n)->(),
(),(n),()->(n), (n)->(m) (whose m the caller gives) and (m),(n)->(n).
"""

cimport numpy as cnp
from cpython.contextvars cimport get_value
from cpython.float cimport PyFloat_AS_DOUBLE, PyFloat_CheckExact
from cpython.ref cimport PyObject
from libc.math cimport INFINITY, fabs

cnp.import_array()
cnp.import_ufunc()

cdef extern from "Python.h":
    PyObject* PyErr_Occurred()

cdef extern from "numpy/ufuncobject.h":
    ctypedef struct PyUFuncObject:
        int nin, nout, nargs, ntypes
        cnp.PyUFuncGenericFunction* functions
        void** data
        char* types
        int core_enabled
        int core_num_dim_ix
        int* core_num_dims
        int* core_dim_ixs
        int* core_offsets

# NumPy's inner-loop type, callable without the GIL (the loops do not need it)
ctypedef void (*inner_loop)(char**, cnp.npy_intp*, cnp.npy_intp*, void*) noexcept nogil

cdef enum:
    MAX_OPERANDS = 8
    MAX_CORE_DIMS = 2
    # Loops over this many elements or more run without the GIL (as NumPy's do).
    NOGIL_MIN_ELEMENTS = 4096

# float32 parameters from this magnitude on would round to inf: the caller's to decide
cdef double FLOAT32_OVERFLOW = 2.0 ** 128 - 2.0 ** 103


cdef int _raise_if_error() except -1:
    """-1 (Cython then raises it) if the loop set a Python error (a failed allocation)."""
    return -1 if PyErr_Occurred() != NULL else 0


cdef inline int _core_dim(PyUFuncObject* uf, int k) noexcept:
    """The index of operand k's core dimension (n, m, ...), or -1 for a core-less one."""
    if not uf.core_enabled or uf.core_num_dims[k] == 0:
        return -1
    return uf.core_dim_ixs[uf.core_offsets[k]]


cdef inline bint _loop_operand(cnp.ndarray a, int typenum, int ndim, bint fortran,
                               cnp.npy_intp* shape, int n_shape) noexcept:
    """Whether the loop can take ``a`` as it is: of type ``typenum``, native, aligned,
    ``ndim``-dimensional, C-contiguous (Fortran-contiguous where ``fortran``), and of
    ``shape`` along its first ``n_shape`` axes."""
    cdef int i
    if (cnp.PyArray_TYPE(a) != typenum or cnp.PyArray_NDIM(a) != ndim
            or not cnp.PyArray_ISNOTSWAPPED(a) or not cnp.PyArray_ISALIGNED(a)
            or not (cnp.PyArray_IS_F_CONTIGUOUS(a) if fortran
                    else cnp.PyArray_IS_C_CONTIGUOUS(a))):
        return False
    for i in range(n_shape):
        if cnp.PyArray_DIMS(a)[i] != shape[i]:
            return False
    return True


cpdef object call(ufunc, tuple arrays, tuple params, Py_ssize_t out_core_length=-1, out=None):
    """``ufunc(*arrays, *params)`` (``out=out`` given) computed by the ufunc's own loop, or
    None.

    None unless: every array is an exact, aligned ndarray of one native float32 or
    float64 dtype; all are C-contiguous (or, without core dimensions, all
    Fortran-contiguous); they have one shape, except that a generalized ufunc's
    operands share the loop shape and add their core length (if any) as the last
    axis; nothing is empty; every parameter is a Python float that the dtype holds
    (finite float32 parameters beyond its range are the caller's to reject); and the
    ufunc has a loop whose every type is that dtype.  ``out_core_length``: the length
    of the output's core dimension where no input has it (maxout's m).  ``out``, if
    given, must be an exact, aligned, native, writeable ndarray of the result's dtype and
    shape, contiguous as the arrays are, and share no byte with any of them, except as
    the very same buffer of an elementwise ufunc's operand (an in-place call: each
    element is read before it is written); it is then filled and returned.  (NumPy's own
    dispatch, the caller's fallback, copies around other overlaps; the row loops may read
    an input after writing their output.)
    """
    if type(ufunc) is not cnp.ufunc:
        return None
    cdef PyUFuncObject* uf = <PyUFuncObject*> ufunc
    cdef Py_ssize_t n_arrays = len(arrays), n_params = len(params)
    cdef int nargs = uf.nargs, core = uf.core_enabled, typenum, i, k, ix, loop_ndim
    if uf.nout != 1 or n_arrays + n_params != uf.nin or n_arrays == 0 or nargs > MAX_OPERANDS:
        return None
    if core:
        if uf.core_num_dim_ix > MAX_CORE_DIMS:
            return None
        for k in range(nargs):
            if uf.core_num_dims[k] > 1 or (k >= n_arrays and k < nargs - 1 and uf.core_num_dims[k]):
                return None

    # the loop shape: the first array's shape, without its last axis if that is a core one
    first = arrays[0]
    if not cnp.PyArray_CheckExact(first):
        return None
    cdef cnp.ndarray a = <cnp.ndarray> first
    typenum = cnp.PyArray_TYPE(a)
    if typenum != cnp.NPY_FLOAT32 and typenum != cnp.NPY_FLOAT64:
        return None
    cdef cnp.npy_intp* loop_shape = cnp.PyArray_DIMS(a)
    loop_ndim = cnp.PyArray_NDIM(a) - (_core_dim(uf, 0) >= 0)
    if loop_ndim < 0 or (not core and loop_ndim == 0):
        return None
    cdef bint fortran = (not core and loop_ndim > 1 and not cnp.PyArray_IS_C_CONTIGUOUS(a)
                         and cnp.PyArray_IS_F_CONTIGUOUS(a))
    cdef cnp.npy_intp loops = 1
    for i in range(loop_ndim):
        loops *= loop_shape[i]

    # every array: exact, aligned, native, contiguous alike, the loop shape plus its core
    cdef char* args[MAX_OPERANDS]
    cdef cnp.npy_intp steps[2 * MAX_OPERANDS]
    cdef cnp.npy_intp dims[1 + MAX_CORE_DIMS]
    cdef cnp.npy_intp core_length[MAX_CORE_DIMS]
    cdef cnp.npy_intp itemsize = 4 if typenum == cnp.NPY_FLOAT32 else 8, length
    cdef int n_core = 0
    for ix in range(MAX_CORE_DIMS):
        core_length[ix] = -1
    for k in range(n_arrays):
        item = arrays[k]
        if not cnp.PyArray_CheckExact(item):
            return None
        a = <cnp.ndarray> item
        ix = _core_dim(uf, k)
        if not _loop_operand(a, typenum, loop_ndim + (ix >= 0), fortran, loop_shape, loop_ndim):
            return None
        args[k] = cnp.PyArray_BYTES(a)
        steps[k] = itemsize
        if ix >= 0:
            length = cnp.PyArray_DIMS(a)[loop_ndim]
            if core_length[ix] >= 0 and core_length[ix] != length:
                return None
            core_length[ix] = length
            steps[k] = length * itemsize
            steps[nargs + n_core] = itemsize
            n_core += 1

    # the parameters, as the loop's type
    cdef double as_double[MAX_OPERANDS]
    cdef float as_float[MAX_OPERANDS]
    for k in range(n_params):
        value = params[k]
        if not PyFloat_CheckExact(value):
            return None
        as_double[k] = PyFloat_AS_DOUBLE(value)
        if typenum == cnp.NPY_FLOAT32:
            if FLOAT32_OVERFLOW <= fabs(as_double[k]) < INFINITY:
                return None
            as_float[k] = <float> as_double[k]
            args[n_arrays + k] = <char*> &as_float[k]
        else:
            args[n_arrays + k] = <char*> &as_double[k]
        steps[n_arrays + k] = 0

    # the ufunc's loop whose every operand is of this type
    cdef int found = -1
    for i in range(uf.ntypes):
        for k in range(nargs):
            if uf.types[i * nargs + k] != typenum:
                break
        else:
            found = i
            break
    if found < 0:
        return None

    # the result: the loop shape plus its core length, new, in the arrays' order
    ix = _core_dim(uf, nargs - 1)
    if ix >= 0:
        if core_length[ix] < 0:
            if out_core_length < 0:
                return None
            core_length[ix] = out_core_length
        steps[nargs - 1] = core_length[ix] * itemsize
        steps[nargs + n_core] = itemsize
    else:
        steps[nargs - 1] = itemsize
    cdef cnp.npy_intp out_shape[cnp.NPY_MAXDIMS]
    for i in range(loop_ndim):
        out_shape[i] = loop_shape[i]
    if ix >= 0:
        out_shape[loop_ndim] = core_length[ix]
    cdef cnp.npy_intp size = loops
    for i in range(uf.core_num_dim_ix if core else 0):
        if core_length[i] < 0:
            return None
        dims[1 + i] = core_length[i]
        size *= core_length[i]
    if size == 0 or loops == 0:
        return None
    cdef int out_ndim = loop_ndim + (ix >= 0)
    cdef cnp.ndarray result
    cdef char* lo
    cdef char* hi
    if out is None:
        result = cnp.PyArray_EMPTY(out_ndim, out_shape, typenum, fortran)
    else:
        if not cnp.PyArray_CheckExact(out):
            return None
        result = <cnp.ndarray> out
        if (not cnp.PyArray_ISWRITEABLE(result)
                or not _loop_operand(result, typenum, out_ndim, fortran, out_shape, out_ndim)):
            return None
        lo = cnp.PyArray_BYTES(result)
        hi = lo + cnp.PyArray_NBYTES(result)
        for k in range(n_arrays):
            a = <cnp.ndarray> arrays[k]
            if cnp.PyArray_BYTES(a) < hi and lo < cnp.PyArray_BYTES(a) + cnp.PyArray_NBYTES(a):
                # overlapping: only the same buffer of an elementwise operand (contiguous
                # alike and of one shape and dtype, so element i is element i)
                if core or cnp.PyArray_BYTES(a) != lo or cnp.PyArray_NBYTES(a) != hi - lo:
                    return None
    args[nargs - 1] = cnp.PyArray_BYTES(result)
    dims[0] = loops

    cdef inner_loop loop = <inner_loop> <void*> uf.functions[found]
    cdef void* data = uf.data[found]
    if size >= NOGIL_MIN_ELEMENTS:
        with nogil:
            loop(args, dims, steps, data)
    else:
        loop(args, dims, steps, data)
    _raise_if_error()
    if out is not None:
        return out  # as ufuncs return out= itself, 0-d included
    return result[()] if out_ndim == 0 else result  # a NumPy scalar, as ufuncs return


# ---------------------------------------------------------------- calls without backend=
# The functions fastact._api gives (set_general_paths) and the default backend's ufuncs
# that fastact._dispatch gives whenever the default changes (set_default_ufuncs).
cdef object _general_elementwise = None  # fastact._api's _elementwise, in Python
cdef object _general_rows = None         # fastact._api's _rows, in Python
cdef dict _default_ufuncs = None         # by kernel name; None: the Python path only
cdef object _override = None             # the ContextVar of use_backend blocks


def set_general_paths(elementwise, rows):
    """The Python functions that ``elementwise`` and ``rows`` fall back on: fastact._api's
    _elementwise and _rows, which check and run every call."""
    global _general_elementwise, _general_rows
    _general_elementwise, _general_rows = elementwise, rows


def set_default_ufuncs(ufuncs, override):
    """The default backend's ufuncs by kernel name (None where it has none that serve
    every size: the reference, or Numba's serial and parallel pairs), and ``override``,
    the ContextVar of a use_backend block's backend, under which they are not the ones
    in effect."""
    global _default_ufuncs, _override
    _default_ufuncs = None if ufuncs is None else dict(ufuncs)
    _override = override


cdef inline object _default_ufunc(kernel, backend):
    """The ufunc of ``kernel`` that a call with ``backend`` runs, if that is the default
    backend's, known here; else None."""
    cdef dict ufuncs = _default_ufuncs
    if backend is None and ufuncs is not None and get_value(_override) is None:
        return ufuncs.get(kernel)
    return None


def elementwise(fname, op, kernel, names, tuple arrays, params, out, backend):
    """fastact._api's _elementwise (same arguments, same result), its common case run here
    without a Python frame.

    Without ``backend=`` and outside use_backend blocks, ``call`` runs the default
    backend's ufunc of ``kernel``: the ufunc, and so the loop, that _elementwise would
    run, so the same bits.  Whatever ``call`` declines, and every other call, goes to
    _elementwise.  At 2^10 float32 elements this saves about a third of the call (the
    Python frames of _elementwise and of the backend's and ufunc's lookups)."""
    ufunc = _default_ufunc(kernel, backend)
    if ufunc is not None and type(params) is tuple:
        result = call(ufunc, arrays, <tuple> params, -1, out)
        if result is not None:
            return result
    return _general_elementwise(fname, op, kernel, names, arrays, params, out, backend)


def rows(fname, op, kernel, names, tuple arrays, axis, out, backend):
    """fastact._api's _rows (same arguments, same result), its common case (as
    ``elementwise``'s, along axis -1) run here."""
    ufunc = _default_ufunc(kernel, backend)
    if ufunc is not None and type(axis) is int and axis == -1:
        result = call(ufunc, arrays, (), -1, out)
        if result is not None:
            return result
    return _general_rows(fname, op, kernel, names, arrays, axis, out, backend)
