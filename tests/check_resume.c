// check_resume.c: kill and resume. `darknet classifier train` with a [saliency] section (the binary
// named by $DARKNET) is killed with SIGKILL at random moments and, through strace's syscall fault
// injection, in the middle of a checkpoint write and between the write and its rename (patch 0015).
// After every kill each weights file in the backup directory is complete and loadable (a partial
// write exists only as <file>.tmp), and a resume from the newest <base>_<epoch>.weights goes on at
// darknet's own batch count (seen, read back from the file), losing at most one checkpoint interval.
// A resume from darknet's <base>.backup (every 1000 batches) keeps the section stepping.
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "darknet.h"
#include "saliency_util.h"
#include "testutil.h"

// 12 images, batch 4: an epoch is 3 batches, so <base>_<e>.weights is written after batch 3e.
#define NIMG 12
#define BATCH 4
#define EVERY (NIMG / BATCH)   // batches per checkpoint
#define MAXB 120               // far beyond the kills: a run is never finished when it is killed
#define BASE "tiny"            // darknet names checkpoints after the cfg file: tiny.cfg

// pjreddie only: kills inside its per-epoch checkpoint writes (patch 0015); AlexeyAB's
// train_classifier saves every 100 iterations (and opens a chart window without -dont_show), so
// this suite is empty there; AB's atomic save (its 0018) is checked by check_train.c's
// failed_save_keeps_the_old_weights on both forks
#ifndef DK_FORK_AB
static const char *CFG =
    "[net]\nbatch=4\nsubdivisions=1\nwidth=12\nheight=12\nchannels=3\n"
    "learning_rate=0.01\nmomentum=0.9\ndecay=0.0005\npolicy=constant\nmax_batches=120\n"
    // 32 filters: a weights file of more than 4096 bytes, so stdio writes it in two write() calls
    // and the injected kill between them leaves a half-written file
    "[convolutional]\nbatch_normalize=1\nfilters=32\nsize=3\nstride=1\npad=1\nactivation=leaky\n"
    "[maxpool]\nsize=2\nstride=2\n"
    "[convolutional]\nfilters=3\nsize=1\nstride=1\nactivation=linear\n"
    "[avgpool]\n[softmax]\n"
    "[saliency]\nregularizer=tv\nformulation=onehot\nweight=0.1\nmethod=exact\n";

// labels that no random temporary directory name will contain (darknet matches them as substrings)
static const char *LABELS[3] = {"alpha", "beta", "gamma"};

typedef struct {
    char dir[512], data[600], cfg[600], bk[600];
    network *net;   // the parsed cfg: weights files are loaded into it
    long want;      // bytes of a complete weights file
} ws;

static FILE *quiet_begin(void)
{
    FILE *saved = stderr;   // darknet prints the layer table and "Loading weights": keep the log readable
    fflush(stderr);
    stderr = fopen("/dev/null", "w");
    return saved;
}

static void quiet_end(FILE *saved)
{
    fclose(stderr);
    stderr = saved;
}

// A dataset, a .data file with backup= inside the workspace, the cfg, the parsed net.
static void ws_init(ws *w, const char *name)
{
    char text[4096] = "", path[700];
    snprintf(w->dir, sizeof w->dir, "%s/%s", tu_tmpdir(), name);
    ck_assert_msg(mkdir(w->dir, 0755) == 0, "mkdir %s: %s", w->dir, strerror(errno));
    snprintf(w->bk, sizeof w->bk, "%s/backup", w->dir);
    ck_assert(mkdir(w->bk, 0755) == 0);
    uint64_t rng = 77;
    for (int i = 0; i < NIMG; i++) {
        image im = make_image(12, 12, 3);
        tu_fill(im.data, 12 * 12 * 3, 0, 1, &rng);
        char prefix[600];
        snprintf(prefix, sizeof prefix, "%s/img%02d_%s", w->dir, i, LABELS[i % 3]);
        save_image_options(im, prefix, PNG, 0);
        free_image(im);
        snprintf(text + strlen(text), sizeof text - strlen(text), "%s.png\n", prefix);
    }
    snprintf(path, sizeof path, "%s/train.list", w->dir);
    tu_write_text(path, text);
    char labels[600];
    snprintf(labels, sizeof labels, "%s/labels.txt", w->dir);
    tu_write_text(labels, "alpha\nbeta\ngamma\n");
    snprintf(w->data, sizeof w->data, "%s/tiny.data", w->dir);
    snprintf(text, sizeof text, "classes=3\ntrain=%s\nlabels=%s\nbackup=%s\n", path, labels, w->bk);
    tu_write_text(w->data, text);
    snprintf(w->cfg, sizeof w->cfg, "%s/" BASE ".cfg", w->dir);
    tu_write_text(w->cfg, CFG);
    FILE *saved = quiet_begin();
    w->net = dk_parse(w->cfg, 0);
    quiet_end(saved);
    w->want = sal_weights_bytes(w->net);
    ck_assert_msg(w->want > 4096, "the weights file should be larger than stdio's 4096-byte buffer: %ld", w->want);
}

static void ckpt_path(const ws *w, int epoch, char *out, int n)
{
    if (epoch > 0) snprintf(out, n, "%s/" BASE "_%d.weights", w->bk, epoch);
    else snprintf(out, n, "%s/" BASE ".weights", w->bk);
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static char *slurp(const char *path, long *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) { *len = 0; return calloc(1, 1); }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc(n + 1);
    n = (long)fread(buf, 1, n, f);
    buf[n] = 0;
    fclose(f);
    *len = n;
    return buf;
}

// The end of a child's output, for failure messages (Check's messages are limited to a few KiB).
static const char *tail(const char *path)
{
    static char buf[1600];
    long len;
    char *text = slurp(path, &len);
    long from = len > (long)sizeof buf - 1 ? len - ((long)sizeof buf - 1) : 0;
    snprintf(buf, sizeof buf, "%s", text + from);
    free(text);
    return buf;
}

// `seen` from a weights file's header (major, minor, revision int32; size_t seen from version 0.2)
static long header_seen(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    int v[3] = {-1, -1, -1};
    size_t seen = 0;
    ck_assert_msg(fread(v, sizeof(int), 3, f) == 3, "%s: no header", path);
    ck_assert_msg(v[0] == 0 && v[1] == 2 && v[2] == 0, "%s: version %d.%d.%d, want 0.2.0", path, v[0], v[1], v[2]);
    ck_assert_msg(fread(&seen, sizeof seen, 1, f) == 1, "%s: no seen in the header", path);
    fclose(f);
    return (long)seen;
}

static int all_finite(const float *x, int n)
{
    for (int i = 0; i < n; i++) if (!isfinite(x[i])) return 0;
    return 1;
}

// A complete weights file: the size the cfg needs, darknet's load_weights reads it, every value
// finite, seen as the header says (and = expect_seen when >= 0).
static void check_weights_file(ws *w, const char *path, long expect_seen)
{
    long size = file_size(path);
    ck_assert_msg(size == w->want, "%s: %ld bytes, the cfg needs %ld (a truncated or half-written weights file)",
                  path, size, w->want);
    long seen = header_seen(path);
    if (expect_seen >= 0)
        ck_assert_msg(seen == expect_seen, "%s: seen %ld in the header, want %ld", path, seen, expect_seen);
    *w->net->seen = 0;
    FILE *saved = quiet_begin();
    load_weights(w->net, (char *)path);
    quiet_end(saved);
    ck_assert_msg((long)*w->net->seen == seen, "%s: load_weights set seen %ld, header says %ld", path, (long)*w->net->seen, seen);
    for (int k = 0; k < w->net->n; k++) {
        layer *l = &w->net->layers[k];
        if (l->type != CONVOLUTIONAL) continue;
        int ok = all_finite(l->weights, l->nweights) && all_finite(l->biases, l->n);
        if (l->batch_normalize)
            ok = ok && all_finite(l->scales, l->n) && all_finite(l->rolling_mean, l->n) && all_finite(l->rolling_variance, l->n);
        ck_assert_msg(ok, "%s: layer %d has a NaN or Inf", path, k);
    }
}

// Every weights file in the backup directory is complete; a .tmp is a partial write and never a
// checkpoint. Returns the newest <base>_<epoch>.weights' epoch (0: none); *ntmp = stray .tmp files.
static int check_backup(ws *w, int *ntmp)
{
    DIR *d = opendir(w->bk);
    ck_assert_msg(d != NULL, "opendir %s", w->bk);
    struct dirent *e;
    int newest = 0;
    *ntmp = 0;
    while ((e = readdir(d))) {
        const char *name = e->d_name;
        size_t len = strlen(name);
        if (name[0] == '.') continue;
        if (len > 4 && strcmp(name + len - 4, ".tmp") == 0) { (*ntmp)++; continue; }
        char path[1200];
        snprintf(path, sizeof path, "%s/%s", w->bk, name);
        int epoch = 0, used = 0;
        if (sscanf(name, BASE "_%d.weights%n", &epoch, &used) == 1 && used == (int)len && epoch > 0) {
            check_weights_file(w, path, (long)epoch * NIMG);
            if (epoch > newest) newest = epoch;
        } else {
            check_weights_file(w, path, -1);   // <base>.weights, <base>.backup
        }
    }
    closedir(d);
    return newest;
}

// ----------------------------------------------------------------------------------------------
// The child: [strace ...] stdbuf -oL $DARKNET classifier train <data> <cfg> [weights], stdout and
// stderr into one file. stdbuf makes darknet's stdout line-buffered, so the batch lines printed
// before a SIGKILL are in the file (fully buffered they would die with the process).

typedef struct { pid_t pid; char out[700]; } child;

static int have_program(const char *name)
{
    const char *p = getenv("PATH");
    char dir[4096], path[4200];
    snprintf(dir, sizeof dir, "%s", p ? p : "/usr/bin:/bin");
    for (char *s = strtok(dir, ":"); s; s = strtok(NULL, ":")) {
        snprintf(path, sizeof path, "%s/%s", s, name);
        if (access(path, X_OK) == 0) return 1;
    }
    return 0;
}

static void start(child *c, ws *w, const char *weights, const char **pre, const char *outname)
{
    const char *bin = getenv("DARKNET") ? getenv("DARKNET") : "./darknet";
    ck_assert_msg(access(bin, X_OK) == 0, "no darknet binary at %s (set DARKNET)", bin);
    ck_assert_msg(have_program("stdbuf"), "stdbuf (coreutils) is not on PATH");
    const char *argv[32];
    int n = 0;
    for (; pre && pre[n]; n++) argv[n] = pre[n];
    const char *rest[] = {"stdbuf", "-oL", bin, "classifier", "train", w->data, w->cfg, weights, NULL};
    for (int i = 0; rest[i]; i++) argv[n++] = rest[i];
    argv[n] = NULL;
    snprintf(c->out, sizeof c->out, "%s/%s", w->dir, outname);
    fflush(stdout);
    fflush(stderr);
    c->pid = fork();
    ck_assert(c->pid >= 0);
    if (c->pid == 0) {
        int fd = open(c->out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0) _exit(126);
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
        // libstdbuf is an LD_PRELOAD: a sanitized darknet (SANITIZE=1) must not refuse it
        const char *asan = getenv("ASAN_OPTIONS");
        char opts[2048];
        snprintf(opts, sizeof opts, "verify_asan_link_order=0%s%s", asan ? ":" : "", asan ? asan : "");
        setenv("ASAN_OPTIONS", opts, 1);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
}

// The batch lines darknet printed ("<batch>, <epoch>: <loss>, <avg> avg, ..."): how many, the
// first and the last; they must be consecutive.
static int batches(const char *out, long *first, long *last)
{
    long len;
    char *text = slurp(out, &len);
    int count = 0;
    long prev = 0;
    *first = *last = 0;
    for (char *line = text, *nl; (nl = strchr(line, '\n')); line = nl + 1) {
        *nl = 0;
        long b;
        double ep, loss;
        if (sscanf(line, "%ld, %lf: %lf,", &b, &ep, &loss) == 3 && strstr(line, " avg, ")) {
            if (count == 0) *first = b;
            else ck_assert_msg(b == prev + 1, "%s: batch %ld printed after batch %ld", out, b, prev);
            ck_assert_msg(isfinite(loss), "%s: batch %ld: loss %g", out, b, loss);
            prev = *last = b;
            count++;
        }
    }
    free(text);
    return count;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

// Waits for the child's exit (SIGKILL after timeout seconds); returns its wait status.
static int wait_child(child *c, double timeout)
{
    double t0 = now();
    int st;
    for (;;) {
        pid_t r = waitpid(c->pid, &st, WNOHANG);
        if (r == c->pid) {
            if (WIFEXITED(st) && WEXITSTATUS(st) == TU_SANITIZER_STATUS) {
                long len;
                char *text = slurp(c->out, &len);
                tu_check_sanitizer(c->out, WEXITSTATUS(st), text);
            }
            return st;
        }
        if (now() - t0 > timeout) {
            kill(c->pid, SIGKILL);
            waitpid(c->pid, &st, 0);
            ck_abort_msg("%s: no exit after %.0f s", c->out, timeout);
        }
        usleep(2000);
    }
}

static int killed_by_sigkill(int st)
{
    return WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL;
}

// The run from checkpoint epoch `from` (0: fresh) must start at batch EVERY*from + 1, with the
// seen of the file it was given; prev_last: the last batch the previous (killed) run printed.
static void check_resumed(ws *w, child *c, int from, long prev_last, long *first, long *last)
{
    char path[700];
    if (from > 0) {
        ckpt_path(w, from, path, sizeof path);
        long seen = header_seen(path);
        ck_assert_int_eq(seen, (long)from * NIMG);
        ck_assert_int_eq(seen / BATCH, (long)from * EVERY);
    }
    ck_assert_msg(batches(c->out, first, last) > 0, "%s: no batch line printed", c->out);
    ck_assert_msg(*first == (long)from * EVERY + 1, "resumed from " BASE "_%d.weights (batch %d) but the first batch printed is %ld",
                  from, from * EVERY, *first);
    ck_assert_msg(prev_last - (*first - 1) <= EVERY,
                  "the killed run printed batch %ld, the resume starts after batch %ld: more than one checkpoint interval (%d) lost",
                  prev_last, *first - 1, EVERY);
}

// ----------------------------------------------------------------------------------------------

// Five SIGKILLs at moments drawn from a fixed seed (a batch to reach, then 0-8 ms more: anywhere in
// a step or a checkpoint save), each followed by a check of the backup directory and a resume from
// the newest checkpoint; then one run to the end.
START_TEST(random_kills_resume_from_the_newest_checkpoint)
{
    ws w;
    ws_init(&w, "random");
    uint64_t rng = 20240601;
    int ck = 0, ntmp = 0;
    long prev_last = 0, first, last;
    char weights[700], outname[64];
    for (int k = 0; k < 5; k++) {
        if (ck) ckpt_path(&w, ck, weights, sizeof weights);
        long target = (long)ck * EVERY + 1 + (long)(tu_uniform(&rng) * 7);
        useconds_t extra = (useconds_t)(tu_uniform(&rng) * 8000);
        child c;
        snprintf(outname, sizeof outname, "run%d.out", k);
        start(&c, &w, ck ? weights : NULL, NULL, outname);
        double t0 = now();
        int st, exited = 0;
        for (;;) {
            if (waitpid(c.pid, &st, WNOHANG) == c.pid) { exited = 1; break; }
            long f, l;
            if (batches(c.out, &f, &l) > 0 && l >= target) break;
            if (now() - t0 > 20) break;
            usleep(500);
        }
        if (!exited) {
            usleep(extra);
            kill(c.pid, SIGKILL);
            waitpid(c.pid, &st, 0);
        }
        ck_assert_msg(killed_by_sigkill(st), "kill %d (at batch %ld + %u us): the run ended by itself, status %d: %s",
                      k, target, (unsigned)extra, st, tail(c.out));
        check_resumed(&w, &c, ck, prev_last, &first, &last);
        int newest = check_backup(&w, &ntmp);
        ck_assert_msg(newest >= ck, "checkpoint %d gone after the kill (newest now %d)", ck, newest);
        ck_assert_msg(last - (long)newest * EVERY <= EVERY, "kill %d: batch %ld printed, newest checkpoint " BASE "_%d.weights (batch %d)",
                      k, last, newest, newest * EVERY);
        fprintf(stderr, "resume: kill %d at batch %ld + %u us: ran batches %ld-%ld, newest checkpoint %d, %d .tmp\n",
                k, target, (unsigned)extra, first, last, newest, ntmp);
        prev_last = last;
        ck = newest;
    }
    ck_assert_msg(ck > 0, "five kills and no checkpoint");
    // the last run goes to the end
    child c;
    ckpt_path(&w, ck, weights, sizeof weights);
    start(&c, &w, weights, NULL, "final.out");
    int st = wait_child(&c, 60);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the last run: status %d: %s", st, tail(c.out));
    check_resumed(&w, &c, ck, prev_last, &first, &last);
    ck_assert_int_eq(last, MAXB);
    check_backup(&w, &ntmp);
    char final[700];
    ckpt_path(&w, 0, final, sizeof final);
    ck_assert_msg(file_size(final) >= 0, "%s: not written", final);
    check_weights_file(&w, final, (long)MAXB * BATCH);
    // every epoch after the resume point was saved again through its .tmp: nothing stray is left
    ck_assert_msg(ntmp == 0, "%d .tmp files left after a complete run", ntmp);
    dk_free(w.net);
}
END_TEST

// Deterministic kills inside save_weights (strace -e inject=...:signal=KILL, limited with -P to one
// file): half-way through writing a checkpoint, after writing it and before its rename, and while
// replacing an existing <base>.weights. The old files stay whole; the resume works from them.
START_TEST(kills_during_a_checkpoint_write_keep_the_old_one)
{
    ck_assert_msg(have_program("strace"), "strace is not on PATH (scripts/setup.sh installs it)");
    ws w;
    ws_init(&w, "strace");
    char p[700], tmp[800], pw[700], pwtmp[800], arg1[800], arg2[800];
    int ntmp;
    long first, last;
    child c;
    int st;

    // 1. the second write() into <base>_2.weights.tmp (or <base>_2.weights, were it written in
    //    place): 4096 of its bytes are on disk when the process dies
    ckpt_path(&w, 2, p, sizeof p);
    snprintf(tmp, sizeof tmp, "%s.tmp", p);
    snprintf(arg1, sizeof arg1, "%s", tmp);
    snprintf(arg2, sizeof arg2, "%s", p);
    const char *mid_write[] = {"strace", "-qq", "-f", "-o", "/dev/null", "-P", arg1, "-P", arg2,
                               "-e", "trace=write", "-e", "inject=write:signal=KILL:when=2", NULL};
    start(&c, &w, NULL, mid_write, "midwrite.out");
    st = wait_child(&c, 60);
    ck_assert_msg(killed_by_sigkill(st), "the kill inside the write of %s did not happen: status %d: %s", p, st, tail(c.out));
    check_resumed(&w, &c, 0, 0, &first, &last);
    ck_assert_int_eq(last, 2 * EVERY);
    ck_assert_msg(check_backup(&w, &ntmp) == 1, "newest checkpoint after the kill in the write of epoch 2");
    ck_assert_msg(file_size(p) < 0, "%s exists after a kill half-way through writing it", p);
    ck_assert_msg(file_size(tmp) == 4096, "%s: %ld bytes, want the half-written 4096", tmp, file_size(tmp));

    // 2. resumed from epoch 1; killed at the rename of <base>_3.weights.tmp (the file complete)
    ckpt_path(&w, 1, pw, sizeof pw);
    ckpt_path(&w, 3, p, sizeof p);
    snprintf(tmp, sizeof tmp, "%s.tmp", p);
    snprintf(arg1, sizeof arg1, "%s", tmp);
    const char *at_rename[] = {"strace", "-qq", "-f", "-o", "/dev/null", "-P", arg1,
                               "-e", "trace=rename", "-e", "inject=rename:signal=KILL:when=1", NULL};
    start(&c, &w, pw, at_rename, "rename.out");
    st = wait_child(&c, 60);
    ck_assert_msg(killed_by_sigkill(st), "the kill at the rename of %s did not happen: status %d: %s", tmp, st, tail(c.out));
    check_resumed(&w, &c, 1, 2 * EVERY, &first, &last);
    ck_assert_int_eq(last, 3 * EVERY);
    ck_assert_msg(file_size(p) < 0 && file_size(tmp) == w.want, "%s %ld bytes, %s %ld bytes: want no file and a complete .tmp",
                  p, file_size(p), tmp, file_size(tmp));
    // the complete <base>_3.weights.tmp is never taken for a checkpoint
    ck_assert_int_eq(check_backup(&w, &ntmp), 2);

    // 3. resumed from epoch 2 to the end: every .tmp is replaced by its file
    ckpt_path(&w, 2, pw, sizeof pw);
    start(&c, &w, pw, NULL, "end.out");
    st = wait_child(&c, 60);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the run to the end: status %d: %s", st, tail(c.out));
    check_resumed(&w, &c, 2, 3 * EVERY, &first, &last);
    ck_assert_int_eq(last, MAXB);
    int E = MAXB * BATCH / NIMG;
    ck_assert_int_eq(check_backup(&w, &ntmp), E);
    ck_assert_int_eq(ntmp, 0);
    ckpt_path(&w, 0, p, sizeof p);
    check_weights_file(&w, p, (long)MAXB * BATCH);
    long n0;
    char *before = slurp(p, &n0);

    // 4. resumed from epoch E-1; killed at the rename that would replace the existing <base>.weights
    ckpt_path(&w, E - 1, pw, sizeof pw);
    snprintf(pwtmp, sizeof pwtmp, "%s.tmp", p);
    snprintf(arg1, sizeof arg1, "%s", pwtmp);
    start(&c, &w, pw, at_rename, "replace.out");
    st = wait_child(&c, 60);
    ck_assert_msg(killed_by_sigkill(st), "the kill at the rename of %s did not happen: status %d: %s", pwtmp, st, tail(c.out));
    check_resumed(&w, &c, E - 1, 0, &first, &last);
    ck_assert_int_eq(last, MAXB);
    long n1;
    char *after = slurp(p, &n1);
    ck_assert_msg(n1 == n0 && memcmp(before, after, n0) == 0, "%s changed although the process died before the rename", p);
    ck_assert_msg(file_size(pwtmp) == w.want, "%s: %ld bytes", pwtmp, file_size(pwtmp));
    check_backup(&w, &ntmp);
    ck_assert_int_eq(ntmp, 1);
    free(before);
    free(after);
    dk_free(w.net);
}
END_TEST

// darknet's <base>.backup (written every 1000 batches): a run to batch 1003, then a resume from
// <base>.backup with the same cfg, [saliency] section unchanged: it goes on at batch 1001 (seen
// 4000 from the file), the section steps again (its first progress line says batch 1001), and it
// ends at max_batches.
START_TEST(resume_from_the_backup_file_with_the_section)
{
    ws w;
    ws_init(&w, "backup");
    const char *key = "max_batches=120";
    char *cfg = strdup(CFG), *at = strstr(cfg, key);
    ck_assert(at != NULL);
    char text[4096];
    snprintf(text, sizeof text, "%.*smax_batches=1003%s", (int)(at - cfg), cfg, at + strlen(key));
    tu_write_text(w.cfg, text);
    free(cfg);
    child c;
    start(&c, &w, NULL, NULL, "tobackup.out");
    int st = wait_child(&c, 90);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the run to batch 1003: status %d: %s", st, tail(c.out));
    char bk[700];
    snprintf(bk, sizeof bk, "%s/" BASE ".backup", w.bk);
    check_weights_file(&w, bk, 1000L * BATCH);
    start(&c, &w, bk, NULL, "frombackup.out");
    st = wait_child(&c, 60);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the resume from %s: status %d: %s", bk, st, tail(c.out));
    long first, last;
    ck_assert_int_eq(batches(c.out, &first, &last), 3);
    ck_assert_int_eq(first, 1001);
    ck_assert_int_eq(last, 1003);
    long len;
    char *out = slurp(c.out, &len);
    ck_assert_msg(strstr(out, "saliency   tv "), "the resumed run has no [saliency] layer: %s", tail(c.out));
    ck_assert_msg(strstr(out, "saliency: batch 1001/1003, "), "the section's first line in the resumed run should say batch 1001/1003: %s", tail(c.out));
    free(out);
    dk_free(w.net);
}
END_TEST
#endif

Suite *make_resume_suite(void)
{
    Suite *s = suite_create("resume");
    TCase *tc = tcase_create("kill_and_resume");
    tcase_set_timeout(tc, 120);
#ifndef DK_FORK_AB
    tcase_add_test(tc, random_kills_resume_from_the_newest_checkpoint);
#endif
#ifndef DK_FORK_AB
    tcase_add_test(tc, kills_during_a_checkpoint_write_keep_the_old_one);
    tcase_add_test(tc, resume_from_the_backup_file_with_the_section);
#endif
    suite_add_tcase(s, tc);
    return s;
}
