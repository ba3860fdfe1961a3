// replay.c: a standalone main for the fuzz harnesses (tests/fuzz/fuzz_<name>.c), built with the
// normal compiler: calls LLVMFuzzerTestOneInput once on every file of the directories (or files)
// given, in name order, and prints "replayed N inputs". A crash or a broken invariant ends it with
// a signal; the name of the input being run is printed first.
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if(!f){ perror(path); return -1; }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(n > 0 ? n : 1);
    if(!buf || (n > 0 && fread(buf, 1, n, f) != (size_t)n)){ perror(path); fclose(f); free(buf); return -1; }
    fclose(f);
    fprintf(stderr, "replay: %s\n", path);
    LLVMFuzzerTestOneInput(buf, (size_t)n);
    free(buf);
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
    int i, count = 0, failed = 0;
    for(i = 1; i < argc; ++i){
        struct stat st;
        if(stat(argv[i], &st) != 0){ perror(argv[i]); failed = 1; continue; }
        if(!S_ISDIR(st.st_mode)){ failed |= run_file(argv[i]) != 0; count++; continue; }
        DIR *d = opendir(argv[i]);
        if(!d){ perror(argv[i]); failed = 1; continue; }
        char **names = NULL;
        size_t nn = 0, j;
        struct dirent *e;
        while((e = readdir(d))){
            if(e->d_name[0] == '.') continue;
            names = realloc(names, (nn + 1)*sizeof(*names));
            names[nn++] = strdup(e->d_name);
        }
        closedir(d);
        qsort(names, nn, sizeof(*names), by_name);
        for(j = 0; j < nn; ++j){
            char path[4096];
            snprintf(path, sizeof(path), "%s/%s", argv[i], names[j]);
            failed |= run_file(path) != 0;
            count++;
            free(names[j]);
        }
        free(names);
    }
    printf("replayed %d inputs\n", count);
    return failed;
}
