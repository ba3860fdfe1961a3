// waitpolicy.c: OpenMP's wait policy chosen from the machine's load at start (waitpolicy.h).
#define _GNU_SOURCE
#include "waitpolicy.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

wait_policy wait_choose(int threads, int cores, int others)
{
    if (threads < 1) threads = 1;
    if (others < 0) others = 0;
    return cores >= 1 && others + threads <= cores ? WAIT_SPIN : WAIT_PASSIVE;
}

int wait_loadavg_running(const char *text)
{
    double l1, l5, l15;
    int running, total;
    if (!text || sscanf(text, "%lf %lf %lf %d/%d", &l1, &l5, &l15, &running, &total) != 5) return -1;
    return running >= 0 ? running : -1;
}

static int set_in_env(const char *name)
{
    const char *v = getenv(name);
    return v && *v;
}

// the cores this process may run on (taskset, cgroup cpusets), else the online cores
static int usable_cores(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) return CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

// /proc/loadavg's running count, or -1
static int running_now(void)
{
    char text[256];
    FILE *f = fopen("/proc/loadavg", "r");
    if (!f) return -1;
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = 0;
    return wait_loadavg_running(text);
}

wait_policy wait_default(int threads)
{
    if (set_in_env("OMP_WAIT_POLICY") || set_in_env("GOMP_SPINCOUNT")) return WAIT_USER;
    // the fewest of five samples: a job that keeps a core busy is in every sample, a process
    // starting or ending (the one before this one in a script) in a few. The count includes the
    // sampling thread, so 1 is the least there can be: no need to look again.
    int fewest = -1;
    for (int i = 0; i < 5 && fewest != 1; i++) {
        if (i) nanosleep(&(struct timespec){0, 2000000}, NULL);
        int r = running_now();
        if (r < 0) return WAIT_PASSIVE;
        if (fewest < 0 || r < fewest) fewest = r;
    }
    return wait_choose(threads, usable_cores(), fewest - 1);
}

void wait_apply(int argc, char **argv, int threads)
{
#ifndef _OPENMP
    (void)argc; (void)argv; (void)threads;   // built without OpenMP: nothing waits
    return;
#endif
    for (int i = 1; i + 1 < argc; i++) {
        long n = strcmp(argv[i], "-threads") ? 0 : strtol(argv[i + 1], NULL, 10);
        if (n >= 1 && n <= 4096) threads = (int)n;
    }
    wait_policy p = wait_default(threads);
    if (p == WAIT_USER) return;
    if (p == WAIT_SPIN) {
        char v[16];
        snprintf(v, sizeof v, "%d", WAIT_SPINCOUNT);
        setenv("GOMP_SPINCOUNT", v, 1);
    } else {
        setenv("OMP_WAIT_POLICY", "passive", 1);
    }
    execv("/proc/self/exe", argv);
}

// the two variables as this process image started with them, which is what libgomp read
static char start_policy[32], start_spincount[32];

__attribute__((constructor)) static void wait_read_start(void)
{
    const char *p = getenv("OMP_WAIT_POLICY"), *s = getenv("GOMP_SPINCOUNT");
    snprintf(start_policy, sizeof start_policy, "%s", p ? p : "");
    snprintf(start_spincount, sizeof start_spincount, "%s", s ? s : "");
}

const char *wait_name(void)
{
    static char name[64];
#ifndef _OPENMP
    return "none (built without OpenMP)";
#endif
    if (start_policy[0]) snprintf(name, sizeof name, "%s", start_policy);
    else if (start_spincount[0]) snprintf(name, sizeof name, "spin %s", start_spincount);
    else snprintf(name, sizeof name, "libgomp default");
    return name;
}
