/* wakeup_cost.c - CPU a thread spends per sleep and wake-up on this machine: rounds of
 * epoll_wait with a 10 ms timeout and nothing to wait for (the rhythm of an idle media
 * worker's tick), timed with the thread's own CPU clock. On a virtual machine this is what a
 * lightly loaded server pays per wake-up before it forwards anything (docs/BENCHMARKS.md).
 *   build/bench/wakeup_cost [rounds]     (default 1000, i.e. 10 s) */
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

static double thread_cpu_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 1000;
    if (rounds < 1) rounds = 1000;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) {
        perror("epoll_create1");
        return 1;
    }
    struct epoll_event ev;
    double start = thread_cpu_us();
    for (int i = 0; i < rounds; i++) epoll_wait(ep, &ev, 1, 10);
    double per_wakeup = (thread_cpu_us() - start) / rounds;
    printf("%.1f us of CPU per wake-up (%d rounds of a 10 ms epoll_wait)\n", per_wakeup, rounds);
    close(ep);
    return 0;
}
