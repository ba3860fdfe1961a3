// insdel_table.c: the per-image AUC table of insertion/deletion and its summary (insdel_table.h).
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "insdel_table.h"

typedef struct { char *name; long long del, ins; long count; } itab_map;
typedef struct { char *path; int cls; int where; } itab_image;
typedef struct { int image, map, where; } itab_cell;   // image -1: an empty slot

struct itab {
    itab_map *maps; int nmaps, capmaps;
    itab_image *images; int nimages, capimages;
    int *image_slots; size_t nslots;       // open addressing over images (index + 1, 0 empty)
    itab_cell *cells; size_t ncells, used; // open addressing over (image, map)
    char **wheres; int nwheres;            // the sources named in messages, interned
};

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;   // FNV-1a
    for (; *s; s++) { h ^= (unsigned char)*s; h *= 1099511628211ull; }
    return h;
}

static uint64_t hash_pair(int a, int b)
{
    uint64_t h = ((uint64_t)(uint32_t)a << 32 | (uint32_t)b) * 0x9E3779B97F4A7C15ull;
    return h ^ (h >> 29);
}

itab *itab_new(void)
{
    itab *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->nslots = 64;
    t->ncells = 64;
    t->image_slots = calloc(t->nslots, sizeof(int));
    t->cells = malloc(t->ncells * sizeof(itab_cell));
    if (!t->image_slots || !t->cells) { itab_free(t); return NULL; }
    for (size_t i = 0; i < t->ncells; i++) t->cells[i].image = -1;
    return t;
}

void itab_free(itab *t)
{
    if (!t) return;
    for (int i = 0; i < t->nmaps; i++) free(t->maps[i].name);
    for (int i = 0; i < t->nimages; i++) free(t->images[i].path);
    for (int i = 0; i < t->nwheres; i++) free(t->wheres[i]);
    free(t->maps); free(t->images); free(t->image_slots); free(t->cells); free(t->wheres);
    free(t);
}

long long itab_micro(double auc)
{
    char text[64];
    snprintf(text, sizeof text, "%.6f", auc);
    return llround(strtod(text, NULL) * 1e6);
}

// ---- lookups -----------------------------------------------------------------------------------

static int find_image(const itab *t, const char *path, size_t *slot)
{
    size_t i = hash_str(path) & (t->nslots - 1);
    while (t->image_slots[i] && strcmp(t->images[t->image_slots[i] - 1].path, path)) i = (i + 1) & (t->nslots - 1);
    *slot = i;
    return t->image_slots[i] - 1;
}

static itab_cell *find_cell(const itab *t, int image, int map)
{
    size_t i = hash_pair(image, map) & (t->ncells - 1);
    while (t->cells[i].image >= 0 && (t->cells[i].image != image || t->cells[i].map != map)) i = (i + 1) & (t->ncells - 1);
    return &t->cells[i];
}

static int grow_images(itab *t)
{
    size_t n = t->nslots * 2;
    int *s = calloc(n, sizeof(int));
    if (!s) return -1;
    free(t->image_slots);
    t->image_slots = s;
    t->nslots = n;
    for (int k = 0; k < t->nimages; k++) {
        size_t slot;
        find_image(t, t->images[k].path, &slot);
        t->image_slots[slot] = k + 1;
    }
    return 0;
}

static int grow_cells(itab *t)
{
    itab_cell *old = t->cells;
    size_t nold = t->ncells, n = nold * 2;
    itab_cell *c = malloc(n * sizeof(itab_cell));
    if (!c) return -1;
    for (size_t i = 0; i < n; i++) c[i].image = -1;
    t->cells = c;
    t->ncells = n;
    for (size_t i = 0; i < nold; i++)
        if (old[i].image >= 0) *find_cell(t, old[i].image, old[i].map) = old[i];
    free(old);
    return 0;
}

static int where_index(itab *t, const char *where)
{
    if (!where) where = "";
    for (int i = t->nwheres - 1; i >= 0; i--) if (!strcmp(t->wheres[i], where)) return i;
    char **w = realloc(t->wheres, (t->nwheres + 1) * sizeof(char *));
    if (!w) return -1;
    t->wheres = w;
    if (!(w[t->nwheres] = strdup(where))) return -1;
    return t->nwheres++;
}

static int oom(char *err, size_t errlen)
{
    snprintf(err, errlen, "out of memory for the table of AUCs");
    return -1;
}

// ---- rows --------------------------------------------------------------------------------------

int itab_add(itab *t, const char *image, int cls, const char *name, long long del, long long ins,
             const char *where, char *err, size_t errlen)
{
    int w = where_index(t, where);
    if (w < 0) return oom(err, errlen);
    int m;
    for (m = 0; m < t->nmaps && strcmp(t->maps[m].name, name); m++) {}
    if (m == t->nmaps) {
        if (t->nmaps == t->capmaps) {
            int cap = t->capmaps ? 2 * t->capmaps : 8;
            itab_map *p = realloc(t->maps, cap * sizeof *p);
            if (!p) return oom(err, errlen);
            t->maps = p;
            t->capmaps = cap;
        }
        t->maps[m] = (itab_map){strdup(name), 0, 0, 0};
        if (!t->maps[m].name) return oom(err, errlen);
        t->nmaps++;
    }
    size_t slot;
    int k = find_image(t, image, &slot);
    if (k < 0) {
        if (t->nimages == t->capimages) {
            int cap = t->capimages ? 2 * t->capimages : 64;
            itab_image *p = realloc(t->images, cap * sizeof *p);
            if (!p) return oom(err, errlen);
            t->images = p;
            t->capimages = cap;
        }
        k = t->nimages;
        t->images[k] = (itab_image){strdup(image), cls, w};
        if (!t->images[k].path) return oom(err, errlen);
        t->nimages++;
        t->image_slots[slot] = k + 1;
        if ((size_t)t->nimages * 2 > t->nslots && grow_images(t)) return oom(err, errlen);
    } else if (t->images[k].cls != cls) {
        snprintf(err, errlen, "%s: image '%s' has class %d, but class %d in %s", t->wheres[w], image, cls,
                 t->images[k].cls, t->wheres[t->images[k].where]);
        return -1;
    }
    itab_cell *c = find_cell(t, k, m);
    if (c->image >= 0) {
        snprintf(err, errlen, "%s: a second row of image '%s' and map '%s' (the first is in %s): give each shard once",
                 t->wheres[w], image, name, t->wheres[c->where]);
        return -1;
    }
    *c = (itab_cell){k, m, w};
    if (++t->used * 2 > t->ncells && grow_cells(t)) return oom(err, errlen);
    t->maps[m].del += del;
    t->maps[m].ins += ins;
    t->maps[m].count++;
    return 0;
}

// a field, quoted when it holds a comma, a quote or a line break
static int put_field(char *out, size_t n, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) return snprintf(out, n, "%s", s);
    size_t k = 0;
    if (k < n) out[k] = '"';
    k++;
    for (; *s; s++) {
        if (*s == '"') { if (k < n) out[k] = '"'; k++; }
        if (k < n) out[k] = *s;
        k++;
    }
    if (k < n) out[k] = '"';
    k++;
    if (n) out[k < n ? k : n - 1] = 0;
    return (int)k;
}

static int put_micro(char *out, size_t n, long long v)
{
    unsigned long long a = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
    return snprintf(out, n, "%s%llu.%06llu", v < 0 ? "-" : "", a / 1000000, a % 1000000);
}

int itab_row(char *out, size_t n, const char *image, int cls, const char *name, long long del, long long ins)
{
    size_t k = 0;
    int r;
#define PUT(call) do { r = (call); if (r < 0 || (size_t)r >= (k < n ? n - k : 0)) return -1; k += r; } while (0)
    PUT(put_field(out + k, n - k, image));
    PUT(snprintf(out + k, n - k, ",%d,", cls));
    PUT(put_field(out + k, n - k, name));
    PUT(snprintf(out + k, n - k, ","));
    PUT(put_micro(out + k, n - k, del));
    PUT(snprintf(out + k, n - k, ","));
    PUT(put_micro(out + k, n - k, ins));
    PUT(snprintf(out + k, n - k, "\n"));
#undef PUT
    return (int)k;
}

// ---- reading a CSV -----------------------------------------------------------------------------

// splits line (no line break) into at most max fields in place (quotes removed); the count, or -1
// for a quote that does not close
static int split(char *line, char **fields, int max)
{
    int n = 0;
    char *r = line, *w = line;
    for (;;) {
        if (n == max) return max + 1;
        fields[n++] = w;
        if (*r == '"') {
            r++;
            for (;;) {
                if (!*r) return -1;
                if (*r == '"' && r[1] == '"') { *w++ = '"'; r += 2; continue; }
                if (*r == '"') { r++; break; }
                *w++ = *r++;
            }
            if (*r && *r != ',') return -1;
        } else {
            while (*r && *r != ',') *w++ = *r++;
        }
        if (!*r) { *w = 0; return n; }
        *w++ = 0;   // w <= r: the comma's place or before it
        r++;
    }
}

static int parse_micro(const char *s, long long *v)
{
    char *end;
    errno = 0;
    double x = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(x) || fabs(x) > 1e12) return -1;
    *v = llround(x * 1e6);
    return 0;
}

int itab_read(itab *t, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) { snprintf(err, errlen, "cannot open CSV '%s': %s", path, strerror(errno)); return -1; }
    char *line = NULL, *fields[6];
    size_t cap = 0;
    ssize_t len;
    long no = 0;
    int rc = 0;
    while ((len = getline(&line, &cap, f)) >= 0) {
        no++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        if (no == 1) {
            if (strcmp(line, ITAB_HEADER)) {
                snprintf(err, errlen, "CSV '%s': its header '%.200s' is not '%s' (a CSV of saliency insdel -csv)", path, line, ITAB_HEADER);
                rc = -1;
                break;
            }
            continue;
        }
        if (!len) continue;   // a blank line
        int nf = split(line, fields, 5);
        long cls = -1;
        long long del, ins;
        char *end = NULL;
        if (nf == 5) { errno = 0; cls = strtol(fields[1], &end, 10); }
        if (nf != 5 || !fields[0][0] || !fields[2][0] || end == fields[1] || *end || errno || cls < 0 || cls > 1 << 30 ||
            parse_micro(fields[3], &del) || parse_micro(fields[4], &ins)) {
            snprintf(err, errlen, "CSV '%s' line %ld: not a row image,class,name,deletion,insertion (a class 0 or more, two numbers)", path, no);
            rc = -1;
            break;
        }
        if ((rc = itab_add(t, fields[0], (int)cls, fields[2], del, ins, path, err, errlen))) break;
    }
    if (!rc && no == 0) { snprintf(err, errlen, "CSV '%s' is empty (no header '%s')", path, ITAB_HEADER); rc = -1; }
    if (!rc && ferror(f)) { snprintf(err, errlen, "reading CSV '%s' failed: %s", path, strerror(errno)); rc = -1; }
    free(line);
    fclose(f);
    return rc;
}

// ---- the summary -------------------------------------------------------------------------------

int itab_check(const itab *t, char *err, size_t errlen)
{
    for (int m = 0; m < t->nmaps; m++) {
        if (t->maps[m].count == t->nimages) continue;
        for (int k = 0; k < t->nimages; k++) {
            if (find_cell(t, k, m)->image >= 0) continue;
            snprintf(err, errlen, "map '%s' has %ld rows for %d images: image '%s' (%s) has none (were the shards run with the same maps?)",
                     t->maps[m].name, t->maps[m].count, t->nimages, t->images[k].path, t->wheres[t->images[k].where]);
            return -1;
        }
    }
    return 0;
}

int itab_images(const itab *t) { return t->nimages; }
int itab_maps(const itab *t) { return t->nmaps; }
const char *itab_name(const itab *t, int i) { return i >= 0 && i < t->nmaps ? t->maps[i].name : NULL; }

void itab_mean(const itab *t, int i, double *del, double *ins)
{
    long n = t->maps[i].count;
    *del = n ? (double)t->maps[i].del / 1e6 / n : 0;
    *ins = n ? (double)t->maps[i].ins / 1e6 / n : 0;
}

void itab_line(const itab *t, int i, char *out, size_t n)
{
    double del, ins;
    itab_mean(t, i, &del, &ins);
    snprintf(out, n, "%s deletion %.4f insertion %.4f", t->maps[i].name, del, ins);
}
