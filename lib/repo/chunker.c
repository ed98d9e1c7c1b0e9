/* SPDX-License-Identifier: MIT */
/*
 * FastCDC content-defined chunking with normalized chunking (level 2): a
 * harder cut mask before the average size, an easier one after, and no
 * hashing at all in the first `min` bytes (cut-point skipping). The gear
 * table is drawn from a keyed ChaCha20 stream so cut points are secret.
 */
#include <sodium.h>
#include <string.h>

#include "repo_int.h"

/* A mask of `bits` one bits spread over the top 48 bits of the word. */
static uint64_t spread_mask(int bits)
{
	uint64_t m = 0;
	for (int i = 0; i < bits; i++)
		m |= UINT64_C(1) << (63 - (i * 48) / bits);
	return m;
}

void chunker_init(struct chunker *ch, const uint8_t seed[32], uint32_t min, uint32_t avg,
                  uint32_t max)
{
	static const uint8_t nonce[crypto_stream_chacha20_NONCEBYTES] = {0};
	crypto_stream_chacha20((unsigned char *)ch->gear, sizeof(ch->gear), nonce, seed);
	int bits = 0;
	while ((UINT32_C(1) << (bits + 1)) <= avg)
		bits++;
	ch->mask_s = spread_mask(bits + 2);
	ch->mask_l = spread_mask(bits - 2);
	ch->min = min;
	ch->avg = avg;
	ch->max = max;
}

size_t chunker_cut(const struct chunker *ch, const uint8_t *p, size_t n)
{
	if (n <= ch->min)
		return n;
	if (n > ch->max)
		n = ch->max;
	size_t normal = n < ch->avg ? n : ch->avg;
	uint64_t fp = 0;
	size_t i = ch->min;
	/* Warm the hash over the 64 bytes before min, so cuts don't depend on
	 * where the chunk started. */
	for (size_t j = i - 64; j < i; j++)
		fp = (fp << 1) + ch->gear[p[j]];
	for (; i < normal; i++) {
		fp = (fp << 1) + ch->gear[p[i]];
		if (!(fp & ch->mask_s))
			return i + 1;
	}
	for (; i < n; i++) {
		fp = (fp << 1) + ch->gear[p[i]];
		if (!(fp & ch->mask_l))
			return i + 1;
	}
	return n;
}
