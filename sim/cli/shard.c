/*
 * --shard I/N: the text, the pod's ordinal, the span of the fleet.
 */
#include "sim/cli/shard.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim/base/numparse.h"

/* The digits after the last '-' of name, or -1. */
static long trailing_ordinal(const char *name)
{
    const char *dash = strrchr(name, '-');
    long v;

    if (!dash || !dash[1] || parse_long(dash + 1, 0, SHARD_MAX - 1, &v))
        return -1;
    return v;
}

/* A StatefulSet pod's ordinal: $KPM31C_POD_INDEX, else the host name's
 * -ORDINAL. -1 with why. */
static long pod_index(char *why, size_t len)
{
    const char *env = getenv("KPM31C_POD_INDEX");
    char host[256] = "";
    long v;

    if (env && *env) {
        if (parse_long(env, 0, SHARD_MAX - 1, &v)) {
            snprintf(why, len, "takes the pod's index from "
                     "KPM31C_POD_INDEX, and '%s' is not an index 0..%d",
                     env, SHARD_MAX - 1);
            return -1;
        }
        return v;
    }
    if (gethostname(host, sizeof host - 1))
        host[0] = '\0';
    v = trailing_ordinal(host);
    if (v < 0)
        snprintf(why, len, "needs the pod's index: KPM31C_POD_INDEX is "
                 "unset and the host name '%s' does not end in -ORDINAL "
                 "(a StatefulSet pod's name, e.g. kpm31c-2)", host);
    return v;
}

int shard_parse(const char *spec, unsigned *index, unsigned *count,
                char *why, size_t len)
{
    const char *slash = strchr(spec, '/');
    char head[16];
    long i, n;

    if (!slash || (size_t)(slash - spec) >= sizeof head) {
        snprintf(why, len, "is not I/N (shard I of N, 0 <= I < N) or pod/N");
        return -1;
    }
    memcpy(head, spec, (size_t)(slash - spec));
    head[slash - spec] = '\0';
    if (parse_long(slash + 1, 1, SHARD_MAX, &n)) {
        snprintf(why, len, "is not I/N: the number of shards N is not "
                 "1..%d", SHARD_MAX);
        return -1;
    }
    if (!strcmp(head, "pod")) {
        if ((i = pod_index(why, len)) < 0)
            return -1;
    } else if (!isdigit((unsigned char)head[0]) ||
               parse_long(head, 0, SHARD_MAX - 1, &i)) {
        snprintf(why, len, "is not I/N (shard I of N, 0 <= I < N) or "
                 "pod/N: '%s' is not an index", head);
        return -1;
    }
    if (i >= n) {
        snprintf(why, len, "names shard %ld of %ld: shards are numbered "
                 "0..%ld%s", i, n, n - 1, strcmp(head, "pod") ? "" :
                 " (the pod's index is past the shards: more replicas "
                 "than N?)");
        return -1;
    }
    *index = (unsigned)i;
    *count = (unsigned)n;
    return 0;
}

int shard_span(unsigned index, unsigned count, unsigned meters,
               unsigned *first, unsigned *n, char *err, size_t errlen)
{
    unsigned long long a = (unsigned long long)index * meters / count;
    unsigned long long b = (unsigned long long)(index + 1) * meters / count;

    if (a == b) {
        snprintf(err, errlen, "--shard %u/%u of a fleet of %u meter%s runs "
                 "no meter (N shards need N meters at least)", index, count,
                 meters, meters == 1 ? "" : "s");
        return -1;
    }
    *first = (unsigned)a;
    *n = (unsigned)(b - a);
    return 0;
}
