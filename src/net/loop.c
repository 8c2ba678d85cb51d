/* loop.c - epoll event loop with a coalesced tick and cross-thread calls. */
#include "net/net.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "core/log.h"

#define MAX_FDS 16

typedef struct fd_entry {
    int fd;
    j_fd_fn fn;
    void *ctx;
} fd_entry;

/* A pending cross-thread call; lives on the caller's stack while it waits. */
typedef struct loop_call {
    j_call_fn fn;
    void *arg;
    bool done;
    struct loop_call *next;
} loop_call;

struct j_loop {
    int epfd;
    int wake_fd;
    unsigned tick_ms;
    j_tick_fn tick_fn;
    void *tick_ctx;
    uint64_t next_tick_us;
    fd_entry fds[MAX_FDS];
    int n_fds;
    pthread_t owner;
    bool running; /* set by the owner thread, read by callers under `lock` */
    bool stopping;
    pthread_mutex_t lock; /* guards calls, stopping and running: control path only */
    pthread_cond_t call_done;
    loop_call *calls;
};

uint64_t j_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void wake_read(void *ctx, uint32_t events)
{
    (void)events;
    j_loop *l = ctx;
    uint64_t v;
    while (read(l->wake_fd, &v, sizeof v) > 0) {
    }
}

j_loop *j_loop_new(unsigned tick_ms, j_tick_fn tick_fn, void *tick_ctx)
{
    j_loop *l = calloc(1, sizeof *l);
    if (!l) return NULL;
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    l->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    l->tick_ms = tick_ms ? tick_ms : 10;
    l->tick_fn = tick_fn;
    l->tick_ctx = tick_ctx;
    pthread_mutex_init(&l->lock, NULL);
    pthread_cond_init(&l->call_done, NULL);
    if (l->epfd < 0 || l->wake_fd < 0 || j_loop_add_fd(l, l->wake_fd, wake_read, l) != J_OK) {
        J_ERROR("loop", "cannot create event loop: %s", strerror(errno));
        j_loop_free(l);
        return NULL;
    }
    return l;
}

void j_loop_free(j_loop *l)
{
    if (!l) return;
    if (l->epfd >= 0) close(l->epfd);
    if (l->wake_fd >= 0) close(l->wake_fd);
    pthread_mutex_destroy(&l->lock);
    pthread_cond_destroy(&l->call_done);
    free(l);
}

int j_loop_add_fd(j_loop *l, int fd, j_fd_fn fn, void *ctx)
{
    if (l->n_fds >= MAX_FDS) return J_ELIMIT;
    fd_entry *e = &l->fds[l->n_fds];
    e->fd = fd;
    e->fn = fn;
    e->ctx = ctx;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = e};
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) return J_EIO;
    l->n_fds++;
    return J_OK;
}

static void run_calls(j_loop *l)
{
    pthread_mutex_lock(&l->lock);
    loop_call *c = l->calls;
    l->calls = NULL;
    pthread_mutex_unlock(&l->lock);
    while (c) {
        loop_call *next = c->next; /* c may be gone once done is seen by its caller */
        c->fn(c->arg);
        pthread_mutex_lock(&l->lock);
        c->done = true;
        pthread_cond_broadcast(&l->call_done);
        pthread_mutex_unlock(&l->lock);
        c = next;
    }
}

void j_loop_run(j_loop *l)
{
    pthread_mutex_lock(&l->lock);
    l->owner = pthread_self();
    l->running = true;
    pthread_mutex_unlock(&l->lock);
    struct epoll_event events[MAX_FDS];
    l->next_tick_us = j_now_us();
    for (;;) {
        uint64_t now = j_now_us();
        int timeout_ms = 0;
        if (l->next_tick_us > now) timeout_ms = (int)((l->next_tick_us - now + 999) / 1000);
        int n = epoll_wait(l->epfd, events, MAX_FDS, timeout_ms);
        if (n < 0 && errno != EINTR) {
            J_ERROR("loop", "epoll_wait failed: %s", strerror(errno));
            break;
        }
        for (int i = 0; i < n; i++) {
            fd_entry *e = events[i].data.ptr;
            e->fn(e->ctx, events[i].events);
        }
        run_calls(l);
        now = j_now_us();
        if (now >= l->next_tick_us) {
            if (l->tick_fn) l->tick_fn(l->tick_ctx, now);
            l->next_tick_us = now + (uint64_t)l->tick_ms * 1000u;
        }
        pthread_mutex_lock(&l->lock);
        bool stop = l->stopping;
        pthread_mutex_unlock(&l->lock);
        if (stop) break;
    }
    pthread_mutex_lock(&l->lock);
    l->running = false;
    pthread_mutex_unlock(&l->lock);
    run_calls(l); /* nobody may stay blocked on a call that raced with stop */
}

void j_loop_stop(j_loop *l)
{
    pthread_mutex_lock(&l->lock);
    l->stopping = true;
    pthread_mutex_unlock(&l->lock);
    uint64_t one = 1;
    if (write(l->wake_fd, &one, sizeof one) < 0) { /* the counter is already non-zero */
    }
}

int j_loop_call(j_loop *l, j_call_fn fn, void *arg)
{
    pthread_mutex_lock(&l->lock);
    if (l->running && pthread_equal(l->owner, pthread_self())) {
        pthread_mutex_unlock(&l->lock);
        fn(arg);
        return J_OK;
    }
    if (l->stopping) {
        pthread_mutex_unlock(&l->lock);
        return J_ESTATE;
    }
    loop_call c = {.fn = fn, .arg = arg, .done = false, .next = l->calls};
    l->calls = &c;
    pthread_mutex_unlock(&l->lock);
    uint64_t one = 1;
    if (write(l->wake_fd, &one, sizeof one) < 0) { /* the counter is already non-zero */
    }
    pthread_mutex_lock(&l->lock);
    while (!c.done) pthread_cond_wait(&l->call_done, &l->lock);
    pthread_mutex_unlock(&l->lock);
    return J_OK;
}

struct j_notify {
    int fd;
    j_notify_fn fn;
    void *ctx;
};

static void notify_readable(void *ctx, uint32_t events)
{
    (void)events;
    j_notify *n = ctx;
    uint64_t count;
    if (read(n->fd, &count, sizeof count) < 0) return; /* EAGAIN: a spurious wake-up */
    n->fn(n->ctx);
}

j_notify *j_notify_new(j_loop *l, j_notify_fn fn, void *ctx)
{
    j_notify *n = calloc(1, sizeof *n);
    if (!n) return NULL;
    n->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    n->fn = fn;
    n->ctx = ctx;
    if (n->fd < 0 || j_loop_add_fd(l, n->fd, notify_readable, n) != J_OK) {
        if (n->fd >= 0) close(n->fd);
        free(n);
        return NULL;
    }
    return n;
}

void j_notify_signal(j_notify *n)
{
    uint64_t one = 1;
    if (write(n->fd, &one, sizeof one) < 0) { /* the counter is already non-zero */
    }
}

void j_notify_free(j_notify *n)
{
    if (!n) return;
    close(n->fd);
    free(n);
}
