// fuzz_util.h: what the harnesses share: a per-process scratch file for inputs that the code under
// test reads by path, and an invariant check that aborts (libFuzzer and the replay driver report it).
#ifndef SALIENCY_FUZZ_UTIL_H
#define SALIENCY_FUZZ_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FZ_CHECK(cond, ...) do { if(!(cond)){ fprintf(stderr, "fuzz invariant broken: %s: ", #cond); \
    fprintf(stderr, __VA_ARGS__); fprintf(stderr, "\n"); abort(); } } while(0)

// A directory of this process's own under $TMPDIR (or /tmp), removed at exit when empty.
static char fz_dir_path[512];
static void fz_dir_cleanup(void)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fz_dir_path);
    if(fz_dir_path[0] && system(cmd) != 0) fprintf(stderr, "fuzz: could not remove %s\n", fz_dir_path);
}
static const char *fz_dir(void)
{
    if(!fz_dir_path[0]){
        const char *t = getenv("TMPDIR");
        snprintf(fz_dir_path, sizeof(fz_dir_path), "%s/saliency-fuzz.XXXXXX", t && t[0] ? t : "/tmp");
        if(!mkdtemp(fz_dir_path)){ perror("fuzz: mkdtemp"); abort(); }
        atexit(fz_dir_cleanup);
    }
    return fz_dir_path;
}

// Writes data (size bytes) to <fz_dir>/<name> (replaced) and returns that path (static storage).
__attribute__((unused)) static const char *fz_file(const char *name, const void *data, size_t size)
{
    static char path[600];
    snprintf(path, sizeof(path), "%s/%s", fz_dir(), name);
    FILE *f = fopen(path, "wb");
    if(!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0){ perror(path); abort(); }
    return path;
}

// err must be a NUL-terminated, non-empty message that fits its buffer
#define FZ_CHECK_ERR(err) FZ_CHECK((err)[0] && memchr((err), 0, sizeof(err)) != NULL, "empty or unterminated message")

#endif
