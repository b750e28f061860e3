/*
 * Modbus RTU on a pseudo-terminal or a serial device: the pty and its
 * symlink (or the device), framing by silence, replies paced like the real
 * line byte by byte, and a pty's pending output dropped when its last
 * client closes.
 */
#define _GNU_SOURCE    /* posix_openpt, ptsname_r */
#include "modbus_rtu.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/serial.h>
#include <sys/inotify.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "modbus_engine.h"

/* Longest RTU frame: address, 253-byte PDU, CRC. */
#define RTU_FRAME_MAX 256

/* Minimum frame gap above 19200 baud (Modbus over serial line 2.5.1.1). */
#define RTU_GAP_MIN 0.00175

struct mb_rtu {
    struct ev_loop *loop;
    struct mb_bus_ops ops;
    struct mb_faults *faults;   /* shared, may be NULL */
    struct mb_engine eng;
    int master;                 /* our side of the pty, or the device */
    int slave;                  /* held open: the master reads EIO without
                                   it (-1 on a device) */
    bool device;                /* an existing tty, not our pty */
    int notify_fd;              /* inotify on the pty's slave: a client
                                   closed it (-1: not watched) */
    ev_io notify;
    unsigned clients;           /* opens of the slave not closed yet */
    char pty[PATH_MAX];         /* the slave device (or the device) */
    char *link;                 /* our symlink, or NULL */
    int baud;
    char parity;
    bool pace;
    bool (*hears)(void *ctx, int slave, int baud);  /* NULL: all hear */
    void *hears_ctx;
    int line_baud;              /* the line's speed for this frame (the
                                   client's on a pty; 0: none we know) */
    double tchar;               /* seconds per character on the line */
    double gap;                 /* silence that ends a frame */
    ev_io rx;                   /* bytes from the client */
    ev_timer silence;           /* fires when the frame has ended */
    /* When the pending reply's next byte is due: a timerfd armed at an
     * absolute monotonic time, because libev's timers wake up to 1 ms late
     * (epoll's millisecond timeouts) and a paced byte must be within 1 ms. */
    int tx_fd;
    ev_io tx;
    uint8_t frame[RTU_FRAME_MAX];
    size_t flen;
    struct timespec last_rx_mono; /* when the frame's last bytes came */
    bool overflow;              /* the frame grew past RTU_FRAME_MAX */
    uint8_t req[RTU_FRAME_MAX]; /* the request the pending reply answers */
    size_t reqlen;
    uint8_t rsp[MB_ADU_MAX];    /* the pending reply */
    size_t rsplen;
    size_t sent;                /* bytes of it on the line so far */
    struct timespec tx_start;   /* when the turnaround ends: byte k (1..n)
                                   arrives k characters later */
    bool pending;
    bool orphan;                /* the frame in progress came from a client
                                   that has closed: no reply */
    bool warned_full;           /* logged once: the client is not reading */
    struct mb_stats stats;
};

void mb_rtu_config_default(struct mb_rtu_config *cfg)
{
    cfg->link = NULL;
    cfg->baud = 9600;
    cfg->parity = 'E';
    cfg->pace = true;
    cfg->hears = NULL;          /* every meter hears the line */
    cfg->hears_ctx = NULL;
}

/* The line speeds the port takes: the meter's four, then faster ones for
 * tests. The one list for the check, the tty and the error message. */
static const struct line_rate {
    int baud;
    speed_t speed;              /* its termios constant */
} rates[] = {
    { 1200, B1200 }, { 2400, B2400 }, { 4800, B4800 }, { 9600, B9600 },
    { 19200, B19200 }, { 38400, B38400 }, { 57600, B57600 },
    { 115200, B115200 },
};
#define NRATES (sizeof(rates) / sizeof(rates[0]))

static const struct line_rate *find_rate(int baud)
{
    for (size_t k = 0; k < NRATES; k++)
        if (rates[k].baud == baud)
            return &rates[k];
    return NULL;
}

static bool line_ok(int baud, char parity)
{
    return find_rate(baud) && (parity == 'E' || parity == 'O' ||
                               parity == 'N');
}

/* "1200, 2400, ... or 115200" */
static void format_rates(char *buf, size_t len)
{
    size_t off = 0;

    buf[0] = '\0';
    for (size_t k = 0; k < NRATES && off < len; k++)
        off += (size_t)snprintf(buf + off, len - off, "%s%d",
                                k == 0 ? "" : k + 1 < NRATES ? ", " : " or ",
                                rates[k].baud);
}

static void traffic(struct mb_rtu *r, const uint8_t *req, size_t reqlen,
                    const uint8_t *rsp, size_t rsplen)
{
    if (r->ops.traffic)
        r->ops.traffic(r->ops.ctx, "rtu", reqlen ? req[0] : -1, req, reqlen,
                       rsp, rsplen);
}

static struct timespec ts_after(struct timespec t, double seconds)
{
    long long ns = t.tv_nsec + (long long)(seconds * 1e9);

    t.tv_sec += (time_t)(ns / 1000000000);
    t.tv_nsec = (long)(ns % 1000000000);
    return t;
}

static double ts_diff(struct timespec a, struct timespec b)
{
    return (double)(a.tv_sec - b.tv_sec) + (a.tv_nsec - b.tv_nsec) * 1e-9;
}

static void tx_disarm(struct mb_rtu *r)
{
    struct itimerspec off = { 0 };
    timerfd_settime(r->tx_fd, 0, &off, NULL);
}

/* Wake up at t (a time already past fires at once). */
static void tx_arm(struct mb_rtu *r, struct timespec t)
{
    struct itimerspec at = { .it_value = t };
    timerfd_settime(r->tx_fd, TFD_TIMER_ABSTIME, &at, NULL);
}

/* The pending reply will not be finished: the master talked over it, or
 * its client went away. Counted once. */
static void abandon_reply(struct mb_rtu *r)
{
    if (!r->pending)
        return;
    tx_disarm(r);
    r->pending = false;
    r->stats.dropped++;
    traffic(r, r->req, r->reqlen, NULL, 0);
}

/* Put on the line what of the pending reply is due by now: paced on a
 * pty, one character per character time from the turnaround on (a late
 * wake-up writes every byte due at once); unpaced, or on a real device
 * (whose UART paces the bytes itself), the whole reply. */
static void tx_step(struct mb_rtu *r)
{
    size_t due = r->rsplen;

    if (r->pace && !r->device) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        double k = ts_diff(now, r->tx_start) / r->tchar + 1e-6;
        due = k < (double)r->rsplen ? (size_t)k : r->rsplen;
        if (due <= r->sent)
            due = r->sent + 1;
    }
    ssize_t n = write(r->master, r->rsp + r->sent, due - r->sent);
    if (n != (ssize_t)(due - r->sent)) {
        if (!r->warned_full) {
            mb_log(&r->ops, MB_LOG_WARN, "modbus rtu %s: reply lost (%s): "
                   "the client is not reading its replies", r->pty,
                   n < 0 ? strerror(errno) : "short write");
            r->warned_full = true;
        }
        abandon_reply(r);
        return;
    }
    r->sent = due;
    if (r->sent < r->rsplen) {
        tx_arm(r, ts_after(r->tx_start, (double)(r->sent + 1) * r->tchar));
        return;
    }
    r->pending = false;
    r->stats.replies++;
    if (r->rsplen > 1 && (r->rsp[1] & 0x80))
        r->stats.exceptions++;
    traffic(r, r->req, r->reqlen, r->rsp, r->rsplen);
}

static void tx_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct mb_rtu *r = w->data;
    uint64_t expirations;
    (void)loop;
    (void)revents;
    if (read(r->tx_fd, &expirations, sizeof expirations) < 0)
        return;     /* disarmed meanwhile (EAGAIN) */
    if (r->pending)
        tx_step(r);
}

/* A broadcast write reaches every meter on the bus that hears it; nobody
 * answers. */
static void broadcast(struct mb_engine *eng, const struct mb_bus_ops *ops,
                      struct mb_stats *stats,
                      bool (*hears)(void *ctx, int slave), void *hears_ctx,
                      const struct mb_request *rq)
{
    if (rq->invalid || (rq->fc != MB_FC_WRITE_SINGLE &&
                        rq->fc != MB_FC_WRITE_MULTIPLE))
        return;
    for (int s = MB_SLAVE_MIN; s <= MB_SLAVE_MAX; s++)
        if (ops->present(ops->ctx, s) && (!hears || hears(hears_ctx, s)))
            (void)mb_engine_execute(eng, ops, s, rq);
    stats->broadcasts++;
}

int mb_rtu_answer(struct mb_engine *eng, const struct mb_bus_ops *ops,
                  struct mb_faults *faults, struct mb_stats *stats,
                  bool (*hears)(void *ctx, int slave), void *hears_ctx,
                  const uint8_t *f, size_t len, uint8_t *rsp, size_t cap,
                  struct mb_fault_action *act)
{
    struct mb_request rq;

    memset(act, 0, sizeof *act);
    if (len < 4 || len > RTU_FRAME_MAX) {
        stats->bad_frames++;
        mb_log(ops, MB_LOG_DEBUG, "modbus rtu: %zu-byte frame ignored", len);
        return 0;
    }
    if (mb_crc16(f, len - 2) != (f[len - 2] | f[len - 1] << 8)) {
        stats->bad_frames++;
        mb_log(ops, MB_LOG_DEBUG, "modbus rtu: bad CRC, frame ignored");
        return 0;
    }
    int slave = f[0];
    mb_request_parse(f + 1, len - 3, &rq);
    if (slave == MB_BROADCAST) {
        broadcast(eng, ops, stats, hears, hears_ctx, &rq);
        return 0;
    }
    if (slave > MB_SLAVE_MAX || !ops->present(ops->ctx, slave) ||
        (hears && !hears(hears_ctx, slave))) {
        stats->ignored++;
        return 0;
    }
    int ex = mb_engine_serve(eng, ops, faults, MB_FAULT_RTU, stats, slave,
                             &rq, act);
    if (ex < 0)
        return 0;
    int n = mb_engine_reply(eng, f, len, ex, rsp, cap);
    if (n <= 0) {
        mb_log(ops, MB_LOG_ERR, "modbus rtu: libmodbus built no reply "
               "(%s)", modbus_strerror(errno));
        return -1;
    }
    if (act->badcrc)
        rsp[n - 1] ^= 0x5A;
    return n;
}

/* Does the meter at slave hear the line at its present speed? */
static bool line_hears(void *ctx, int slave)
{
    struct mb_rtu *r = ctx;
    return r->hears(r->hears_ctx, slave, r->line_baud);
}

static void frame_end(struct mb_rtu *r)
{
    struct mb_fault_action act;
    size_t len = r->overflow ? RTU_FRAME_MAX + 1 : r->flen;
    bool orphan = r->orphan;

    r->flen = 0;
    r->overflow = false;
    r->orphan = false;
    int n = mb_rtu_answer(&r->eng, &r->ops, r->faults, &r->stats,
                          r->hears ? line_hears : NULL, r, r->frame, len,
                          r->rsp, sizeof(r->rsp), &act);
    if (n <= 0) {
        if (n == 0)
            traffic(r, r->frame, len > RTU_FRAME_MAX ? RTU_FRAME_MAX : len,
                    NULL, 0);
        return;
    }
    if (orphan) {
        r->stats.dropped++;
        traffic(r, r->frame, len, NULL, 0);
        return;
    }
    memcpy(r->req, r->frame, len);
    r->reqlen = len;
    r->rsplen = (size_t)n;
    r->sent = 0;
    r->pending = true;

    /* Counted from the request's last byte, so that the silence timer's
     * own lateness is not added to the reply's: the turnaround (the
     * 3.5-character silence that ended the request, plus a fault's
     * delay), then one character time per byte. */
    r->tx_start = ts_after(r->last_rx_mono, r->gap + act.delay_ms / 1000.0);
    if (!r->pace && !act.delay_ms)
        tx_step(r);
    else if (r->pace && !r->device)
        tx_arm(r, ts_after(r->tx_start, r->tchar));
    else
        tx_arm(r, r->tx_start);
}

static void silence_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct mb_rtu *r = w->data;
    (void)revents;
    ev_timer_stop(loop, w);
    frame_end(r);
}

static void line_speed(struct mb_rtu *r);

/* Take the bytes waiting on our side into the frame. false when the port
 * has failed (logged, stopped). */
static bool rx_take(struct mb_rtu *r)
{
    uint8_t buf[512];

    ssize_t n = read(r->master, buf, sizeof(buf));
    if (n < 0) {
        if (errno == EAGAIN || errno == EINTR)
            return true;
        mb_log(&r->ops, MB_LOG_ERR, "modbus rtu %s: read: %s; port stopped",
               r->pty, strerror(errno));
        ev_io_stop(r->loop, &r->rx);
        return false;
    }
    if (n == 0)
        return true;
    if (r->flen == 0 && !r->overflow) {
        /* A new frame while a reply is due: on a half-duplex line the
         * master talking over the meter garbles the reply, and a master
         * that sends again has given up on it. Unread old replies go too,
         * so a client that reconnects never reads a stale one. */
        abandon_reply(r);
        r->orphan = false;
        if (!r->device)
            tcflush(r->slave, TCIFLUSH);
        line_speed(r);
    }
    size_t room = sizeof(r->frame) - r->flen;
    if ((size_t)n > room) {
        r->overflow = true;
        n = (ssize_t)room;
    }
    memcpy(r->frame + r->flen, buf, (size_t)n);
    r->flen += (size_t)n;
    clock_gettime(CLOCK_MONOTONIC, &r->last_rx_mono);
    r->silence.repeat = r->gap;
    ev_timer_again(r->loop, &r->silence);
    return true;
}

static void rx_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    rx_take(w->data);
}

/* The last client closed the pty's slave: whatever is on its way to a
 * client is for nobody: the rest of a paced reply, a reply unread in the
 * tty's buffer, and the reply to a request it sent just before closing
 * (the request is still carried out, as on a real line, but its reply is
 * dropped rather than left for the next client). The next client to open
 * the port starts on a clean line. reopened: a new client has opened the
 * port since, and a frame in progress may be its own. */
static void last_client_gone(struct mb_rtu *r, bool reopened)
{
    int unread = 0;
    bool lost = r->pending;

    abandon_reply(r);
    if (rx_take(r) && (r->flen > 0 || r->overflow) && !reopened)
        r->orphan = true;       /* its reply will be dropped */
    if (ioctl(r->slave, FIONREAD, &unread) == 0 && unread > 0) {
        tcflush(r->slave, TCIFLUSH);
        if (!lost)
            r->stats.dropped++;
        mb_log(&r->ops, MB_LOG_DEBUG, "modbus rtu %s: the last client "
               "closed; discarded %d reply bytes it did not read", r->pty,
               unread);
    }
}

/* The pty's slave was opened or closed: the kernel's inotify events, in
 * order, count the clients that have it open (our own fd was open before
 * the watch began and is never closed). */
static void notify_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct mb_rtu *r = w->data;
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    bool gone = false, reopened = false;
    ssize_t n;
    (void)loop;
    (void)revents;

    while ((n = read(r->notify_fd, buf, sizeof buf)) > 0) {
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *ev = (const void *)p;
            if (ev->mask & IN_OPEN) {
                r->clients++;
                reopened = gone;
            }
            if ((ev->mask & (IN_CLOSE_WRITE | IN_CLOSE_NOWRITE)) &&
                r->clients > 0 && --r->clients == 0) {
                gone = true;
                reopened = false;
            }
            p += sizeof *ev + ev->len;
        }
    }
    if (gone)
        last_client_gone(r, reopened);
}

/* Character time and frame gap at baud. */
static void line_timing(struct mb_rtu *r, int baud)
{
    r->tchar = (double)MB_RTU_BITS_PER_CHAR / baud;
    r->gap = baud > 19200 ? RTU_GAP_MIN : 3.5 * r->tchar;
}

static void set_timing(struct mb_rtu *r, int baud, char parity)
{
    r->baud = r->line_baud = baud;
    r->parity = parity;
    line_timing(r, baud);
}

/* A frame begins: the line's speed is the client's, as its termios say
 * (a pty's termios are shared by both sides; a pty cannot keep parity,
 * so only the speed is known). Without a line check, and on a device,
 * it is the port's own. */
static void line_speed(struct mb_rtu *r)
{
    struct termios t;

    r->line_baud = r->baud;
    if (!r->hears || r->device || tcgetattr(r->slave, &t) < 0)
        return;
    speed_t sp = cfgetispeed(&t);
    if (sp == B0)
        sp = cfgetospeed(&t);
    r->line_baud = 0;           /* a speed no meter has */
    for (size_t k = 0; k < NRATES; k++)
        if (rates[k].speed == sp)
            r->line_baud = rates[k].baud;
    line_timing(r, r->line_baud ? r->line_baud : r->baud);
}

static int setup_tty(int fd, int baud, char parity);

int mb_rtu_set_line(struct mb_rtu *r, int baud, char parity)
{
    if (!line_ok(baud, parity))
        return -EINVAL;
    if (baud != r->baud || parity != r->parity)
        mb_log(&r->ops, MB_LOG_INFO, "modbus rtu %s: line now %d 8%c%d",
               r->pty, baud, parity, parity == 'N' ? 2 : 1);
    set_timing(r, baud, parity);
    /* a device's own settings are the line's; a pty's belong to its
     * client */
    if (r->device && setup_tty(r->master, baud, parity) < 0)
        mb_log(&r->ops, MB_LOG_ERR, "modbus rtu %s: cannot set %d 8%c%d: "
               "%s", r->pty, baud, parity, parity == 'N' ? 2 : 1,
               strerror(errno));
    return 0;
}

void mb_rtu_set_pacing(struct mb_rtu *r, bool on)
{
    r->pace = on;
}

const char *mb_rtu_pty(const struct mb_rtu *r)
{
    return r->pty;
}

const char *mb_rtu_link(const struct mb_rtu *r)
{
    return r->link;
}

const struct mb_stats *mb_rtu_stats(const struct mb_rtu *r)
{
    return &r->stats;
}

/* Raw 8-bit mode, and the configured speed and framing for whoever looks
 * (stty); a pty ignores them. Set once: termios belongs to the tty, and a
 * client's own settings (VMIN, VTIME) must not be overwritten later. */
static int setup_tty(int fd, int baud, char parity)
{
    struct termios t;

    if (tcgetattr(fd, &t) < 0)
        return -1;
    cfmakeraw(&t);
    t.c_cflag |= CLOCAL | CREAD;
    t.c_cflag &= ~(tcflag_t)(PARENB | PARODD | CSTOPB);
    if (parity == 'E')
        t.c_cflag |= PARENB;
    else if (parity == 'O')
        t.c_cflag |= PARENB | PARODD;
    else
        t.c_cflag |= CSTOPB;
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    cfsetispeed(&t, find_rate(baud)->speed);
    cfsetospeed(&t, find_rate(baud)->speed);
    return tcsetattr(fd, TCSANOW, &t);
}

/* Whether path names an existing serial device that mb_rtu_open serves
 * as it is (a character device, or a symlink to a live one: an adapter,
 * a socat pty's link), rather than a link it creates to its own pty (a
 * missing path, or a link to a pty that is gone). */
static bool path_is_device(const char *path)
{
    struct stat st;

    /* a link to a live terminal is someone's (an adapter's udev name, a
     * socat pty pair's link=): served, never replaced; a link to a pty
     * that is gone is an old simulator's, replaced */
    return stat(path, &st) == 0 && S_ISCHR(st.st_mode);
}

/* What is at path: nothing or a symlink that may be replaced (0: it
 * dangles or points at a pty, a simulator's left over by a crash or
 * another one's), a character device to serve as it is (1: a serial
 * adapter such as /dev/ttyUSB0, maybe through a /dev/serial/by-id link,
 * or one end of a socat pty pair named by its /dev/pts path), or
 * something to leave alone (-EEXIST, logged). */
static int check_link(struct mb_rtu *r, const char *path)
{
    struct stat st;
    char target[PATH_MAX];

    if (path_is_device(path))
        return 1;
    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : -errno;
    if (!S_ISLNK(st.st_mode)) {
        mb_log(&r->ops, MB_LOG_ERR, "modbus rtu: %s exists and is not a "
               "symlink; refusing to replace it (choose another --rtu path)",
               path);
        return -EEXIST;
    }
    ssize_t n = readlink(path, target, sizeof(target) - 1);
    if (n < 0)
        return -errno;
    target[n] = '\0';
    if (stat(path, &st) == 0) {
        mb_log(&r->ops, MB_LOG_ERR, "modbus rtu: %s is a symlink to %s, "
               "which is not a pseudo-terminal or a serial device; refusing to "
               "replace it",
               path, target);
        return -EEXIST;
    }
    mb_log(&r->ops, MB_LOG_INFO, "modbus rtu: replacing the old symlink "
           "%s -> %s", path, target);
    return 0;
}

/* Create path -> r->pty atomically (symlink beside it, then rename);
 * check_link said it may. */
static int make_link(struct mb_rtu *r, const char *path)
{
    char tmp[PATH_MAX];
    int err;

    if (snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid()) >=
        (int)sizeof(tmp))
        return -ENAMETOOLONG;
    unlink(tmp);
    if (symlink(r->pty, tmp) < 0 || rename(tmp, path) < 0) {
        err = -errno;
        unlink(tmp);
        mb_log(&r->ops, MB_LOG_ERR, "modbus rtu: cannot create the symlink "
               "%s -> %s: %s", path, r->pty, strerror(-err));
        return err;
    }
    r->link = strdup(path);
    return r->link ? 0 : -ENOMEM;
}

static void remove_link(struct mb_rtu *r)
{
    char target[PATH_MAX];

    if (!r->link)
        return;
    ssize_t n = readlink(r->link, target, sizeof(target) - 1);
    if (n >= 0) {
        target[n] = '\0';
        if (!strcmp(target, r->pty))
            unlink(r->link);
    }
    free(r->link);
    r->link = NULL;
}

/* The pty: the master side non-blocking, the slave side held open and
 * raw. 0 or -errno, logged. */
static int open_pty(struct mb_rtu *r, const struct mb_rtu_config *cfg)
{
    r->master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (r->master < 0 || grantpt(r->master) < 0 || unlockpt(r->master) < 0 ||
        ptsname_r(r->master, r->pty, sizeof(r->pty)) != 0) {
        int e = errno;
        mb_log(&r->ops, MB_LOG_ERR, "modbus rtu: cannot create a "
               "pseudo-terminal: %s", strerror(e));
        return e ? -e : -EIO;
    }
    r->slave = open(r->pty, O_RDWR | O_NOCTTY | O_CLOEXEC);
    /* locked as a device is (open_device): a second process given this
     * pty's /dev/pts path is refused rather than answering twice */
    if (r->slave >= 0)
        flock(r->slave, LOCK_EX | LOCK_NB);
    if (r->slave < 0 || setup_tty(r->slave, cfg->baud, cfg->parity) < 0 ||
        fcntl(r->master, F_SETFL, fcntl(r->master, F_GETFL) | O_NONBLOCK) <
        0) {
        int e = errno;
        mb_log(&r->ops, MB_LOG_ERR, "modbus rtu: %s: %s", r->pty,
               strerror(e));
        return e ? -e : -EIO;
    }
    return 0;
}

/* Watch the pty's slave for closes (notify_cb). Without inotify the
 * port still works; a reply cut short by a client's close may then reach
 * the next client. */
static void watch_closes(struct mb_rtu *r)
{
    r->notify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (r->notify_fd >= 0 &&
        inotify_add_watch(r->notify_fd, r->pty, IN_OPEN | IN_CLOSE_WRITE |
                          IN_CLOSE_NOWRITE) >= 0)
        return;
    mb_log(&r->ops, MB_LOG_WARN, "modbus rtu %s: cannot watch the pty for "
           "closing clients (inotify: %s); a reply cut short by a client "
           "closing may reach the next one", r->pty, strerror(errno));
    if (r->notify_fd >= 0)
        close(r->notify_fd);
    r->notify_fd = -1;
}

/* An existing serial device: opened at the meter's own line settings,
 * RS-485 mode where the driver has it. 0 or -errno, logged. */
static int open_device(struct mb_rtu *r, const struct mb_rtu_config *cfg)
{
    struct serial_rs485 rs = { .flags = SER_RS485_ENABLED |
                                        SER_RS485_RTS_ON_SEND };

    r->device = true;
    if (!realpath(cfg->link, r->pty))
        snprintf(r->pty, sizeof(r->pty), "%s", cfg->link);
    r->master = open(cfg->link, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (r->master < 0 || !isatty(r->master)) {
        int e = r->master < 0 ? errno : ENOTTY;
        mb_log(&r->ops, MB_LOG_ERR, "modbus rtu: cannot serve %s: %s",
               cfg->link, e == ENOTTY ? "not a serial device (a tty)" :
               strerror(e));
        return -e;
    }
    /* one server per line: a second process on the same device would
     * answer every request twice */
    if (flock(r->master, LOCK_EX | LOCK_NB) < 0) {
        int e = errno;
        mb_log(&r->ops, MB_LOG_ERR, "modbus rtu: cannot serve %s: %s",
               cfg->link, e == EWOULDBLOCK ? "another process serves it "
               "(the device is locked)" : strerror(e));
        return -e;
    }
    if (setup_tty(r->master, cfg->baud, cfg->parity) < 0) {
        int e = errno;
        mb_log(&r->ops, MB_LOG_ERR, "modbus rtu: %s: cannot set %d 8%c%d: "
               "%s", cfg->link, cfg->baud, cfg->parity,
               cfg->parity == 'N' ? 2 : 1, strerror(e));
        return -e;
    }
    if (ioctl(r->master, TIOCSRS485, &rs) == 0)
        mb_log(&r->ops, MB_LOG_INFO, "modbus rtu %s: RS-485 mode on",
               r->pty);
    else
        mb_log(&r->ops, MB_LOG_DEBUG, "modbus rtu %s: no RS-485 mode in the "
               "driver (%s): the adapter switches direction itself",
               r->pty, strerror(errno));
    tcflush(r->master, TCIOFLUSH);
    return 0;
}

static void start_watchers(struct mb_rtu *r)
{
    if (r->notify_fd >= 0) {
        ev_io_init(&r->notify, notify_cb, r->notify_fd, EV_READ);
        r->notify.data = r;
        ev_io_start(r->loop, &r->notify);
    }
    ev_io_init(&r->rx, rx_cb, r->master, EV_READ);
    r->rx.data = r;
    ev_init(&r->silence, silence_cb);
    r->silence.data = r;
    ev_io_init(&r->tx, tx_cb, r->tx_fd, EV_READ);
    r->tx.data = r;
    ev_io_start(r->loop, &r->tx);
    ev_io_start(r->loop, &r->rx);
}

/* Close what mb_rtu_open opened so far (-1: not yet) and free r. */
static void release(struct mb_rtu *r)
{
    if (r->tx_fd >= 0)
        close(r->tx_fd);
    if (r->notify_fd >= 0)
        close(r->notify_fd);
    if (r->slave >= 0)
        close(r->slave);
    if (r->master >= 0)
        close(r->master);
    mb_engine_fini(&r->eng);
    free(r);
}

int mb_rtu_open(struct mb_rtu **out, struct ev_loop *loop,
                const struct mb_rtu_config *cfg, const struct mb_bus_ops *ops,
                struct mb_faults *faults)
{
    struct mb_rtu *r;
    char err[256];
    int e;

    *out = NULL;
    if (!line_ok(cfg->baud, cfg->parity)) {
        char list[128];
        format_rates(list, sizeof(list));
        mb_log(ops, MB_LOG_ERR, "modbus rtu: bad line settings %d %c "
               "(baud %s; parity E, O or N)", cfg->baud, cfg->parity, list);
        return -EINVAL;
    }
    r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    r->loop = loop;
    r->ops = *ops;
    r->faults = faults;
    r->master = r->slave = r->notify_fd = -1;
    r->eng.cap_tx = r->eng.cap_rx = -1;     /* nothing to release yet */
    r->pace = cfg->pace;
    r->hears = cfg->hears;
    r->hears_ctx = cfg->hears_ctx;
    set_timing(r, cfg->baud, cfg->parity);
    r->tx_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (r->tx_fd < 0) {
        e = -errno;
        mb_log(ops, MB_LOG_ERR, "modbus rtu: timerfd: %s", strerror(-e));
        release(r);
        return e;
    }
    e = mb_engine_init(&r->eng, true, err, sizeof(err));
    if (e)
        mb_log(ops, MB_LOG_ERR, "modbus rtu: %s", err);
    else if (cfg->link && (e = check_link(r, cfg->link)) == 1)
        e = open_device(r, cfg);
    else if (e < 0 && e != -EEXIST)
        mb_log(ops, MB_LOG_ERR, "modbus rtu: %s: %s", cfg->link,
               strerror(-e));
    else if (e == 0)
        e = open_pty(r, cfg);
    if (!e && !r->device)
        watch_closes(r);        /* before any client can find the link */
    if (!e && cfg->link && !r->device)
        e = make_link(r, cfg->link);
    if (e) {
        release(r);
        return e;
    }
    start_watchers(r);
    *out = r;
    return 0;
}

void mb_rtu_close(struct mb_rtu *r)
{
    if (!r)
        return;
    ev_io_stop(r->loop, &r->rx);
    ev_timer_stop(r->loop, &r->silence);
    ev_io_stop(r->loop, &r->tx);
    if (r->notify_fd >= 0)
        ev_io_stop(r->loop, &r->notify);
    remove_link(r);
    release(r);
}
