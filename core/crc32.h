/* CRC-32 (IEEE 802.3, as zlib: reflected 0xEDB88320, init and final
 * xor 0xFFFFFFFF); crc32("123456789") = 0xCBF43926. */
#ifndef CORE_CRC32_H
#define CORE_CRC32_H

#include "port.h"

/* Continue a CRC over more bytes; start with crc = 0. */
uint32_t crc32_update(uint32_t crc, const uint8_t *p, size_t n);

#endif
