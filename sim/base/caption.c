#include "sim/base/caption.h"

#include <stddef.h>

#include "sim/base/log.h"

static char current[CAPTION_MAX];

static struct {
    caption_fn *fn;             /* NULL: a free slot */
    void *ctx;
} watchers[CAPTION_WATCHERS];

void caption_show(const char *text)
{
    size_t n = 0;

    for (; text[n] && n < CAPTION_MAX - 1; n++) {
        unsigned char c = (unsigned char)text[n];
        current[n] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
    }
    /* cut before a UTF-8 sequence that does not fit whole */
    if (text[n])
        while (n > 0 && ((unsigned char)text[n] & 0xc0) == 0x80)
            n--;
    current[n] = '\0';
    if (current[0])
        log_info("caption: %s", current);
    for (unsigned k = 0; k < CAPTION_WATCHERS; k++)
        if (watchers[k].fn)
            watchers[k].fn(watchers[k].ctx, current);
}

const char *caption_current(void)
{
    return current;
}

int caption_watch(caption_fn *fn, void *ctx)
{
    for (unsigned k = 0; k < CAPTION_WATCHERS; k++) {
        if (!watchers[k].fn) {
            watchers[k].fn = fn;
            watchers[k].ctx = ctx;
            return 0;
        }
    }
    return -1;
}

void caption_unwatch(caption_fn *fn, void *ctx)
{
    for (unsigned k = 0; k < CAPTION_WATCHERS; k++)
        if (watchers[k].fn == fn && watchers[k].ctx == ctx)
            watchers[k].fn = NULL;
}
