/* intbench: Xeno's integer CPU benchmark (bench/cpu.sh).
 *
 * One iteration does four kinds of general integer work on inputs made
 * from a seed read at run time (so nothing can be folded at compile time):
 *
 *   list    a 600-node singly linked list in a node pool: built in
 *           pseudo-random key order, merge-sorted by key, searched,
 *           every third node unlinked, reversed, sorted again by value;
 *           a CRC over the walk after each step
 *   matrix  32x32 int32 matrix product, a matrix-vector product and a
 *           transposed sum with shifts and masks; CRC over the results
 *   state   a hand-written scanner (a table-free switch state machine)
 *           that classifies 3 KiB of generated text into integers,
 *           decimals, exponent numbers, hex numbers, words and junk,
 *           counting states and transitions
 *   crc     table CRC-32 over 8 KiB and bitwise CRC-16 over 1 KiB
 *
 * Every iteration must give the same 32-bit result, and that result must
 * be EXPECTED (the value for the built-in seed, the same on every
 * architecture: only fixed-width unsigned arithmetic, no undefined
 * behaviour).  A mismatch prints FAIL and exits 1, so a mistranslated
 * instruction cannot pass as a fast run.
 *
 *   intbench [ITERATIONS]        default 2000
 *   -> intbench: iterations=N seconds=S iter_per_s=R result=XXXXXXXX OK
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EXPECTED 0xd8141f09u

static volatile uint32_t seed_source = 0x2545f491u;

/* -- helpers ------------------------------------------------------------ */
static uint32_t rng_state;

static uint32_t rnd(void)               /* xorshift32 */
{
	uint32_t x = rng_state;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return rng_state = x;
}

static uint32_t crc32_table[256];

static void crc32_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
		crc32_table[i] = c;
	}
}

static uint32_t crc32_buf(uint32_t crc, const uint8_t *p, size_t n)
{
	crc = ~crc;
	while (n--)
		crc = crc32_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

static uint32_t crc32_u32(uint32_t crc, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
	return crc32_buf(crc, b, 4);
}

static uint16_t crc16_bits(uint16_t crc, const uint8_t *p, size_t n)
{
	while (n--) {                   /* CRC-16/CCITT, one bit at a time */
		crc ^= (uint16_t)(*p++ << 8);
		for (int k = 0; k < 8; k++)
			crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
	}
	return crc;
}

/* -- list --------------------------------------------------------------- */
#define LIST_N 600

struct node {
	struct node *next;
	uint32_t key;
	uint16_t val;
	uint16_t tag;
};

static struct node pool[LIST_N];

typedef int (*cmp_fn)(const struct node *, const struct node *);

static int by_key(const struct node *a, const struct node *b)
{
	return a->key < b->key ? -1 : a->key > b->key;
}

static int by_val(const struct node *a, const struct node *b)
{
	if (a->val != b->val)
		return a->val < b->val ? -1 : 1;
	return a->tag < b->tag ? -1 : a->tag > b->tag;
}

/* Bottom-up merge sort of a linked list (stable). */
static struct node *list_sort(struct node *head, cmp_fn cmp)
{
	for (size_t width = 1;; width *= 2) {
		struct node *p = head, *tail = NULL;
		size_t merges = 0;
		head = NULL;
		while (p) {
			struct node *q = p;
			size_t psize = 0, qsize = width;
			merges++;
			while (psize < width && q) {
				psize++;
				q = q->next;
			}
			while (psize > 0 || (qsize > 0 && q)) {
				struct node *e;
				if (psize == 0) {
					e = q; q = q->next; qsize--;
				} else if (qsize == 0 || !q || cmp(p, q) <= 0) {
					e = p; p = p->next; psize--;
				} else {
					e = q; q = q->next; qsize--;
				}
				if (tail)
					tail->next = e;
				else
					head = e;
				tail = e;
			}
			p = q;
		}
		if (tail)
			tail->next = NULL;
		if (merges <= 1)
			return head;
	}
}

static uint32_t list_crc(uint32_t crc, const struct node *p)
{
	while (p) {
		crc = crc32_u32(crc, p->key ^ ((uint32_t)p->val << 16));
		p = p->next;
	}
	return crc;
}

static uint32_t work_list(uint32_t seed)
{
	struct node *head = NULL;
	uint32_t crc = 0;

	rng_state = seed | 1;
	for (int i = 0; i < LIST_N; i++) {       /* build: push front */
		pool[i].key = rnd() % 100000u;
		pool[i].val = (uint16_t)(rnd() & 0x3ff);
		pool[i].tag = (uint16_t)i;
		pool[i].next = head;
		head = &pool[i];
	}
	head = list_sort(head, by_key);
	crc = list_crc(crc, head);

	/* Search for 64 keys (half present, half probably not). */
	uint32_t found = 0, steps = 0;
	for (int i = 0; i < 64; i++) {
		uint32_t want = (i & 1) ? pool[(i * 37) % LIST_N].key : rnd() % 100000u;
		for (struct node *p = head; p; p = p->next) {
			steps++;
			if (p->key >= want) {
				found += p->key == want;
				break;
			}
		}
	}
	crc = crc32_u32(crc, found * 65536u + steps);

	/* Unlink every third node. */
	int k = 0;
	for (struct node **pp = &head; *pp;) {
		if (++k % 3 == 0)
			*pp = (*pp)->next;
		else
			pp = &(*pp)->next;
	}
	/* Reverse in place. */
	struct node *rev = NULL;
	while (head) {
		struct node *n = head->next;
		head->next = rev;
		rev = head;
		head = n;
	}
	crc = list_crc(crc, rev);
	head = list_sort(rev, by_val);
	return list_crc(crc, head);
}

/* -- matrix ------------------------------------------------------------- */
#define MAT_N 32

static int32_t ma[MAT_N][MAT_N], mb[MAT_N][MAT_N], mc[MAT_N][MAT_N];
static int32_t vec[MAT_N], vout[MAT_N];

static uint32_t work_matrix(uint32_t seed)
{
	rng_state = seed ^ 0x9e3779b9u;
	for (int i = 0; i < MAT_N; i++) {
		for (int j = 0; j < MAT_N; j++) {
			ma[i][j] = (int32_t)(rnd() % 2001u) - 1000;
			mb[i][j] = (int32_t)(rnd() % 513u) - 256;
		}
		vec[i] = (int32_t)(rnd() % 65536u) - 32768;
	}
	for (int i = 0; i < MAT_N; i++)
		for (int j = 0; j < MAT_N; j++) {
			int32_t s = 0;
			for (int k = 0; k < MAT_N; k++)
				s += ma[i][k] * mb[k][j];
			mc[i][j] = s;
		}
	for (int i = 0; i < MAT_N; i++) {
		int64_t s = 0;
		for (int j = 0; j < MAT_N; j++)
			s += (int64_t)mc[i][j] * vec[j];
		vout[i] = (int32_t)(s >> 12);
	}
	uint32_t crc = 0, acc = 0;
	for (int i = 0; i < MAT_N; i++) {
		for (int j = 0; j < MAT_N; j++) {
			uint32_t v = (uint32_t)mc[j][i] + (uint32_t)ma[i][j];
			acc += (v >> 3) & 0x0fff0fffu;
			if ((v & 7) == 3)
				acc ^= v;
		}
		crc = crc32_u32(crc, (uint32_t)vout[i]);
	}
	return crc32_u32(crc, acc);
}

/* -- state machine ------------------------------------------------------ */
#define TEXT_N 3072

static char text[TEXT_N + 1];

enum st { S_START, S_SIGN, S_INT, S_DOT, S_FRAC, S_E, S_ESIGN, S_EXP,
	  S_ZERO, S_X, S_HEX, S_WORD, S_JUNK, S_COUNT };

static void make_text(uint32_t seed)
{
	static const char *const pieces[] = {
		"42", "-17", "3.25", "+0.5e-3", "6e10", "0x1F", "0xg", "1.", ".5",
		"abc", "x9", "--3", "7e", "1e+", "9.75E2", "0", "00x1", "hello",
		"1.2.3", "5E-0", "0xdeadBEEF", "+", "e5", "12345678",
	};
	static const char seps[] = " ,;\n\t";
	size_t n = 0;
	rng_state = seed + 0x7f4a7c15u;
	while (n < TEXT_N) {
		const char *p = pieces[rnd() % (sizeof pieces / sizeof pieces[0])];
		while (*p && n < TEXT_N)
			text[n++] = *p++;
		if (n < TEXT_N)
			text[n++] = seps[rnd() % 5];
	}
	text[TEXT_N] = 0;
}

static int is_sep(char c)
{
	return c == ' ' || c == ',' || c == ';' || c == '\n' || c == '\t' || c == 0;
}

static uint32_t work_state(uint32_t seed)
{
	uint32_t final[S_COUNT] = { 0 }, trans = 0, numsum = 0;
	enum st s = S_START;
	uint32_t num = 0;

	make_text(seed);
	for (size_t i = 0; i <= TEXT_N; i++) {
		char c = text[i];
		enum st t = s;
		if (is_sep(c)) {
			if (s != S_START) {
				final[s]++;
				if (s == S_INT || s == S_HEX)
					numsum += num;
			}
			s = S_START;
			num = 0;
			continue;
		}
		switch (s) {
		case S_START:
			if (c == '+' || c == '-') t = S_SIGN;
			else if (c == '0') t = S_ZERO;
			else if (c >= '1' && c <= '9') { t = S_INT; num = (uint32_t)(c - '0'); }
			else if (c == '.') t = S_DOT;
			else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) t = S_WORD;
			else t = S_JUNK;
			break;
		case S_SIGN:
			if (c >= '0' && c <= '9') { t = S_INT; num = (uint32_t)(c - '0'); }
			else if (c == '.') t = S_DOT;
			else t = S_JUNK;
			break;
		case S_ZERO:
			if (c == 'x' || c == 'X') t = S_X;
			else if (c >= '0' && c <= '9') { t = S_INT; num = (uint32_t)(c - '0'); }
			else if (c == '.') t = S_FRAC;
			else if (c == 'e' || c == 'E') t = S_E;
			else t = S_JUNK;
			break;
		case S_INT:
			if (c >= '0' && c <= '9') num = num * 10 + (uint32_t)(c - '0');
			else if (c == '.') t = S_FRAC;
			else if (c == 'e' || c == 'E') t = S_E;
			else t = S_JUNK;
			break;
		case S_DOT:
			t = (c >= '0' && c <= '9') ? S_FRAC : S_JUNK;
			break;
		case S_FRAC:
			if (c == 'e' || c == 'E') t = S_E;
			else if (!(c >= '0' && c <= '9')) t = S_JUNK;
			break;
		case S_E:
			if (c == '+' || c == '-') t = S_ESIGN;
			else t = (c >= '0' && c <= '9') ? S_EXP : S_JUNK;
			break;
		case S_ESIGN:
		case S_EXP:
			t = (c >= '0' && c <= '9') ? S_EXP : S_JUNK;
			break;
		case S_X:
		case S_HEX: {
			uint32_t d;
			if (c >= '0' && c <= '9') d = (uint32_t)(c - '0');
			else if (c >= 'a' && c <= 'f') d = (uint32_t)(c - 'a' + 10);
			else if (c >= 'A' && c <= 'F') d = (uint32_t)(c - 'A' + 10);
			else { t = S_JUNK; break; }
			num = num * 16 + d;
			t = S_HEX;
			break;
		}
		case S_WORD:
			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
				t = S_JUNK;
			break;
		default:
			break;
		}
		trans += t != s;
		s = t;
	}
	uint32_t crc = crc32_u32(0, trans);
	crc = crc32_u32(crc, numsum);
	return crc32_buf(crc, (const uint8_t *)final, sizeof final);
}

/* -- CRC ---------------------------------------------------------------- */
#define CRC_N 8192

static uint8_t crcbuf[CRC_N];

static uint32_t work_crc(uint32_t seed)
{
	rng_state = seed ^ 0x85ebca6bu;
	for (size_t i = 0; i < CRC_N; i += 4) {  /* bytes, little endian */
		uint32_t r = rnd();
		crcbuf[i] = (uint8_t)r;
		crcbuf[i + 1] = (uint8_t)(r >> 8);
		crcbuf[i + 2] = (uint8_t)(r >> 16);
		crcbuf[i + 3] = (uint8_t)(r >> 24);
	}
	uint32_t c32 = crc32_buf(0, crcbuf, CRC_N);
	uint16_t c16 = crc16_bits(0xffff, crcbuf + (c32 & 0x7ff), 1024);
	return c32 ^ ((uint32_t)c16 << 7);
}

/* -- main --------------------------------------------------------------- */
static uint32_t iteration(uint32_t seed)
{
	uint32_t r = work_list(seed);
	r = crc32_u32(r, work_matrix(seed));
	r = crc32_u32(r, work_state(seed));
	return crc32_u32(r, work_crc(seed));
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 2000;
	if (n < 1) {
		fprintf(stderr, "usage: intbench [ITERATIONS]\n");
		return 2;
	}
	crc32_init();
	uint32_t seed = seed_source;
	double t0 = now();
	uint32_t first = iteration(seed);
	long bad = first != EXPECTED;
	for (long i = 1; i < n; i++)
		bad += iteration(seed) != first;
	double dt = now() - t0;
	printf("intbench: iterations=%ld seconds=%.3f iter_per_s=%.1f result=%08x %s\n",
	       n, dt, n / dt, first, bad ? "FAIL" : "OK");
	if (bad)
		fprintf(stderr, "intbench: FAIL: %ld iteration(s) differ (first %08x, want %08x)\n",
			bad, first, EXPECTED);
	return bad ? 1 : 0;
}
