/* SPDX-License-Identifier: MIT */
/* Little-endian integers of k bytes (1..8), as every roost format stores them. */
#ifndef ROOST_LE_H
#define ROOST_LE_H

#include <stdint.h>

static inline uint64_t le_get(const uint8_t *p, int k)
{
	uint64_t v = 0;
	for (int i = k - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static inline void le_put(uint8_t *p, uint64_t v, int k)
{
	for (int i = 0; i < k; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

#endif
