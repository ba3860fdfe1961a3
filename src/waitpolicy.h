// waitpolicy.h: how OpenMP's idle threads wait, chosen at start when the user did not choose.
//
// A darknet training step enters hundreds of OpenMP regions (darknet's loops, patches 0050-0057,
// and OpenMP OpenBLAS's gemm). Between regions a thread either sleeps (OMP_WAIT_POLICY=passive:
// each region then pays a futex wake-up) or spins a while first. On an idle machine a short spin
// is what makes the second core pay (ResNet-18 64x64 batch 16, 2 threads: 0.106 s a step against
// 0.155 s passive); on cores shared with other jobs a spinning thread takes the core its partner
// needs, and passive is faster. libgomp reads its variables before main, so the choice is made
// by setting one and starting the process again (darknet's main, patch 0056; the bench binaries).
#ifndef SALIENCY_WAITPOLICY_H
#define SALIENCY_WAITPOLICY_H

typedef enum {
    WAIT_USER,      // OMP_WAIT_POLICY or GOMP_SPINCOUNT is set: left alone
    WAIT_PASSIVE,   // OMP_WAIT_POLICY=passive: sleep at once
    WAIT_SPIN       // GOMP_SPINCOUNT=WAIT_SPINCOUNT: spin that many rounds, then sleep
} wait_policy;

// libgomp's own count for a thread that has no core of its own; about 20 microseconds
#define WAIT_SPINCOUNT 1000

// Pure: spin when each of the threads has a core that nothing else runs on, others + threads <=
// cores (others: the machine's running tasks besides this process); passive otherwise.
wait_policy wait_choose(int threads, int cores, int others);

// The running-task count of /proc/loadavg's text ("0.46 1.00 1.11 2/345 1234": 2), or -1.
int wait_loadavg_running(const char *text);

// The policy for this process with the given thread count: WAIT_USER when the environment
// names one, else wait_choose over the cores this process may run on and the fewest of five
// samples of /proc/loadavg's running count 2 ms apart (itself taken out; a sample of 1, this
// process alone, ends the sampling); passive when that cannot be read.
wait_policy wait_default(int threads);

// Sets the variable of wait_default(n) and starts /proc/self/exe again with argv unchanged (once:
// the variable is then set); n is the value of argv's "-threads N" (1 to 4096), else threads.
// Returns when there is nothing to set, the exec fails or the code was built without OpenMP.
void wait_apply(int argc, char **argv, int threads);

// What libgomp of the running process got (the variables as the process started), for reports: "passive", "spin 1000" (GOMP_SPINCOUNT=1000),
// "active", "libgomp default" (neither variable set) or "none (built without OpenMP)".
const char *wait_name(void);

#endif
