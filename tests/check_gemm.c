// check_gemm.c: darknet's gemm (OpenBLAS with BLAS=1: pjreddie's patch 0011, AlexeyAB's 0017) and the fork's own gemm
// (gemm_naive) against a double-precision triple-loop oracle written here, on random shapes:
// all four TA/TB variants, beta 0 and 1, odd sizes, leading dimensions larger than the matrix.
// With BLAS=0 gemm_cpu is gemm_naive, and the same checks hold.
#include <check.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "gemm.h"


// ----------------------------------------------------------------------------------------------
// deterministic random numbers in [-1, 1) (darknet's own code calls rand(); stay out of its way)

static unsigned long long gemm_rng = 88172645463325252ULL;

static float rnd(void)
{
    gemm_rng ^= gemm_rng << 13;
    gemm_rng ^= gemm_rng >> 7;
    gemm_rng ^= gemm_rng << 17;
    return (float)((gemm_rng >> 40) / (double)(1ULL << 24)) * 2.0f - 1.0f;
}

// ----------------------------------------------------------------------------------------------
// the oracle: C = alpha * op(A) * op(B) + beta * C in double, row-major like darknet.
// op(A) is (M, K): A is (M, lda) when !TA, (K, lda) when TA. op(B) is (K, N): B is (K, ldb) when
// !TB, (N, ldb) when TB. C is (M, ldc). scale gets sum |alpha a b| + |beta c| per element, the
// size a float rounding error is measured against.

static void gemm_oracle(int TA, int TB, int M, int N, int K, float alpha,
                        const float *A, int lda, const float *B, int ldb,
                        float beta, const float *C, int ldc, double *out, double *scale)
{
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < N; j++) {
            double c = (double)beta * C[i * ldc + j];
            double s = fabs(c);
            for (int k = 0; k < K; k++) {
                double a = TA ? A[k * lda + i] : A[i * lda + k];
                double b = TB ? B[j * ldb + k] : B[k * ldb + j];
                c += (double)alpha * a * b;
                s += fabs((double)alpha * a * b);
            }
            out[i * N + j] = c;
            scale[i * N + j] = s;
        }
    }
}

typedef void (*gemm_fn)(int, int, int, int, int, float, float *, int, float *, int, float, float *, int);

// Runs fn on one random problem and compares with the oracle; pad widens every leading dimension.
// The padding columns of C hold a sentinel that must come back untouched. Returns failures.
static int gemm_case(const char *name, gemm_fn fn, int TA, int TB, int M, int N, int K,
                     float alpha, float beta, int pad)
{
    int lda = (TA ? M : K) + pad, arows = TA ? K : M;
    int ldb = (TB ? K : N) + pad, brows = TB ? N : K;
    int ldc = N + pad;
    if (lda < 1) lda = 1;
    if (ldb < 1) ldb = 1;
    float *A = malloc(sizeof(float) * (arows * lda + 1));
    float *B = malloc(sizeof(float) * (brows * ldb + 1));
    float *C = malloc(sizeof(float) * (M * ldc + 1));
    float *C0 = malloc(sizeof(float) * (M * ldc + 1));
    double *ref = malloc(sizeof(double) * (M * N + 1));
    double *scale = malloc(sizeof(double) * (M * N + 1));
    ck_assert(A && B && C && C0 && ref && scale);
    for (int i = 0; i < arows * lda; i++) A[i] = rnd();
    for (int i = 0; i < brows * ldb; i++) B[i] = rnd();
    for (int i = 0; i < M; i++)
        for (int j = 0; j < ldc; j++) C[i * ldc + j] = j < N ? rnd() : 12345.0f;
    memcpy(C0, C, sizeof(float) * M * ldc);

    gemm_oracle(TA, TB, M, N, K, alpha, A, lda, B, ldb, beta, C0, ldc, ref, scale);
    fn(TA, TB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);

    int bad = 0;
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < ldc; j++) {
            float got = C[i * ldc + j];
            if (j >= N) {
                if (got != 12345.0f && bad++ < 3)
                    fprintf(stderr, "%s TA=%d TB=%d M=%d N=%d K=%d ldc=%d: wrote C[%d][%d] "
                            "outside the matrix (%g)\n", name, TA, TB, M, N, K, ldc, i, j, got);
                continue;
            }
            double want = ref[i * N + j];
            double tol = 4.0 * (K + 2) * FLT_EPSILON * scale[i * N + j] + 1e-30;
            if (!(fabs(got - want) <= tol) && bad++ < 3)
                fprintf(stderr, "%s TA=%d TB=%d M=%d N=%d K=%d alpha=%g beta=%g lda=%d ldb=%d "
                        "ldc=%d: C[%d][%d] = %.9g, oracle %.9g (tol %.3g)\n", name, TA, TB, M, N,
                        K, alpha, beta, lda, ldb, ldc, i, j, got, want, tol);
        }
    }
    free(A); free(B); free(C); free(C0); free(ref); free(scale);
    return bad;
}

// Shapes: degenerate, odd, tall, wide, and the sizes a small conv net feeds darknet's gemm
// (filters x out-pixels x size*size*channels).
static const int shapes[][3] = {
    {1, 1, 1}, {1, 7, 3}, {5, 1, 9}, {3, 4, 1}, {7, 13, 5}, {13, 7, 17}, {17, 33, 2},
    {31, 9, 63}, {2, 129, 31}, {65, 3, 40}, {16, 64, 27}, {32, 49, 144}, {10, 8, 512},
};
#define NSHAPES (int)(sizeof(shapes) / sizeof(shapes[0]))

static int gemm_sweep(const char *name, gemm_fn fn)
{
    int bad = 0;
    for (int s = 0; s < NSHAPES; s++)
        for (int t = 0; t < 4; t++)
            for (int beta = 0; beta <= 1; beta++)
                for (int pad = 0; pad <= 3; pad += 3) {
                    float alpha = (s % 3 == 2) ? -0.75f : 1.0f;
                    bad += gemm_case(name, fn, t >> 1, t & 1, shapes[s][0], shapes[s][1],
                                     shapes[s][2], alpha, (float)beta, pad);
                }
    return bad;
}

// ----------------------------------------------------------------------------------------------

START_TEST(gemm_cpu_matches_oracle)
{
    fprintf(stderr, "gemm backend: %s\n", gemm_backend());
    ck_assert_int_eq(gemm_sweep("gemm_cpu", gemm_cpu), 0);
}
END_TEST

START_TEST(gemm_naive_matches_oracle)
{
    ck_assert_int_eq(gemm_sweep("gemm_naive", gemm_naive), 0);
}
END_TEST

START_TEST(gemm_dispatch_matches_oracle)
{
    ck_assert_int_eq(gemm_sweep("gemm", gemm), 0);
}
END_TEST

// beta = 0 must replace whatever C held; beta = 1 accumulates (darknet's backward relies on both).
START_TEST(beta_zero_overwrites_beta_one_accumulates)
{
    float A[6] = {1, 2, 3, 4, 5, 6};  // (2, 3)
    float B[6] = {1, 0, 0, 1, 1, 1};  // (3, 2)
    float C[4] = {100, 100, 100, 100};// (2, 2)
    gemm_cpu(0, 0, 2, 2, 3, 1, A, 3, B, 2, 0, C, 2);
    float want0[4] = {4, 5, 10, 11};
    for (int i = 0; i < 4; i++) ck_assert_float_eq_tol(C[i], want0[i], 1e-6);
    gemm_cpu(0, 0, 2, 2, 3, 1, A, 3, B, 2, 1, C, 2);
    for (int i = 0; i < 4; i++) ck_assert_float_eq_tol(C[i], 2 * want0[i], 1e-6);
}
END_TEST

// K = 0: no products, C = beta * C (BLAS would reject lda = 0; the patch routes it to the loops).
START_TEST(empty_inner_dimension_scales_c)
{
    float A[1] = {7}, B[1] = {7};
    float C[6] = {1, 2, 3, 4, 5, 6};  // (2, 3)
    gemm_cpu(0, 0, 2, 3, 0, 1, A, 0, B, 3, 0.5f, C, 3);
    for (int i = 0; i < 6; i++) ck_assert_float_eq_tol(C[i], 0.5f * (i + 1), 1e-7);
}
END_TEST

// A conv-sized problem on two threads: OpenBLAS's threaded kernels give the same numbers.
START_TEST(two_threads_match_oracle)
{
    gemm_set_threads(2);
    int bad = 0;
    for (int t = 0; t < 4; t++) bad += gemm_case("gemm_cpu/2 threads", gemm_cpu, t >> 1, t & 1,
                                                  64, 256, 288, 1.0f, (float)(t & 1), 1);
    gemm_set_threads(1);
    ck_assert_int_eq(bad, 0);
}
END_TEST

// The one thread count (patches pjreddie/0011, alexeyab/0017): a positive argument wins, else
// OPENBLAS_NUM_THREADS, else OMP_NUM_THREADS, else every core; a variable that is not a positive
// whole number is skipped.
// OpenBLAS gets the count too (openblas_get_num_threads), and OpenMP in an OPENMP=1 build.
int openblas_get_num_threads(void) __attribute__((weak));   // absent in a BLAS=0 build
START_TEST(one_thread_count_from_flag_environment_or_cores)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    unsetenv("OPENBLAS_NUM_THREADS");
    unsetenv("OMP_NUM_THREADS");
    ck_assert_int_eq(gemm_set_threads(0), cores);
    ck_assert_int_eq(gemm_threads(), cores);
    setenv("OMP_NUM_THREADS", "3", 1);
    ck_assert_int_eq(gemm_set_threads(0), 3);
    setenv("OPENBLAS_NUM_THREADS", "2", 1);
    ck_assert_int_eq(gemm_set_threads(0), 2);
    ck_assert_int_eq(gemm_set_threads(5), 5);
    ck_assert_int_eq(gemm_threads(), 5);
    setenv("OPENBLAS_NUM_THREADS", "2x", 1);
    ck_assert_int_eq(gemm_set_threads(0), 3);
    setenv("OMP_NUM_THREADS", "0", 1);
    ck_assert_int_eq(gemm_set_threads(0), cores);
    gemm_set_threads(3);
    if (openblas_get_num_threads) ck_assert_int_eq(openblas_get_num_threads(), 3);
#ifdef _OPENMP
    ck_assert_int_eq(omp_get_max_threads(), 3);
#endif
    unsetenv("OPENBLAS_NUM_THREADS");
    unsetenv("OMP_NUM_THREADS");
    gemm_set_threads(1);
}
END_TEST

Suite *make_gemm_suite(void)
{
    Suite *s = suite_create("gemm");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, gemm_cpu_matches_oracle);
    tcase_add_test(tc, gemm_naive_matches_oracle);
    tcase_add_test(tc, gemm_dispatch_matches_oracle);
    tcase_add_test(tc, beta_zero_overwrites_beta_one_accumulates);
    tcase_add_test(tc, empty_inner_dimension_scales_c);
    tcase_add_test(tc, two_threads_match_oracle);
    tcase_add_test(tc, one_thread_count_from_flag_environment_or_cores);
    suite_add_tcase(s, tc);
    return s;
}
