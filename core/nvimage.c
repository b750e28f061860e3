#include "nvimage.h"
#include "crc32.h"

static void put_le(struct nv_writer *w, uint64_t v, unsigned n)
{
    for (unsigned k = 0; k < n; k++) {
        if (w->len < w->cap)
            w->buf[w->len] = (uint8_t)(v >> (8 * k));
        w->len++;
    }
}

static void store_le(uint8_t *p, uint32_t v)
{
    for (unsigned k = 0; k < 4; k++)
        p[k] = (uint8_t)(v >> (8 * k));
}

static uint32_t load_le(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

void nv_begin(struct nv_writer *w, uint8_t *buf, size_t cap)
{
    w->buf = buf;
    w->cap = cap;
    w->len = 0;
    for (unsigned k = 0; k < 4; k++)
        put_le(w, (uint8_t)NV_MAGIC[k], 1);
    put_le(w, NV_VERSION, 2);
    put_le(w, 0, 2);
    put_le(w, 0, 4);        /* length, filled in by nv_finish */
}

void nv_put_u8(struct nv_writer *w, uint8_t v) { put_le(w, v, 1); }
void nv_put_u16(struct nv_writer *w, uint16_t v) { put_le(w, v, 2); }
void nv_put_u32(struct nv_writer *w, uint32_t v) { put_le(w, v, 4); }
void nv_put_u64(struct nv_writer *w, uint64_t v) { put_le(w, v, 8); }
void nv_put_i64(struct nv_writer *w, int64_t v) { put_le(w, (uint64_t)v, 8); }

int nv_finish(struct nv_writer *w)
{
    size_t total = w->len + NV_TRAILER;

    if (total > w->cap || total > (size_t)INT32_MAX)
        return CORE_ENOSPC;
    store_le(w->buf + 8, (uint32_t)total);
    store_le(w->buf + w->len, crc32_update(0, w->buf, w->len));
    w->len = total;
    return (int)total;
}

int nv_open(struct nv_reader *r, const uint8_t *buf, size_t len)
{
    if (len < NV_HEADER + NV_TRAILER)
        return CORE_EBADMSG;
    for (unsigned k = 0; k < 4; k++)
        if (buf[k] != (uint8_t)NV_MAGIC[k])
            return CORE_EVERSION;
    if (load_le(buf + 8) != len)
        return CORE_EBADMSG;
    if (crc32_update(0, buf, len - NV_TRAILER) !=
        load_le(buf + len - NV_TRAILER))
        return CORE_EBADMSG;
    if ((buf[4] | buf[5] << 8) != NV_VERSION || (buf[6] | buf[7]) != 0)
        return CORE_EVERSION;
    r->buf = buf;
    r->pos = NV_HEADER;
    r->len = len - NV_TRAILER;
    r->overrun = false;
    return CORE_OK;
}

static uint64_t get_le(struct nv_reader *r, unsigned n)
{
    uint64_t v = 0;

    if (r->pos + n > r->len) {
        r->overrun = true;
        r->pos = r->len;
        return 0;
    }
    for (unsigned k = 0; k < n; k++)
        v |= (uint64_t)r->buf[r->pos + k] << (8 * k);
    r->pos += n;
    return v;
}

uint8_t nv_get_u8(struct nv_reader *r) { return (uint8_t)get_le(r, 1); }
uint16_t nv_get_u16(struct nv_reader *r) { return (uint16_t)get_le(r, 2); }
uint32_t nv_get_u32(struct nv_reader *r) { return (uint32_t)get_le(r, 4); }
uint64_t nv_get_u64(struct nv_reader *r) { return get_le(r, 8); }
int64_t nv_get_i64(struct nv_reader *r) { return (int64_t)get_le(r, 8); }

int nv_close(const struct nv_reader *r)
{
    return !r->overrun && r->pos == r->len ? CORE_OK : CORE_EBADMSG;
}
