/*
 * Where the running process can be reached: every listener (Modbus TCP,
 * RTU over TCP, the RTU pty or serial device, and any other one a part of
 * the process opens, such as a control API) in one list. At start, once
 * everything listens, the list is announced in the log (one line each,
 * the real address: port 0 resolved, the pty's /dev/pts/N) and written to
 * --ready-file as JSON with the pid and the meters, so that a caller
 * waits for the file instead of sleeping (docs/usage.md).
 *
 * A part that opens a listener adds it with one call, after it listens
 * and before endpoints_announce():
 *     endpoints_add_tcp(&eps, "http", "HTTP control API", "http", host, port);
 */
#ifndef SIM_ENDPOINTS_H
#define SIM_ENDPOINTS_H

#include <stddef.h>

#include "sim/engine/engine.h"

#define ENDPOINTS_MAX 16

struct endpoint {
    char kind[24];          /* "modbus-tcp", "modbus-rtu-tcp", "modbus-rtu",
                               "http", ...: what speaks there */
    char label[40];         /* for the log: "Modbus TCP" */
    char scheme[16];        /* a URL's scheme ("http"), "" for none */
    char host[64];          /* TCP: the address bound ("" for a path) */
    int port;               /* TCP: the port bound (0 asked: resolved) */
    char path[512];         /* a path: the name given (the pty's link),
                               made absolute */
    char device[256];       /* a path: the device behind it (/dev/pts/N, or
                               the serial device's real path) */
};

struct endpoints {
    struct endpoint list[ENDPOINTS_MAX];
    unsigned count;
};

/* A TCP listener at host:port as bound (the listening socket's own
 * address). scheme: a URL's scheme for clients that take one ("http"), or
 * NULL. 0, or -1 when the list is full. */
int endpoints_add_tcp(struct endpoints *eps, const char *kind,
                      const char *label, const char *scheme,
                      const char *host, int port);

/* A file-system endpoint: path as given, device the file behind it. 0, or
 * -1 when the list is full. */
int endpoints_add_path(struct endpoints *eps, const char *kind,
                       const char *label, const char *path,
                       const char *device);

/* One log line (info) per endpoint: "Modbus TCP on 127.0.0.1:40321". */
void endpoints_announce(const struct endpoints *eps);

/* The part of the fleet e runs, as the ready file and the control API
 * show it: {"index": I, "count": N, "first": A, "end": B, "fleet": M}
 * (global meters A..B-1 of M; 0 of 1 when not sharded). A json_t *. */
struct json_t;
struct json_t *endpoints_span_json(const struct engine *e);

/* Write path atomically (a temporary file renamed over it): the pid, the
 * version, every endpoint, the shard and every meter's global index, serial
 * and slave address, as JSON (docs/usage.md). 0, or -1 with a message naming --ready-file. */
int endpoints_write_ready(const struct endpoints *eps,
                          const struct engine *e, const char *path,
                          char *err, size_t errlen);

#endif
