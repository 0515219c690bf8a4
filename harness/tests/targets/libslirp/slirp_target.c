/*
 * libslirp (Debian libslirp-dev 4.7.0) as a tcpconform target on a TAP device.
 *
 * The tester plays slirp's "guest": its frames are read from the TAP device and
 * handed to slirp_input(); slirp's frames (send_packet) are written back. A TCP
 * connection from the guest to slirp's virtual host address (192.0.2.1,
 * 2001:db8::1) is terminated by slirp's BSD-derived TCP and proxied to the same
 * port on loopback, where this program runs kernel-socket applications: echo on
 * port 7 and discard on port 9 (127.0.0.1 and ::1). Nothing listens on port 1,
 * so slirp's connect() to it is refused and slirp answers the guest's SYN with
 * a RST.
 *
 * Usage: slirp-target IFACE   (runs until SIGTERM or SIGINT, logs to stderr)
 */
#define _GNU_SOURCE
#include <slirp/libslirp.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define ECHO_PORT 7
#define DISCARD_PORT 9
/* Longest sleep of the loop: a signal is noticed within it. */
#define MAX_WAIT_MS 100
/* A TAP read takes one frame; larger than any MTU the device may be given. */
#define FRAME_MAX 65536
#define MAX_TIMERS 16
/*
 * Descriptors: slirp holds one host socket per guest connection, and the
 * applications one accepted socket per host connection, so a flood of N SYNs
 * needs about 2N descriptors (the corpus sends 10,000).
 */
#define NOFILE_WANTED 65536
/* Stack of an application thread (a flood makes thousands of them). */
#define APP_STACK (256 * 1024)

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static void logf_(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("slirp-target: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void die(const char *what)
{
    logf_("%s: %s", what, strerror(errno));
    exit(1);
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- the applications: kernel sockets on loopback ---------------------- */

struct conn {
    int fd;
    bool echo;
};

static bool write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        buf += n;
        len -= (size_t)n;
    }
    return true;
}

/* Echo or discard until the peer's FIN (read returns 0), then close. */
static void *conn_thread(void *arg)
{
    struct conn *c = arg;
    char buf[16384];
    for (;;) {
        ssize_t n = read(c->fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (c->echo && !write_all(c->fd, buf, (size_t)n))
            break;
    }
    close(c->fd);
    free(c);
    return NULL;
}

struct listener {
    int fd;
    bool echo;
};

static int listen_on(int family, uint16_t port)
{
    struct sockaddr_storage ss;
    socklen_t len;
    memset(&ss, 0, sizeof ss);
    if (family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof *sin;
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(port);
        sin6->sin6_addr = in6addr_loopback;
        len = sizeof *sin6;
    }
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("socket");
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&ss, len) < 0)
        die(family == AF_INET ? "bind 127.0.0.1" : "bind ::1");
    if (listen(fd, SOMAXCONN) < 0)
        die("listen");
    return fd;
}

static struct listener listeners[4];

static void *server_thread(void *arg)
{
    (void)arg;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, APP_STACK);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    struct pollfd pfd[4];
    for (int i = 0; i < 4; i++)
        pfd[i] = (struct pollfd){.fd = listeners[i].fd, .events = POLLIN};
    for (;;) {
        if (poll(pfd, 4, -1) < 0) {
            if (errno == EINTR)
                continue;
            die("poll (applications)");
        }
        for (int i = 0; i < 4; i++) {
            if (!(pfd[i].revents & POLLIN))
                continue;
            int fd = accept4(listeners[i].fd, NULL, NULL, SOCK_CLOEXEC);
            if (fd < 0) {
                /* Out of descriptors: the pending connection stays queued; do not spin. */
                if (errno == EMFILE || errno == ENFILE || errno == ENOMEM)
                    nanosleep(&(struct timespec){.tv_nsec = 10000000}, NULL);
                continue;
            }
            struct conn *c = malloc(sizeof *c);
            if (!c) {
                close(fd);
                continue;
            }
            *c = (struct conn){.fd = fd, .echo = listeners[i].echo};
            pthread_t t;
            if (pthread_create(&t, &attr, conn_thread, c) != 0) {
                close(fd);
                free(c);
                continue;
            }
        }
    }
    return NULL;
}

/* ---- slirp's side: TAP device, callbacks, timers, poll loop ------------- */

static int tap_fd = -1;

static int tap_open(const char *name)
{
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        die("open /dev/net/tun");
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    if (strlen(name) >= sizeof ifr.ifr_name) {
        logf_("device name too long: %s", name);
        exit(2);
    }
    strcpy(ifr.ifr_name, name);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0)
        die("TUNSETIFF");
    return fd;
}

static ssize_t send_packet(const void *buf, size_t len, void *opaque)
{
    (void)opaque;
    ssize_t n = write(tap_fd, buf, len);
    if (n < 0)
        logf_("TAP write of %zu octets: %s", len, strerror(errno));
    return n;
}

static void guest_error(const char *msg, void *opaque)
{
    (void)opaque;
    logf_("guest error: %s", msg);
}

static int64_t clock_get_ns(void *opaque)
{
    (void)opaque;
    return now_ns();
}

struct timer {
    bool used;
    SlirpTimerId id;
    void *cb_opaque;
    /* Legacy callback (timer_new), else NULL and slirp_handle_timer is used. */
    SlirpTimerCb cb;
    /* Expiry on clock_get_ns's clock in ms; -1 when not armed. */
    int64_t expire_ms;
};

static struct timer timers[MAX_TIMERS];

static struct timer *timer_alloc(void)
{
    for (int i = 0; i < MAX_TIMERS; i++) {
        if (!timers[i].used) {
            timers[i] = (struct timer){.used = true, .expire_ms = -1};
            return &timers[i];
        }
    }
    logf_("out of timers");
    exit(1);
}

static void *timer_new(SlirpTimerCb cb, void *cb_opaque, void *opaque)
{
    (void)opaque;
    struct timer *t = timer_alloc();
    t->cb = cb;
    t->cb_opaque = cb_opaque;
    return t;
}

static void *timer_new_opaque(SlirpTimerId id, void *cb_opaque, void *opaque)
{
    (void)opaque;
    struct timer *t = timer_alloc();
    t->id = id;
    t->cb_opaque = cb_opaque;
    return t;
}

static void timer_free(void *timer, void *opaque)
{
    (void)opaque;
    ((struct timer *)timer)->used = false;
}

static void timer_mod(void *timer, int64_t expire_time, void *opaque)
{
    (void)opaque;
    ((struct timer *)timer)->expire_ms = expire_time;
}

/* The loop rebuilds its pollfd array on every turn: nothing to track here. */
static void register_poll_fd(int fd, void *opaque)
{
    (void)fd;
    (void)opaque;
}

static void unregister_poll_fd(int fd, void *opaque)
{
    (void)fd;
    (void)opaque;
}

static void notify(void *opaque)
{
    (void)opaque;
}

/* Rebuilt on every turn of the loop; grows with the number of slirp sockets. */
static struct pollfd *pollfds;
static int npollfds, cap_pollfds;

static int to_poll_events(int events)
{
    int e = 0;
    if (events & SLIRP_POLL_IN)
        e |= POLLIN;
    if (events & SLIRP_POLL_OUT)
        e |= POLLOUT;
    if (events & SLIRP_POLL_PRI)
        e |= POLLPRI;
    if (events & SLIRP_POLL_ERR)
        e |= POLLERR;
    if (events & SLIRP_POLL_HUP)
        e |= POLLHUP;
    return e;
}

static int add_poll(int fd, int events, void *opaque)
{
    (void)opaque;
    if (npollfds == cap_pollfds) {
        int cap = cap_pollfds ? 2 * cap_pollfds : 256;
        struct pollfd *p = realloc(pollfds, (size_t)cap * sizeof *p);
        if (!p)
            die("realloc pollfds");
        pollfds = p;
        cap_pollfds = cap;
    }
    pollfds[npollfds] = (struct pollfd){.fd = fd, .events = (short)to_poll_events(events)};
    return npollfds++;
}

static int get_revents(int idx, void *opaque)
{
    (void)opaque;
    short r = pollfds[idx].revents;
    int e = 0;
    if (r & POLLIN)
        e |= SLIRP_POLL_IN;
    if (r & POLLOUT)
        e |= SLIRP_POLL_OUT;
    if (r & POLLPRI)
        e |= SLIRP_POLL_PRI;
    if (r & POLLERR)
        e |= SLIRP_POLL_ERR;
    if (r & POLLHUP)
        e |= SLIRP_POLL_HUP;
    return e;
}

static void run_timers(Slirp *slirp)
{
    int64_t now_ms = now_ns() / 1000000;
    for (int i = 0; i < MAX_TIMERS; i++) {
        struct timer *t = &timers[i];
        if (!t->used || t->expire_ms < 0 || t->expire_ms > now_ms)
            continue;
        t->expire_ms = -1;
        if (t->cb)
            t->cb(t->cb_opaque);
        else
            slirp_handle_timer(slirp, t->id, t->cb_opaque);
    }
}

static uint32_t next_timer_ms(uint32_t timeout)
{
    int64_t now_ms = now_ns() / 1000000;
    for (int i = 0; i < MAX_TIMERS; i++) {
        if (!timers[i].used || timers[i].expire_ms < 0)
            continue;
        int64_t left = timers[i].expire_ms - now_ms;
        if (left < 0)
            left = 0;
        if ((uint64_t)left < timeout)
            timeout = (uint32_t)left;
    }
    return timeout;
}

static struct in_addr ip4(const char *s)
{
    struct in_addr a;
    if (inet_pton(AF_INET, s, &a) != 1)
        abort();
    return a;
}

static struct in6_addr ip6(const char *s)
{
    struct in6_addr a;
    if (inet_pton(AF_INET6, s, &a) != 1)
        abort();
    return a;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s IFACE\n", argv[0]);
        return 2;
    }

    /* Raise the descriptor limit as far as NOFILE_WANTED allows (root may raise the hard one). */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < NOFILE_WANTED) {
        struct rlimit want = {NOFILE_WANTED, rl.rlim_max > NOFILE_WANTED ? rl.rlim_max : NOFILE_WANTED};
        if (setrlimit(RLIMIT_NOFILE, &want) != 0) {
            rl.rlim_cur = rl.rlim_max;
            setrlimit(RLIMIT_NOFILE, &rl);
        }
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        logf_("descriptor limit %llu", (unsigned long long)rl.rlim_cur);

    /* The application threads never take SIGTERM/SIGINT: the loop below does. */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    listeners[0] = (struct listener){listen_on(AF_INET, ECHO_PORT), true};
    listeners[1] = (struct listener){listen_on(AF_INET, DISCARD_PORT), false};
    listeners[2] = (struct listener){listen_on(AF_INET6, ECHO_PORT), true};
    listeners[3] = (struct listener){listen_on(AF_INET6, DISCARD_PORT), false};
    pthread_t server;
    if (pthread_create(&server, NULL, server_thread, NULL) != 0)
        die("pthread_create");
    pthread_sigmask(SIG_SETMASK, &old, NULL);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    tap_fd = tap_open(argv[1]);

    /*
     * The virtual network: slirp is 192.0.2.1 and 2001:db8::1 (vhost), the
     * guest anything else in 192.0.2.0/24 and 2001:db8::/64. The name server
     * address is the host's own, and DNS and DHCP are off, so slirp answers
     * ARP/NDP for that one address only and no port of it is redirected.
     */
    SlirpConfig cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.version = 4;
    cfg.restricted = 0;
    cfg.in_enabled = true;
    cfg.vnetwork = ip4("192.0.2.0");
    cfg.vnetmask = ip4("255.255.255.0");
    cfg.vhost = ip4("192.0.2.1");
    cfg.vdhcp_start = ip4("192.0.2.15");
    cfg.vnameserver = ip4("192.0.2.1");
    cfg.in6_enabled = true;
    cfg.vprefix_addr6 = ip6("2001:db8::");
    cfg.vprefix_len = 64;
    cfg.vhost6 = ip6("2001:db8::1");
    cfg.vnameserver6 = ip6("2001:db8::1");
    cfg.disable_host_loopback = false;
    cfg.disable_dns = true;
    cfg.disable_dhcp = true;

    static const SlirpCb callbacks = {
        .send_packet = send_packet,
        .guest_error = guest_error,
        .clock_get_ns = clock_get_ns,
        .timer_new = timer_new,
        .timer_free = timer_free,
        .timer_mod = timer_mod,
        .register_poll_fd = register_poll_fd,
        .unregister_poll_fd = unregister_poll_fd,
        .notify = notify,
        .timer_new_opaque = timer_new_opaque,
    };
    Slirp *slirp = slirp_new(&cfg, &callbacks, NULL);
    if (!slirp) {
        logf_("slirp_new failed");
        return 1;
    }
    logf_("libslirp %s up on %s: 192.0.2.1, 2001:db8::1; echo 7, discard 9 (via loopback)",
          slirp_version_string(), argv[1]);

    static uint8_t frame[FRAME_MAX];
    while (!stop) {
        uint32_t timeout = MAX_WAIT_MS;
        npollfds = 0;
        add_poll(tap_fd, SLIRP_POLL_IN, NULL);
        slirp_pollfds_fill(slirp, &timeout, add_poll, NULL);
        timeout = next_timer_ms(timeout);
        int ret = poll(pollfds, (nfds_t)npollfds, (int)timeout);
        if (ret < 0 && errno != EINTR)
            die("poll");
        if (ret > 0 && (pollfds[0].revents & POLLIN)) {
            for (;;) {
                ssize_t n = read(tap_fd, frame, sizeof frame);
                if (n < 0) {
                    if (errno != EAGAIN && errno != EINTR)
                        logf_("TAP read: %s", strerror(errno));
                    break;
                }
                slirp_input(slirp, frame, (int)n);
            }
        }
        slirp_pollfds_poll(slirp, ret < 0, get_revents, NULL);
        run_timers(slirp);
    }
    logf_("stopping");
    slirp_cleanup(slirp);
    close(tap_fd);
    return 0;
}
