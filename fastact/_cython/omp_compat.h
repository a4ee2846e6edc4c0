/* The OpenMP thread cap when built with OpenMP (threadpoolctl sets it), else 1. */
#ifdef _OPENMP
#include <omp.h>
static inline int fastact_max_threads(void) { return omp_get_max_threads(); }
static const int fastact_openmp = 1;
#else
static inline int fastact_max_threads(void) { return 1; }
static const int fastact_openmp = 0;
#endif
