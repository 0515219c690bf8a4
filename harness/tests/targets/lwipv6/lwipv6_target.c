/*
 * lwIPv6 (Debian liblwipv6-dev 1.5a) as a tcpconform target on a TAP device.
 *
 * One lwIPv6 stack with one TAP interface (attached to the named device, or
 * creating it), 192.0.2.1/24 and 2001:db8::1/64, and two applications on its
 * own socket API, each connection in a thread of its own: echo on port 7 and
 * discard on port 9, for IPv4 and IPv6. Nothing listens on port 1.
 *
 * Usage: lwipv6-target IFACE   (runs until SIGTERM or SIGINT, logs to stderr)
 */
#define _GNU_SOURCE
#include <lwipv6.h>

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ECHO_PORT 7
#define DISCARD_PORT 9

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
    fputs("lwipv6-target: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void die(const char *what)
{
    logf_("%s: %s", what, strerror(errno));
    exit(1);
}

struct conn {
    int fd;
    bool echo;
};

static bool write_all(int fd, char *buf, int len)
{
    while (len > 0) {
        ssize_t n = lwip_write(fd, buf, len);
        if (n <= 0)
            return false;
        buf += n;
        len -= (int)n;
    }
    return true;
}

/*
 * Echo or discard until the peer's FIN (read returns 0), then close.
 *
 * A connection that the peer reset is left unclosed. lwip_close() holds the
 * socket table's semaphore while it waits for the stack's thread to delete the
 * connection (api/sockets.c:563-580, netconn_delete in api/api_lib.c), and that
 * thread, when a handshake to a listener completes at that moment, wants the
 * same semaphore to make the new socket (event_callback NETCONN_EVT_ACCEPTPLUS
 * -> alloc_socket, sockets.c:1321, 302): a deadlock that leaves the whole stack
 * silent. The harness ends every connection with an RST, so skipping those
 * closes keeps the race to the rare close after a FIN; the socket (a few
 * hundred octets and one descriptor) leaks. lwip_read() returns 0 after an RST
 * as after a FIN (sockets.c, lwip_recvfrom: "We should really do some error
 * checking here"); a write of no octets tells them apart: it fails with
 * ECONNRESET once the PCB is gone, and succeeds on a half-closed connection.
 */
static void *conn_thread(void *arg)
{
    struct conn *c = arg;
    static __thread char buf[16384];
    ssize_t n;
    for (;;) {
        n = lwip_read(c->fd, buf, sizeof buf);
        if (n <= 0)
            break;
        if (c->echo && !write_all(c->fd, buf, (int)n)) {
            n = -1;
            break;
        }
    }
    if (n == 0 && lwip_write(c->fd, buf, 0) == 0)
        lwip_close(c->fd);
    free(c);
    return NULL;
}

struct listener {
    int fd;
    bool echo;
    const char *what;
};

static void *accept_thread(void *arg)
{
    struct listener *l = arg;
    for (;;) {
        int fd = lwip_accept(l->fd, NULL, NULL);
        if (fd < 0) {
            logf_("%s: accept: %s", l->what, strerror(errno));
            sleep(1);
            continue;
        }
        struct conn *c = malloc(sizeof *c);
        if (!c) {
            lwip_close(fd);
            continue;
        }
        *c = (struct conn){.fd = fd, .echo = l->echo};
        pthread_t t;
        if (pthread_create(&t, NULL, conn_thread, c) != 0) {
            lwip_close(fd);
            free(c);
            continue;
        }
        pthread_detach(t);
    }
    return NULL;
}

static struct listener *listen_on(struct stack *stack, int family, const char *addr,
                                  int port, bool echo, const char *what)
{
    struct sockaddr_storage ss;
    socklen_t len;
    memset(&ss, 0, sizeof ss);
    if (family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)port);
        inet_pton(AF_INET, addr, &sin->sin_addr);
        len = sizeof *sin;
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)port);
        inet_pton(AF_INET6, addr, &sin6->sin6_addr);
        len = sizeof *sin6;
    }
    int fd = lwip_msocket(stack, family, SOCK_STREAM, 0);
    if (fd < 0)
        die("lwip_msocket");
    if (lwip_bind(fd, (struct sockaddr *)&ss, len) < 0)
        die(what);
    if (lwip_listen(fd, 16) < 0)
        die("lwip_listen");
    struct listener *l = malloc(sizeof *l);
    if (!l)
        die("malloc");
    *l = (struct listener){.fd = fd, .echo = echo, .what = what};
    pthread_t t;
    if (pthread_create(&t, NULL, accept_thread, l) != 0)
        die("pthread_create");
    pthread_detach(t);
    logf_("%s", what);
    return l;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s IFACE\n", argv[0]);
        return 2;
    }
    /* A handler, not sigwait: the library's own threads (started when it is
     * loaded) do not block these signals, and any thread may take them. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct stack *stack = lwip_add_stack(0);
    if (!stack)
        die("lwip_add_stack");
    /* Flags 0: no IPv6 stateless autoconfiguration, no router advertisements. */
    struct netif *nif = lwip_add_tapif(stack, argv[1], 0);
    if (!nif)
        die("lwip_add_tapif");
    struct ip_addr addr, mask;
    IP64_ADDR(&addr, 192, 0, 2, 1);
    IP64_MASKADDR(&mask, 255, 255, 255, 0);
    if (lwip_add_addr(nif, &addr, &mask) < 0)
        die("lwip_add_addr 192.0.2.1/24");
    IP6_ADDR(&addr, 0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
    IP6_ADDR(&mask, 0xffff, 0xffff, 0xffff, 0xffff, 0, 0, 0, 0);
    if (lwip_add_addr(nif, &addr, &mask) < 0)
        die("lwip_add_addr 2001:db8::1/64");
    if (lwip_ifup(nif) < 0)
        die("lwip_ifup");

    listen_on(stack, AF_INET, "192.0.2.1", ECHO_PORT, true, "echo on 192.0.2.1 port 7");
    listen_on(stack, AF_INET, "192.0.2.1", DISCARD_PORT, false, "discard on 192.0.2.1 port 9");
    listen_on(stack, AF_INET6, "2001:db8::1", ECHO_PORT, true, "echo on 2001:db8::1 port 7");
    listen_on(stack, AF_INET6, "2001:db8::1", DISCARD_PORT, false,
              "discard on 2001:db8::1 port 9");
    logf_("up on %s", argv[1]);

    while (!stop)
        usleep(100 * 1000);
    logf_("stopping");
    /* Threads are blocked in lwip_accept/lwip_read: leave without tearing the
     * stack down under them; the TAP descriptor closes with the process. */
    _exit(0);
}
