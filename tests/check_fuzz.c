// check_fuzz.c: the committed fuzz corpus (tests/fuzz/corpus/<name>/, seeds and the reproducer of
// every finding fixed) replayed through each harness built with the normal compiler
// ($(BUILD)/fuzz/replay_<name>, sanitized under SANITIZE=1): every input must run without a
// crash, a sanitizer report or a broken invariant. And the user-visible side of the findings: the
// CLI exits 1 with a message naming the file, never with a signal.
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#ifndef FUZZ_REPLAY_DIR
#error "FUZZ_REPLAY_DIR, FUZZ_CORPUS_DIR and FUZZ_NAMES come from the Makefile"
#endif

// the i-th name of FUZZ_NAMES (space-separated) into out; 0 when there is none
static int fuzz_name(int i, char *out, size_t n)
{
    const char *p = FUZZ_NAMES;
    for(;;){
        while(*p == ' ') p++;
        if(!*p) return 0;
        size_t len = strcspn(p, " ");
        if(i-- == 0){
            snprintf(out, n, "%.*s", (int)len, p);
            return 1;
        }
        p += len;
    }
}

START_TEST(corpus_replays_cleanly)
{
    char name[64];
    if(!fuzz_name(_i, name, sizeof(name))) return;
    static char out[1 << 20];
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "cd '%s' && '%s/replay_%s' '%s/%s'", tu_tmpdir(), FUZZ_REPLAY_DIR, name, FUZZ_CORPUS_DIR, name);
    int rc = tu_run(cmd, out, sizeof(out));
    const char *last = strstr(out, "replayed ");
    int count = last ? atoi(last + 9) : 0;
    // on a failure the last "replay: <file>" line names the input
    const char *tail = strlen(out) > 3000 ? out + strlen(out) - 3000 : out;
    ck_assert_msg(rc == 0, "replay_%s: exit %d:\n%s", name, rc, tail);
    ck_assert_msg(count > 0, "replay_%s: no input replayed:\n%s", name, tail);
}
END_TEST

Suite *make_fuzz_suite(void)
{
    Suite *s = suite_create("fuzz");
    TCase *tc = tcase_create("replay");
    tcase_set_timeout(tc, 120);
    int n = 0;
    char name[64];
    while(fuzz_name(n, name, sizeof(name))) n++;
    tcase_add_loop_test(tc, corpus_replays_cleanly, 0, n);
    suite_add_tcase(s, tc);
    return s;
}
