/*
 * Modbus RTU on a pseudo-terminal: the pty and its symlink, framing by
 * silence, and replies paced like the real line.
 */
#define _GNU_SOURCE    /* posix_openpt, ptsname_r */
#include "modbus_rtu.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* A reply still unread this long after it left has nobody waiting for it
 * (the client gave up or went away): it is discarded, so that the next
 * client to open the port never reads it as the answer to its request. */
#define RTU_STALE 1.0

struct mb_rtu {
    struct ev_loop *loop;
    struct mb_bus_ops ops;
    struct mb_faults *faults;   /* shared, may be NULL */
    struct mb_engine eng;
    int master;                 /* our side of the pty */
    int slave;                  /* held open: the master reads EIO without it */
    char pty[PATH_MAX];         /* the slave device */
    char *link;                 /* our symlink, or NULL */
    int baud;
    char parity;
    bool pace;
    double tchar;               /* seconds per character on the line */
    double gap;                 /* silence that ends a frame */
    ev_io rx;                   /* bytes from the client */
    ev_timer silence;           /* fires when the frame has ended */
    /* When the pending reply is due: a timerfd armed at an absolute
     * monotonic time, because libev's timers wake up to 1 ms late (epoll's
     * millisecond timeouts) and a paced reply must be within 1 ms. */
    int tx_fd;
    ev_io tx;
    ev_timer stale;             /* checks that the last reply was read */
    uint8_t frame[RTU_FRAME_MAX];
    size_t flen;
    struct timespec last_rx_mono; /* when the frame's last bytes came */
    bool overflow;              /* the frame grew past RTU_FRAME_MAX */
    uint8_t req[RTU_FRAME_MAX]; /* the request the pending reply answers */
    size_t reqlen;
    uint8_t rsp[MB_ADU_MAX];    /* the pending reply */
    size_t rsplen;
    bool pending;
    bool warned_full;           /* logged once: the client is not reading */
    struct mb_stats stats;
};

void mb_rtu_config_default(struct mb_rtu_config *cfg)
{
    cfg->link = NULL;
    cfg->baud = 9600;
    cfg->parity = 'E';
    cfg->pace = true;
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

static void send_reply(struct mb_rtu *r)
{
    ssize_t n = write(r->master, r->rsp, r->rsplen);

    r->pending = false;
    if (n != (ssize_t)r->rsplen) {
        r->stats.dropped++;
        if (!r->warned_full) {
            mb_log(&r->ops, MB_LOG_WARN, "modbus rtu %s: reply lost (%s): "
                   "the client is not reading its replies", r->pty,
                   n < 0 ? strerror(errno) : "short write");
            r->warned_full = true;
        }
        traffic(r, r->req, r->reqlen, NULL, 0);
        return;
    }
    r->stats.replies++;
    if (r->rsplen > 1 && (r->rsp[1] & 0x80))
        r->stats.exceptions++;
    traffic(r, r->req, r->reqlen, r->rsp, r->rsplen);
    ev_timer_set(&r->stale, RTU_STALE, 0.);
    ev_timer_start(r->loop, &r->stale);
}

static void stale_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct mb_rtu *r = w->data;
    int unread = 0;
    (void)loop;
    (void)revents;

    if (ioctl(r->slave, FIONREAD, &unread) == 0 && unread > 0) {
        tcflush(r->slave, TCIFLUSH);
        r->stats.dropped++;
        mb_log(&r->ops, MB_LOG_DEBUG, "modbus rtu %s: discarded a %d-byte "
               "reply nobody read", r->pty, unread);
    }
}

static void tx_disarm(struct mb_rtu *r)
{
    struct itimerspec off = { 0 };
    timerfd_settime(r->tx_fd, 0, &off, NULL);
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
        send_reply(r);
}

/* Arm the reply for `after` seconds past the request's last byte. */
static void tx_arm(struct mb_rtu *r, double after)
{
    struct itimerspec at = { 0 };
    long long ns = r->last_rx_mono.tv_nsec + (long long)(after * 1e9);

    at.it_value.tv_sec = r->last_rx_mono.tv_sec + (time_t)(ns / 1000000000);
    at.it_value.tv_nsec = (long)(ns % 1000000000);
    timerfd_settime(r->tx_fd, TFD_TIMER_ABSTIME, &at, NULL);
}

/* A broadcast write reaches every meter on the bus; nobody answers. */
static void broadcast(struct mb_rtu *r, const struct mb_request *rq)
{
    if (rq->invalid || (rq->fc != MB_FC_WRITE_SINGLE &&
                        rq->fc != MB_FC_WRITE_MULTIPLE))
        return;
    for (int s = MB_SLAVE_MIN; s <= MB_SLAVE_MAX; s++)
        if (r->ops.present(r->ops.ctx, s))
            (void)mb_engine_execute(&r->eng, &r->ops, s, rq);
    r->stats.broadcasts++;
}

static void frame_end(struct mb_rtu *r)
{
    const uint8_t *f = r->frame;
    size_t len = r->flen;
    struct mb_request rq;
    struct mb_fault_action act;

    r->flen = 0;
    if (r->overflow || len < 4) {
        r->overflow = false;
        r->stats.bad_frames++;
        mb_log(&r->ops, MB_LOG_DEBUG, "modbus rtu: %zu-byte frame ignored",
               len);
        traffic(r, f, len, NULL, 0);
        return;
    }
    if (mb_crc16(f, len - 2) != (f[len - 2] | f[len - 1] << 8)) {
        r->stats.bad_frames++;
        mb_log(&r->ops, MB_LOG_DEBUG, "modbus rtu: bad CRC, frame ignored");
        traffic(r, f, len, NULL, 0);
        return;
    }
    int slave = f[0];
    mb_request_parse(f + 1, len - 3, &rq);
    if (slave == MB_BROADCAST) {
        broadcast(r, &rq);
        traffic(r, f, len, NULL, 0);
        return;
    }
    if (slave > MB_SLAVE_MAX || !r->ops.present(r->ops.ctx, slave)) {
        r->stats.ignored++;
        traffic(r, f, len, NULL, 0);
        return;
    }
    int ex = mb_engine_serve(&r->eng, &r->ops, r->faults, MB_FAULT_RTU,
                             &r->stats, slave, &rq, &act);
    if (ex < 0) {
        traffic(r, f, len, NULL, 0);
        return;
    }
    int n = mb_engine_reply(&r->eng, f, len, ex, r->rsp, sizeof(r->rsp));
    if (n <= 0) {
        mb_log(&r->ops, MB_LOG_ERR, "modbus rtu: libmodbus built no reply "
               "(%s)", modbus_strerror(errno));
        return;
    }
    if (act.badcrc)
        r->rsp[n - 1] ^= 0x5A;
    memcpy(r->req, f, len);
    r->reqlen = len;
    r->rsplen = (size_t)n;
    r->pending = true;

    /* Due when a real line would have carried the reply's last byte:
     * counted from the request's last byte, so the silence timer's own
     * lateness is not added to the reply's. */
    double after = r->gap + act.delay_ms / 1000.0;
    if (r->pace)
        after += n * r->tchar;
    if (!r->pace && !act.delay_ms)
        send_reply(r);
    else
        tx_arm(r, after);   /* a time already past fires at once */
}

static void silence_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct mb_rtu *r = w->data;
    (void)revents;
    ev_timer_stop(loop, w);
    frame_end(r);
}

static void rx_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct mb_rtu *r = w->data;
    uint8_t buf[512];
    (void)revents;

    ssize_t n = read(r->master, buf, sizeof(buf));
    if (n < 0) {
        if (errno == EAGAIN || errno == EINTR)
            return;
        mb_log(&r->ops, MB_LOG_ERR, "modbus rtu %s: read: %s; port stopped",
               r->pty, strerror(errno));
        ev_io_stop(loop, w);
        return;
    }
    if (n == 0)
        return;
    if (r->flen == 0 && !r->overflow) {
        /* A new frame while a reply is due: on a half-duplex line the
         * master talking over the meter garbles the reply, and a master
         * that sends again has given up on it. Unread old replies go too,
         * so a client that reconnects never reads a stale one. */
        if (r->pending) {
            tx_disarm(r);
            r->pending = false;
            r->stats.dropped++;
            traffic(r, r->req, r->reqlen, NULL, 0);
        }
        ev_timer_stop(loop, &r->stale);
        tcflush(r->slave, TCIFLUSH);
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
    ev_timer_again(loop, &r->silence);
}

static void set_timing(struct mb_rtu *r, int baud, char parity)
{
    r->baud = baud;
    r->parity = parity;
    r->tchar = (double)MB_RTU_BITS_PER_CHAR / baud;
    r->gap = baud > 19200 ? RTU_GAP_MIN : 3.5 * r->tchar;
}

int mb_rtu_set_line(struct mb_rtu *r, int baud, char parity)
{
    if (!line_ok(baud, parity))
        return -EINVAL;
    if (baud != r->baud || parity != r->parity)
        mb_log(&r->ops, MB_LOG_INFO, "modbus rtu %s: line now %d 8%c%d",
               r->pty, baud, parity, parity == 'N' ? 2 : 1);
    set_timing(r, baud, parity);
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

/* May a symlink at path be replaced? Yes when it dangles or points at a
 * pty (a simulator's left over by a crash, or another one's). */
static int check_link(struct mb_rtu *r, const char *path)
{
    struct stat st;
    char target[PATH_MAX];

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
    if (stat(path, &st) == 0 && strncmp(target, "/dev/pts/", 9) != 0) {
        mb_log(&r->ops, MB_LOG_ERR, "modbus rtu: %s is a symlink to %s, "
               "which is not a pseudo-terminal; refusing to replace it",
               path, target);
        return -EEXIST;
    }
    mb_log(&r->ops, MB_LOG_INFO, "modbus rtu: replacing the old symlink "
           "%s -> %s", path, target);
    return 0;
}

/* Create path -> r->pty atomically (symlink beside it, then rename). */
static int make_link(struct mb_rtu *r, const char *path)
{
    char tmp[PATH_MAX];
    int err = check_link(r, path);

    if (err) {
        if (err != -EEXIST)
            mb_log(&r->ops, MB_LOG_ERR, "modbus rtu: %s: %s", path,
                   strerror(-err));
        return err;
    }
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

static void start_watchers(struct mb_rtu *r)
{
    ev_io_init(&r->rx, rx_cb, r->master, EV_READ);
    r->rx.data = r;
    ev_init(&r->silence, silence_cb);
    r->silence.data = r;
    ev_io_init(&r->tx, tx_cb, r->tx_fd, EV_READ);
    r->tx.data = r;
    ev_io_start(r->loop, &r->tx);
    ev_init(&r->stale, stale_cb);
    r->stale.data = r;
    ev_io_start(r->loop, &r->rx);
}

/* Close what mb_rtu_open opened so far (-1: not yet) and free r. */
static void release(struct mb_rtu *r)
{
    if (r->tx_fd >= 0)
        close(r->tx_fd);
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
    r->master = r->slave = -1;
    r->eng.cap_tx = r->eng.cap_rx = -1;     /* nothing to release yet */
    r->pace = cfg->pace;
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
    else
        e = open_pty(r, cfg);
    if (!e && cfg->link)
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
    ev_timer_stop(r->loop, &r->stale);
    remove_link(r);
    release(r);
}
