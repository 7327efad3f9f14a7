/* gendata: write SIZE bytes (default 16 MiB) of deterministic, text-like
 * data to stdout for bench/cpu.sh's sha256 and gzip workloads.  Words from
 * a generated 1024-word vocabulary, skewed toward frequent words, numbers
 * and punctuation, lines of 40-100 characters: gzip -6 compresses it to
 * about 37%, like prose or logs.  The same bytes on every machine
 * (the bench checks the sha256 against the native run).
 *
 *   gendata [BYTES] > file
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t s = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(void)               /* xorshift64*, high half */
{
	s ^= s >> 12;
	s ^= s << 25;
	s ^= s >> 27;
	return (uint32_t)((s * 0x2545f4914f6cdd1dull) >> 32);
}

#define NWORDS 1024

int main(int argc, char **argv)
{
	long long size = argc > 1 ? strtoll(argv[1], NULL, 10) : 16ll << 20;
	static char words[NWORDS][12];
	static char buf[1 << 16];
	size_t n = 0, line = 0;

	for (int i = 0; i < NWORDS; i++) {
		int len = 2 + (int)(rnd() % 9);
		for (int k = 0; k < len; k++)
			words[i][k] = "etaoinshrdlcumwfgypbvkjxqz"[rnd() % 26 * (rnd() % 4 + 1) / 4 % 26];
		words[i][len] = 0;
	}
	while (size > 0) {
		char tmp[32];
		const char *w;
		uint32_t r = rnd();
		if (r % 17 == 0) {
			snprintf(tmp, sizeof tmp, "%u", rnd() % 100000u);
			w = tmp;
		} else {
			uint32_t a = rnd() % NWORDS, b = rnd() % NWORDS;
			w = words[(a * b) / NWORDS];     /* skewed toward low indices */
		}
		size_t wl = strlen(w);
		if (n + wl + 2 > sizeof buf || (long long)(n + wl + 2) >= size) {
			size_t out = (long long)n < size ? n : (size_t)size;
			if (out && fwrite(buf, 1, out, stdout) != out)
				return 1;
			size -= (long long)out;
			n = 0;
			if (size <= 0)
				break;
			if ((long long)(wl + 2) >= size) {      /* the last few bytes */
				memset(buf, '.', (size_t)size);
				buf[size - 1] = '\n';
				if (fwrite(buf, 1, (size_t)size, stdout) != (size_t)size)
					return 1;
				break;
			}
		}
		memcpy(buf + n, w, wl);
		n += wl;
		line += wl + 1;
		if (line > 40 + r % 61) {
			buf[n++] = r & 0x100 ? '.' : ',';
			buf[n++] = '\n';
			line = 0;
		} else {
			buf[n++] = ' ';
		}
	}
	return fflush(stdout) ? 1 : 0;
}
