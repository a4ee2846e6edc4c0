# cython: language_level=3
# Row kernels of the Cython backend, written in C (rows.h) so that their sums
# can use `omp simd reduction` (the only reassociation anywhere) and vectorise.

cdef extern from "rows.h" nogil:
    void fa_softmax_f32(const float* x, float* out, Py_ssize_t n)
    void fa_log_softmax_f32(const float* x, float* out, Py_ssize_t n)
    float fa_logsumexp_f32(const float* x, Py_ssize_t n)
    void fa_softmax_backward_f32(const float* g, const float* y, float* out, Py_ssize_t n)
    void fa_log_softmax_backward_f32(const float* g, const float* y, float* out, Py_ssize_t n)
    void fa_logsumexp_backward_f32(float g, const float* x, float y, float* out, Py_ssize_t n)
    float fa_prelu_weight_grad_f32(const float* g, const float* x, Py_ssize_t n)
    void fa_maxout_f32(const float* x, float* out, Py_ssize_t groups, Py_ssize_t pieces)
    void fa_maxout_backward_f32(const float* g, const float* x, float* out, Py_ssize_t groups, Py_ssize_t pieces)
    void fa_softmax_f64(const double* x, double* out, Py_ssize_t n)
    void fa_log_softmax_f64(const double* x, double* out, Py_ssize_t n)
    double fa_logsumexp_f64(const double* x, Py_ssize_t n)
    void fa_softmax_backward_f64(const double* g, const double* y, double* out, Py_ssize_t n)
    void fa_log_softmax_backward_f64(const double* g, const double* y, double* out, Py_ssize_t n)
    void fa_logsumexp_backward_f64(double g, const double* x, double y, double* out, Py_ssize_t n)
    double fa_prelu_weight_grad_f64(const double* g, const double* x, Py_ssize_t n)
    void fa_maxout_f64(const double* x, double* out, Py_ssize_t groups, Py_ssize_t pieces)
    void fa_move_rows_f32(float* buffer, char* base, Py_ssize_t row_step, Py_ssize_t core_step,
                          Py_ssize_t n_rows, Py_ssize_t length, Py_ssize_t pitch, int gather)
    void fa_move_rows_f64(double* buffer, char* base, Py_ssize_t row_step, Py_ssize_t core_step,
                          Py_ssize_t n_rows, Py_ssize_t length, Py_ssize_t pitch, int gather)
    void fa_maxout_backward_f64(const double* g, const double* x, double* out, Py_ssize_t groups, Py_ssize_t pieces)
