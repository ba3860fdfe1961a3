// check_fuzz.c: the committed fuzz corpus (tests/fuzz/corpus/<name>/, seeds and the reproducer of
// every finding fixed) replayed through each harness built with the normal compiler
// ($(BUILD)/fuzz/replay_<name>, sanitized under SANITIZE=1): every input must run without a
// crash, a sanitizer report or a broken invariant. And the user-visible side of the findings: the
// CLI exits 1 with a message naming the file, never with a signal.
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "darknet.h"
#include "list.h"
#include "option_list.h"
#include "saliency_layer.h"

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

#ifndef DK_FORK_AB   // the corpus was grown on pjreddie's parsers (patches 0017, 0033...); AlexeyAB's asserts on some of its cfgs
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
#endif

// ---- the user-visible side of the findings ---------------------------------------------------

// writes the file part of the corpus input <name>/<file> (after the harness's skip prefix bytes)
// to <tmp>/<out>; its path into path
static void corpus_payload(const char *name, const char *file, size_t skip, const char *out, char *path, size_t n)
{
    char src[1024];
    snprintf(src, sizeof(src), "%s/%s/%s", FUZZ_CORPUS_DIR, name, file);
    FILE *f = fopen(src, "rb");
    ck_assert_msg(f != NULL, "no corpus file %s", src);
    static unsigned char buf[1 << 16];
    size_t got = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    ck_assert(got >= skip);
    snprintf(path, n, "%s/%s", tu_tmpdir(), out);
    f = fopen(path, "wb");
    ck_assert(f != NULL);
    ck_assert(fwrite(buf + skip, 1, got - skip, f) == got - skip);
    fclose(f);
}

// runs "$DARKNET saliency <args>" in the test's temporary directory; exit status, output in out
static int run_verb(const char *args, char *out, int n)
{
    char cmd[8192], bin[4096];
    ck_assert_msg(realpath(tu_darknet(), bin) != NULL, "no darknet binary at %s", tu_darknet());
    snprintf(cmd, sizeof(cmd), "cd '%s' && rm -f bad.list && '%s' saliency %s", tu_tmpdir(), bin, args);
    return tu_run(cmd, out, n);
}

#ifndef DK_FORK_AB   // AlexeyAB's image path is stb here (dk_load_image): it decodes files OpenCV refuses
// fuzz_image findings: files our magic-byte check lets through that darknet's loader cannot read.
// crash-pgm-undecodable-blank10x10: a PGM header OpenCV cannot read came back as a blank 10x10
// 3-channel image (and "echo <file> >> bad.list" through a shell); compare and map went on with it
// (patch 0031: load_image_checked). crash-bmp-too-wide-cv-exception: a BMP announcing more than
// CV_IO_MAX_IMAGE_WIDTH columns made imread throw through darknet's C code: SIGABRT (patch 0032).
static const char *IMAGE_FINDINGS[] = {"crash-pgm-undecodable-blank10x10", "crash-bmp-too-wide-cv-exception"};

START_TEST(undecodable_image_is_an_error)
{
    char bad[600], args[2048], out[16384], badlist[700], want[800];
    corpus_payload("image", IMAGE_FINDINGS[_i], 3, "undecodable", bad, sizeof(bad));
    snprintf(args, sizeof(args), "compare '%s' '%s'", bad, bad);
    int rc = run_verb(args, out, sizeof(out));
    ck_assert_msg(rc == 1, "%s: exit %d (want 1, not a signal): %s", IMAGE_FINDINGS[_i], rc, out);
    snprintf(want, sizeof(want), "darknet saliency: image '%s' could not be decoded", bad);
    ck_assert_msg(strstr(out, want) != NULL, "%s: no '%s' in: %s", IMAGE_FINDINGS[_i], want, out);
    snprintf(badlist, sizeof(badlist), "%s/bad.list", tu_tmpdir());
    ck_assert_msg(access(badlist, F_OK) != 0, "%s: the extension's loader wrote %s", IMAGE_FINDINGS[_i], badlist);
}
END_TEST
#endif

// fuzz_section, crash-step-rounds-to-zero: step=.5e-61 is above 0 as a double, and passed, but is 0
// as the float the section keeps: finite differences with a zero step. Now an error naming it.
START_TEST(tiny_step_is_refused)
{
    const char *vals[] = {".5e-61", "1e-46", "1e-300"};
    for(int i = 0; i < 3; ++i){
        list *options = make_list();
        char key[] = "step", val[32];
        snprintf(val, sizeof(val), "%s", vals[i]);
        option_insert(options, key, val);
        sal_section sec;
        char err[1024] = "";
        ck_assert_int_eq(sal_section_read(options, &sec, err, sizeof(err)), -1);
        char want[64];
        snprintf(want, sizeof(want), "step=%s is not valid", vals[i]);
        ck_assert_msg(strstr(err, want) && strstr(err, "0 as a float"), "%s", err);
        free_list_contents(options);
        free_list(options);
    }
    list *options = make_list();
    char key[] = "step", val[] = "1e-30";   // small, but a float above 0
    option_insert(options, key, val);
    sal_section sec;
    char err[1024] = "";
    ck_assert_msg(sal_section_read(options, &sec, err, sizeof(err)) == 0, "%s", err);
    ck_assert(sec.rc.step > 0);
    free_list_contents(options);
    free_list(options);
}
END_TEST

// fuzz_image, crash-resize-to-height-1: darknet's resize_image to a height of 1 read row
// (int)(0*inf), undefined behaviour (patch 0034). clang's UBSan build of `make fuzz` stops there;
// gcc's -Ofast build happens to fold 0*inf to 0 and gcc's -fsanitize=undefined has no
// float-cast-overflow, so this test (map on a one-row net) passes with and without the patch:
// the reproducer's regression test is replaying it under `make fuzz`'s build.
START_TEST(map_on_a_one_row_net)
{
    char cfg[600], names[600], data[600], img[600], args[4096], out[16384];
    snprintf(cfg, sizeof(cfg), "%s/row.cfg", tu_tmpdir());
    snprintf(names, sizeof(names), "%s/row.names", tu_tmpdir());
    snprintf(data, sizeof(data), "%s/row.data", tu_tmpdir());
    tu_write_text(cfg, "[net]\nbatch=1\nwidth=6\nheight=1\nchannels=3\n"
                       "[convolutional]\nfilters=2\nsize=1\nactivation=linear\n[avgpool]\n[softmax]\n");
    tu_write_text(names, "a\nb\n");
    char text[1300];
    snprintf(text, sizeof(text), "classes=2\nnames=%s\n", names);
    tu_write_text(data, text);
    corpus_payload("image", "seed-png-rgb", 3, "row.png", img, sizeof(img));
    snprintf(args, sizeof(args), "map '%s' '%s' '' '%s' -out '%s/row'", data, cfg, img, tu_tmpdir());
    int rc = run_verb(args, out, sizeof(out));
    ck_assert_msg(rc == 0, "exit %d (a one-row net): %s", rc, out);
    ck_assert_msg(strstr(out, "predicted: ") != NULL, "%s", out);
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
#ifndef DK_FORK_AB
    tcase_add_loop_test(tc, corpus_replays_cleanly, 0, n);
#endif
    suite_add_tcase(s, tc);
    tc = tcase_create("findings");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, tiny_step_is_refused);
    tcase_add_test(tc, map_on_a_one_row_net);
#ifndef DK_FORK_AB
    tcase_add_loop_test(tc, undecodable_image_is_an_error, 0, sizeof(IMAGE_FINDINGS)/sizeof(IMAGE_FINDINGS[0]));
#endif
    suite_add_tcase(s, tc);
    return s;
}
