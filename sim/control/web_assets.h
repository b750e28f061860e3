/*
 * The browser face's files (sim/control/web/), embedded in the binary at
 * build time by web_embed.py: the face works offline, every byte served
 * by the process.
 */
#ifndef SIM_CONTROL_WEB_ASSETS_H
#define SIM_CONTROL_WEB_ASSETS_H

#include <stddef.h>

struct web_asset {
    const char *name;           /* "face.js" */
    const char *type;           /* its Content-Type */
    const unsigned char *data;
    size_t len;
    const char *etag;           /* "\"hash\"", from the bytes */
};

extern const struct web_asset web_assets[];
extern const unsigned web_asset_count;

#endif
