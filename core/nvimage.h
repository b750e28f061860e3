/*
 * The non-volatile image's framing and its little-endian fields.
 *
 * Layout (all integers little-endian, byte by byte, never a struct copy):
 *   0   4  magic "K31C"
 *   4   2  layout version (NV_VERSION)
 *   6   2  flags, 0
 *   8   4  total length in bytes, CRC included
 *   12  .. payload (the meter's fields, see meter_nv.c)
 *   len-4 4 CRC-32 of bytes 0 .. len-5
 * An image is accepted only whole: exact length, CRC, magic, version.
 */
#ifndef CORE_NVIMAGE_H
#define CORE_NVIMAGE_H

#include "port.h"

#define NV_MAGIC "K31C"
#define NV_VERSION 1
#define NV_HEADER 12
#define NV_TRAILER 4

/* Writes fields into a caller buffer; remembers running out of room. */
struct nv_writer {
    uint8_t *buf;
    size_t cap;             /* bytes available */
    size_t len;             /* bytes written (or that would have been) */
};

/* Reads fields from an image; remembers running past its end. */
struct nv_reader {
    const uint8_t *buf;
    size_t len;             /* payload end */
    size_t pos;             /* next byte */
    bool overrun;           /* a read went past the end */
};

/* Start an image: the header, with the length filled in by nv_finish. */
void nv_begin(struct nv_writer *w, uint8_t *buf, size_t cap);
void nv_put_u8(struct nv_writer *w, uint8_t v);
void nv_put_u16(struct nv_writer *w, uint16_t v);
void nv_put_u32(struct nv_writer *w, uint32_t v);
void nv_put_u64(struct nv_writer *w, uint64_t v);
void nv_put_i64(struct nv_writer *w, int64_t v);

/* Close the image: length and CRC. Returns its length or CORE_ENOSPC. */
int nv_finish(struct nv_writer *w);

/* Check an image's framing and CRC and set r on its payload:
 * CORE_EBADMSG for a wrong length or CRC, CORE_EVERSION for another
 * magic or version. */
int nv_open(struct nv_reader *r, const uint8_t *buf, size_t len);

uint8_t nv_get_u8(struct nv_reader *r);
uint16_t nv_get_u16(struct nv_reader *r);
uint32_t nv_get_u32(struct nv_reader *r);
uint64_t nv_get_u64(struct nv_reader *r);
int64_t nv_get_i64(struct nv_reader *r);

/* CORE_OK if every field was there and the payload was used up exactly. */
int nv_close(const struct nv_reader *r);

#endif
