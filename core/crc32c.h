/*
 * CRC-32C (Castagnoli), the checksum of snapshot files: the same function
 * as iSCSI's and ext4's, with the SSE 4.2 instruction where the host has it.
 */
#ifndef GM_CRC32C_H
#define GM_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* The CRC of BUF continued from CRC (0 to start): crc32c("123456789") is
 * 0xe3069283, and gm_crc32c(gm_crc32c(0, a), b) is the CRC of a then b. */
uint32_t gm_crc32c(uint32_t crc, const void *buf, size_t len);

#endif
