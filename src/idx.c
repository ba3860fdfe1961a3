// idx.c: the IDX reader of `saliency prepare` (see idx.h): whole files read into memory, gzip
// through a `gzip -dc` child, headers and sizes checked before anything is used.
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "idx.h"

extern char **environ;

static uint32_t idx_be32(const unsigned char *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

// Reads all of fd into a growing buffer: 0 and *buf, *n; -1 and err.
static int idx_read_fd(int fd, const char *path, unsigned char **buf, size_t *n, char *err, size_t errlen)
{
    size_t cap = 1 << 16, len = 0;
    unsigned char *b = malloc(cap);
    *buf = NULL;
    if(!b){ snprintf(err, errlen, "out of memory reading '%s'", path); return -1; }
    for(;;){
        if(len == cap){
            unsigned char *nb = cap > SIZE_MAX/2 ? NULL : realloc(b, cap*2);
            if(!nb){
                free(b);
                snprintf(err, errlen, "out of memory reading '%s' (%lu bytes so far)", path, (unsigned long)len);
                return -1;
            }
            b = nb;
            cap *= 2;
        }
        ssize_t got = read(fd, b + len, cap - len);
        if(got < 0 && errno == EINTR) continue;
        if(got < 0){
            snprintf(err, errlen, "reading '%s': %s", path, strerror(errno));
            free(b);
            return -1;
        }
        if(got == 0) break;
        len += (size_t)got;
    }
    *buf = b;
    *n = len;
    return 0;
}

// The decompressed content of the gzip file path, from a `gzip -dc` child (posix_spawn: no copy
// of a large parent's page tables, as fork would make).
static int idx_gunzip(const char *path, unsigned char **buf, size_t *n, char *err, size_t errlen)
{
    int p[2];
    *buf = NULL;
    if(pipe(p) != 0){ snprintf(err, errlen, "decompressing '%s': pipe: %s", path, strerror(errno)); return -1; }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addclose(&fa, p[0]);
    if(p[1] != 1) posix_spawn_file_actions_addclose(&fa, p[1]);
    char *argv[] = {"gzip", "-dc", "--", (char *)path, NULL};
    pid_t pid;
    int e = posix_spawnp(&pid, "gzip", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(p[1]);
    if(e != 0){
        close(p[0]);
        snprintf(err, errlen, "decompressing '%s': cannot run gzip", path);
        return -1;
    }
    size_t len = 0;
    int rc = idx_read_fd(p[0], path, buf, &len, err, errlen);
    close(p[0]);
    int status = 0;
    while(waitpid(pid, &status, 0) < 0 && errno == EINTR);
    if(rc) return -1;
    *n = len;
    if(WIFEXITED(status) && WEXITSTATUS(status) == 127){
        snprintf(err, errlen, "decompressing '%s': cannot run gzip", path);
    } else if(!WIFEXITED(status) || WEXITSTATUS(status) != 0){
        snprintf(err, errlen, "'%s' is not a whole gzip file (cut short or damaged: gzip -dc fails after %lu bytes)",
                 path, (unsigned long)len);
    } else {
        return 0;
    }
    free(*buf);
    *buf = NULL;
    return -1;
}

int idx_slurp(const char *path, unsigned char **buf, size_t *n, char *err, size_t errlen)
{
    unsigned char magic[2] = {0, 0};
    *buf = NULL;
    int fd = open(path, O_RDONLY);
    if(fd < 0){ snprintf(err, errlen, "cannot open '%s': %s", path, strerror(errno)); return -1; }
    ssize_t m = read(fd, magic, 2);
    if(m == 2 && magic[0] == 0x1f && magic[1] == 0x8b){
        close(fd);
        return idx_gunzip(path, buf, n, err, errlen);
    }
    lseek(fd, 0, SEEK_SET);
    int rc = idx_read_fd(fd, path, buf, n, err, errlen);
    close(fd);
    return rc;
}

int idx_parse(unsigned char *buf, size_t len, const char *path, int kind, idx_file *out, char *err, size_t errlen)
{
    int images = kind == IDX_IMAGES;
    const char *what = images ? "image" : "label";
    memset(out, 0, sizeof(*out));
    size_t head = images ? 16 : 8;
    uint32_t want = images ? 2051 : 2049;
    if(len < head){
        snprintf(err, errlen, "'%s' is cut short: %lu bytes, an idx %s header needs %lu", path, (unsigned long)len, what, (unsigned long)head);
        return -1;
    }
    uint32_t magic = idx_be32(buf);
    if(magic != want){
        snprintf(err, errlen, "'%s' is not an idx %s file: magic number %u, expected %u", path, what, magic, want);
        return -1;
    }
    uint32_t n = idx_be32(buf + 4);
    uint32_t rows = images ? idx_be32(buf + 8) : 1;
    uint32_t cols = images ? idx_be32(buf + 12) : 1;
    if(n == 0 || n > 100000000){
        snprintf(err, errlen, "'%s': header says %u items (expected 1 to 100000000)", path, n);
        return -1;
    }
    if(rows == 0 || cols == 0 || rows > 4096 || cols > 4096){
        snprintf(err, errlen, "'%s': header says images of %u x %u pixels (expected 1 to 4096 each)", path, rows, cols);
        return -1;
    }
    size_t need = head + (size_t)n*rows*cols;
    if(len < need){
        snprintf(err, errlen, "'%s' is cut short: the header says %u %s (%lu bytes), the file has %lu bytes",
                 path, n, images ? "images" : "labels", (unsigned long)need, (unsigned long)len);
        return -1;
    }
    if(len > need){
        snprintf(err, errlen, "'%s' has %lu bytes after the %u %s its header announces (not an idx file, or a damaged one)",
                 path, (unsigned long)(len - need), n, images ? "images" : "labels");
        return -1;
    }
    snprintf(out->path, sizeof(out->path), "%s", path);
    out->n = (int)n;
    out->rows = images ? (int)rows : 0;
    out->cols = images ? (int)cols : 0;
    out->raw = buf;
    out->data = buf + head;
    return 0;
}

int idx_read(const char *path, int kind, idx_file *out, char *err, size_t errlen)
{
    unsigned char *buf;
    size_t len = 0;
    memset(out, 0, sizeof(*out));
    if(idx_slurp(path, &buf, &len, err, errlen)) return -1;
    if(idx_parse(buf, len, path, kind, out, err, errlen)){
        free(buf);
        return -1;
    }
    return 0;
}

int idx_check_labels(const idx_file *x, int classes, const char *dataset, char *err, size_t errlen)
{
    int i;
    for(i = 0; i < x->n; ++i){
        if(x->data[i] >= classes){
            snprintf(err, errlen, "'%s': label %u is %d, %s has classes 0..%d", x->path, (unsigned)i, x->data[i], dataset, classes - 1);
            return -1;
        }
    }
    return 0;
}

void idx_free(idx_file *x)
{
    free(x->raw);
    x->raw = x->data = NULL;
}
