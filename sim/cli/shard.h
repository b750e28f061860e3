/*
 * Which part of the fleet this process runs (--shard I/N, docs/fleet.md,
 * "Shards"): shard I of N runs the global meters [I*M/N, (I+1)*M/N) of a
 * fleet of M. I may be "pod": a StatefulSet pod's ordinal, from
 * $KPM31C_POD_INDEX (the apps.kubernetes.io/pod-index label through the
 * downward API) or else the host name's trailing -ORDINAL.
 */
#ifndef SIM_SHARD_H
#define SIM_SHARD_H

#include <stddef.h>

#define SHARD_MAX 100000        /* shards at most (as meters) */

/* Parse "I/N" or "pod/N" into *index and *count. 0, or -1 with why (the
 * words after "'SPEC' ") in why. */
int shard_parse(const char *spec, unsigned *index, unsigned *count,
                char *why, size_t len);

/* Shard index of count over a fleet of meters: its first global meter
 * and how many it runs. 0, or -1 with a message when it would run none. */
int shard_span(unsigned index, unsigned count, unsigned meters,
               unsigned *first, unsigned *n, char *err, size_t errlen);

#endif
