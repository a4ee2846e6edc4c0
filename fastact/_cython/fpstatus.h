/* Clearing the floating-point status flags at the end of a loop.
 *
 * NumPy tests the flags after every ufunc loop and warns (or raises, under np.errstate)
 * on overflow, division by zero and invalid operations; a vectorised loop computes both
 * sides of each select, so the lanes it discards raise such flags on ordinary inputs.
 * Every loop therefore clears them when it finishes.
 *
 * On x86-64 the kernels compute in SSE/AVX registers only, whose flags live in MXCSR:
 * reading it, and writing it back only when a flag is set, costs a few cycles.  glibc's
 * feclearexcept also stores and reloads the x87 environment: about 230 TSC ticks (~90 ns
 * on the Emerald Rapids guest), 7% of a whole call on 1024 floats.  Elsewhere (and on
 * 32-bit x86, whose float math may run on the x87) it stays feclearexcept. */
#ifndef FASTACT_FPSTATUS_H
#define FASTACT_FPSTATUS_H

#if defined(__x86_64__) || defined(_M_X64)
#include <xmmintrin.h>
#define FA_MXCSR_FLAGS 0x3Fu /* invalid, denormal, divide by zero, overflow, underflow, inexact */
static inline void fa_clear_fp_status(void) {
    unsigned int csr = _mm_getcsr();
    if (csr & FA_MXCSR_FLAGS)
        _mm_setcsr(csr & ~FA_MXCSR_FLAGS);
}
#else
#include <fenv.h>
static inline void fa_clear_fp_status(void) { feclearexcept(FE_ALL_EXCEPT); }
#endif

#endif
