#!/usr/bin/python3
# perf_split.py PERF.DATA [N]: what of a 2-thread step stays serial (scripts/bench.sh, issue 14).
# Reads `perf report` of a bench_train run on 2 threads (OMP_WAIT_POLICY=passive: a waiting thread
# sleeps, so it takes no samples), splits the samples by thread and drops the main thread's model
# building (weight initialisation, parsing, dynamic linking: symbols listed in SETUP). With M the
# main thread's step samples and W the second thread's, the second thread only runs in parallel
# regions, so the serial work is M - W and the parallel work 2W: the parallel share
# p = 2W / (M + W), and Amdahl's speed-up on n cores 1 / (1 - p + p/n). These are CPU samples, so
# the split holds on a busy machine too (unlike wall time); it assumes balanced regions.
# Prints the split, the projections for 2 and 16 cores, and the main thread's top N symbols
# (threaded: OpenMP's outlined loops *._omp_fn.*, OpenBLAS's sgemm_*, libgomp; the rest serial).
import re
import subprocess
import sys

SETUP = re.compile(r'^(__random|__random_r|rand_normal|rand_uniform|__cos_fma|__sin_fma|__ieee754_log_fma|'
                   r'do_lookup_x|_dl_|make_|parse_|read_|calloc|__libc_calloc)')
THREADED = re.compile(r'(\._omp_fn\.|^sgemm_|^gomp_|^GOMP_)')


def main():
    data, top = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 15
    out = subprocess.run(['perf', 'report', '-i', data, '--no-children', '--sort', 'pid,symbol', '--stdio',
                          '-F', 'sample,pid,sym'], capture_output=True, text=True).stdout
    rows, per = [], {}
    for line in out.splitlines():
        m = re.match(r'\s*(\d+)\s+(\d+):\S+\s+\[(.)\]\s+(\S+)', line)
        if m:
            c, tid, sym = int(m.group(1)), m.group(2), m.group(4)
            rows.append((c, tid, sym))
            per[tid] = per.get(tid, 0) + c
    if len(per) < 2:
        print("perf_split: fewer than two threads in %s" % data)
        return
    tids = sorted(per, key=lambda t: -per[t])
    main_tid = tids[0]
    setup = sum(c for c, t, s in rows if t == main_tid and SETUP.match(s))
    M, W = per[main_tid] - setup, sum(per[t] for t in tids[1:])
    p = 2.0 * W / (M + W)
    amdahl = lambda n: 1.0 / (1.0 - p + p / n)
    print("samples: main thread %d (+%d model building, dropped), second thread %d" % (M, setup, W))
    print("parallel share p = 2W/(M+W) = %.3f, serial share %.3f" % (p, 1 - p))
    print("Amdahl: 2 threads %.2fx, 16 cores %.1fx, 64 cores %.1fx" % (amdahl(2), amdahl(16), amdahl(64)))
    print("main thread, top symbols (% of the step's samples, both threads):")
    sym = {}
    for c, t, s in rows:
        if t == main_tid and not SETUP.match(s):
            sym[s] = sym.get(s, 0) + c
    ser = sum(c for s, c in sym.items() if not THREADED.search(s))
    for s, c in sorted(sym.items(), key=lambda x: -x[1])[:top]:
        print("  %5.1f%%  %s%s" % (100.0 * c / (M + W), s, "" if THREADED.search(s) else "   (serial)"))
    print("main thread outside threaded code: %.1f%% of the step's samples" % (100.0 * ser / (M + W)))


if __name__ == '__main__':
    main()
