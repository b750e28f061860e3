/* Internal to the core: the non-volatile image's payload (meter_nv.c),
 * decoded for meter_nv_restore (meter.c). */
#ifndef CORE_METER_NV_H
#define CORE_METER_NV_H

#include "meter.h"

/* Decode an image. commit false: check every field, touch nothing;
 * commit true (after a successful check of the same bytes): load the
 * persistent fields into *m. 0 or CORE_EBADMSG / CORE_EVERSION. */
int meter_nv_decode(struct meter *m, const uint8_t *buf, size_t len,
                    bool commit);

#endif
