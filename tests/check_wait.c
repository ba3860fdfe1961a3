// check_wait.c: OpenMP's wait policy chosen at start (src/waitpolicy.c, patches pjreddie 0056 and
// alexeyab 0019): the choice from thread, core and running-task counts, /proc/loadavg's text, the
// user's variables left alone, and darknet restarting itself with the variable set and its
// arguments (-threads) kept.
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "waitpolicy.h"
#include "testutil.h"

START_TEST(spins_only_when_every_thread_has_an_idle_core)
{
    ck_assert_int_eq(wait_choose(2, 2, 0), WAIT_SPIN);
    ck_assert_int_eq(wait_choose(1, 2, 1), WAIT_SPIN);
    ck_assert_int_eq(wait_choose(2, 2, 1), WAIT_PASSIVE);   // one thread would share a core
    ck_assert_int_eq(wait_choose(16, 16, 0), WAIT_SPIN);
    ck_assert_int_eq(wait_choose(16, 16, 3), WAIT_PASSIVE);
    ck_assert_int_eq(wait_choose(8, 16, 8), WAIT_SPIN);
    ck_assert_int_eq(wait_choose(8, 16, 9), WAIT_PASSIVE);
    ck_assert_int_eq(wait_choose(4, 2, 0), WAIT_PASSIVE);   // more threads than cores
    ck_assert_int_eq(wait_choose(0, 2, 0), WAIT_SPIN);      // 0 threads counts as 1
    ck_assert_int_eq(wait_choose(2, 0, 0), WAIT_PASSIVE);   // cores unknown
}
END_TEST

START_TEST(loadavg_running_count)
{
    ck_assert_int_eq(wait_loadavg_running("0.46 1.00 1.11 2/345 1234\n"), 2);
    ck_assert_int_eq(wait_loadavg_running("17.02 16.50 15.90 19/1200 99"), 19);
    ck_assert_int_eq(wait_loadavg_running("0.46 1.00 1.11"), -1);
    ck_assert_int_eq(wait_loadavg_running(""), -1);
    ck_assert_int_eq(wait_loadavg_running(NULL), -1);
    ck_assert_int_eq(wait_loadavg_running("a b c 1/2 3"), -1);
}
END_TEST

// wait_default leaves a variable the user set alone; otherwise it reads the machine. (wait_name
// reports the variables as the process started: check_all runs with OMP_WAIT_POLICY=passive.)
START_TEST(user_variables_are_kept)
{
    char *p = getenv("OMP_WAIT_POLICY"), *c = getenv("GOMP_SPINCOUNT");
    char *ps = p ? strdup(p) : NULL, *cs = c ? strdup(c) : NULL;
    unsetenv("GOMP_SPINCOUNT");
    setenv("OMP_WAIT_POLICY", "active", 1);
    ck_assert_int_eq(wait_default(2), WAIT_USER);
    unsetenv("OMP_WAIT_POLICY");
    setenv("GOMP_SPINCOUNT", "5", 1);
    ck_assert_int_eq(wait_default(2), WAIT_USER);
    unsetenv("GOMP_SPINCOUNT");
    wait_policy w = wait_default(1);
    ck_assert(w == WAIT_SPIN || w == WAIT_PASSIVE);
    // 4096 threads never have a core each
    ck_assert_int_eq(wait_default(4096), WAIT_PASSIVE);
    if (ps) setenv("OMP_WAIT_POLICY", ps, 1);
    if (cs) setenv("GOMP_SPINCOUNT", cs, 1);
    if (ps) ck_assert_str_eq(wait_name(), ps);   // as the process started, not as set since
    free(ps); free(cs);
}
END_TEST

// darknet with neither variable set starts again with one of them set, its -threads kept
// (`darknet saliency` alone prints the usage with the thread count and the wait in effect)
START_TEST(darknet_restarts_with_a_policy_and_its_arguments)
{
    static const struct { const char *env, *threads, *thread_text, *want, *want2; } c[] = {
        {"env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT", "-threads 1", "This run: 1 thread,", "wait: spin 1000", "wait: passive"},
        {"env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT", "-threads 4096", "This run: 4096 threads,", "wait: passive", NULL},
        {"env -u GOMP_SPINCOUNT OMP_WAIT_POLICY=active", "-threads 2", "This run: 2 threads,", "wait: active", NULL},
        {"env -u OMP_WAIT_POLICY GOMP_SPINCOUNT=7", "-threads 3", "This run: 3 threads,", "wait: spin 7", NULL},
    };
    for (unsigned i = 0; i < sizeof c / sizeof c[0]; i++) {
        char out[16384];
        int rc = tu_saliency(c[i].env, c[i].threads, out, sizeof out);
        ck_assert_msg(rc == 1, "%s darknet saliency %s: exit %d (want 1, the usage): %s", c[i].env, c[i].threads, rc, out);
#ifdef _OPENMP
        ck_assert_msg(strstr(out, c[i].thread_text), "%s %s: no '%s' in: %s", c[i].env, c[i].threads, c[i].thread_text, out);
        ck_assert_msg(strstr(out, c[i].want) || (c[i].want2 && strstr(out, c[i].want2)),
                      "%s %s: no '%s' in: %s", c[i].env, c[i].threads, c[i].want, out);
#else
        ck_assert_msg(strstr(out, "wait: none (built without OpenMP)"), "%s: %s", c[i].env, out);
#endif
    }
}
END_TEST

Suite *make_wait_suite(void)
{
    Suite *s = suite_create("wait");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, spins_only_when_every_thread_has_an_idle_core);
    tcase_add_test(tc, loadavg_running_count);
    tcase_add_test(tc, user_variables_are_kept);
    tcase_add_test(tc, darknet_restarts_with_a_policy_and_its_arguments);
    suite_add_tcase(s, tc);
    return s;
}
