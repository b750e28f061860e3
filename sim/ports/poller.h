/*
 * A Modbus TCP master on the loop: what a SCADA master does to the meter
 * process, from inside it. It connects to the process's own Modbus TCP
 * listener and, every `every` real seconds, reads its blocks of holding
 * registers (FC03) one after the other, checks each reply (transaction
 * id, protocol, unit, function, length, exception) and counts what came
 * back. Its frames cross the real listener, so every observer of the bus
 * (the terminal's Modbus panel, the web face's traffic view) sees them.
 *
 * Nothing blocks: the connect, the writes and the reads are non-blocking
 * watchers. A reply late past the timeout is counted and the next request
 * goes out; a closed or refused connection is counted and tried again at
 * the next round. poller_free() closes everything at once.
 */
#ifndef SIM_POLLER_H
#define SIM_POLLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ev_loop;
struct poller;

#define POLLER_BLOCKS_MAX 64    /* requests in one round */

/* One request of a round: FC03 of count registers at addr from slave. */
struct poller_block {
    uint8_t slave;              /* unit id, 1..247 */
    uint16_t addr;              /* first register */
    uint16_t count;             /* registers, 1..125 */
};

struct poller_config {
    const char *host;           /* the listener's address: numeric, as it
                                   is bound (0.0.0.0 and :: mean loopback) */
    int port;                   /* its port */
    double every;               /* real s from one round to the next */
    double timeout;             /* real s a reply may take */
    const struct poller_block *blocks;  /* copied */
    unsigned nblocks;           /* 1..POLLER_BLOCKS_MAX */
};

/* What the poller counted since it started. */
struct poller_stats {
    uint64_t rounds;            /* rounds begun */
    uint64_t sent;              /* requests written */
    uint64_t replies;           /* good replies: registers kept */
    uint64_t exceptions;        /* exception replies */
    uint64_t timeouts;          /* no reply within the timeout */
    uint64_t stale;             /* replies to a request given up on */
    uint64_t bad;               /* malformed or mismatched replies (the
                                   connection is closed) */
    uint64_t connects;          /* connections made */
    uint64_t disconnects;       /* connections lost or closed on error */
    uint64_t refused;           /* connection attempts that failed */
    bool connected;             /* connected now */
};

/* Start polling: the first round at once. NULL with a message (a bad
 * configuration; a listener that does not answer is not an error, it is
 * tried again every round). */
struct poller *poller_new(struct ev_loop *loop,
                          const struct poller_config *cfg, char *err,
                          size_t errlen);

/* Stop and free (NULL: nothing). */
void poller_free(struct poller *p);

const struct poller_stats *poller_stats(const struct poller *p);

/* Block k's registers from its latest good reply into out (its count of
 * them); false when none came yet, or the latest reply was an exception
 * (*exception then holds its code, else 0). */
bool poller_regs(const struct poller *p, unsigned k, uint16_t *out,
                 int *exception);

/* "127.0.0.1:1502" or "[::1]:1502": where it connects. */
const char *poller_address(const struct poller *p);

#endif
