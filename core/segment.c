#include "segment.h"

#define A SEG_A
#define B SEG_B
#define C SEG_C
#define D SEG_D
#define E SEG_E
#define F SEG_F
#define G SEG_G

/* Printable ASCII from ' ' (0x20) to '~'. Letters the glass cannot draw
 * in one case use the other (k, m, w, x, z have no usable form). */
static const uint8_t font[0x7F - 0x20] = {
    ['0' - 0x20] = A | B | C | D | E | F,
    ['1' - 0x20] = B | C,
    ['2' - 0x20] = A | B | D | E | G,
    ['3' - 0x20] = A | B | C | D | G,
    ['4' - 0x20] = B | C | F | G,
    ['5' - 0x20] = A | C | D | F | G,
    ['6' - 0x20] = A | C | D | E | F | G,
    ['7' - 0x20] = A | B | C,
    ['8' - 0x20] = A | B | C | D | E | F | G,
    ['9' - 0x20] = A | B | C | D | F | G,
    ['-' - 0x20] = G,
    ['_' - 0x20] = D,
    ['=' - 0x20] = D | G,
    ['A' - 0x20] = A | B | C | E | F | G,
    ['a' - 0x20] = A | B | C | E | F | G,
    ['B' - 0x20] = C | D | E | F | G,
    ['b' - 0x20] = C | D | E | F | G,
    ['C' - 0x20] = A | D | E | F,
    ['c' - 0x20] = D | E | G,
    ['D' - 0x20] = B | C | D | E | G,
    ['d' - 0x20] = B | C | D | E | G,
    ['E' - 0x20] = A | D | E | F | G,
    ['e' - 0x20] = A | D | E | F | G,
    ['F' - 0x20] = A | E | F | G,
    ['f' - 0x20] = A | E | F | G,
    ['G' - 0x20] = A | C | D | E | F,
    ['g' - 0x20] = A | B | C | D | F | G,
    ['H' - 0x20] = B | C | E | F | G,
    ['h' - 0x20] = C | E | F | G,
    ['I' - 0x20] = E | F,
    ['i' - 0x20] = E,
    ['J' - 0x20] = B | C | D | E,
    ['j' - 0x20] = B | C | D,
    ['L' - 0x20] = D | E | F,
    ['l' - 0x20] = E | F,
    ['M' - 0x20] = A | B | C | E | F,      /* an arch: the usual M */
    ['N' - 0x20] = A | B | C | E | F,
    ['n' - 0x20] = C | E | G,
    ['O' - 0x20] = A | B | C | D | E | F,
    ['o' - 0x20] = C | D | E | G,
    ['P' - 0x20] = A | B | E | F | G,
    ['p' - 0x20] = A | B | E | F | G,
    ['Q' - 0x20] = A | B | C | F | G,
    ['q' - 0x20] = A | B | C | F | G,
    ['R' - 0x20] = E | G,
    ['r' - 0x20] = E | G,
    ['S' - 0x20] = A | C | D | F | G,
    ['s' - 0x20] = A | C | D | F | G,
    ['T' - 0x20] = D | E | F | G,
    ['t' - 0x20] = D | E | F | G,
    ['U' - 0x20] = B | C | D | E | F,
    ['u' - 0x20] = C | D | E,
    ['V' - 0x20] = B | C | D | E | F,
    ['v' - 0x20] = C | D | E,
    ['Y' - 0x20] = B | C | D | F | G,
    ['y' - 0x20] = B | C | D | F | G,
};

uint8_t seg_char(char c)
{
    unsigned u = (unsigned char)c;

    return u >= 0x20 && u < 0x7F ? font[u - 0x20] : 0;
}

unsigned seg_text(uint8_t *row, unsigned n, unsigned first, const char *s)
{
    unsigned pos = first;

    for (; *s; s++) {
        if (*s == '.' && pos > first) {
            row[pos - 1] |= SEG_DP;
            continue;
        }
        if (pos >= n)
            break;
        row[pos++] = seg_char(*s);
    }
    return pos - first;
}

unsigned seg_row_text(const uint8_t *row, unsigned n, char *out,
                      unsigned len)
{
    static const char order[] = " 0123456789-_=AbCcdEFGgHhIiJLMnoPqrStUuvy";
    unsigned w = 0;

    if (len == 0)
        return 0;
    for (unsigned k = 0; k < n && w + 1 < len; k++) {
        uint8_t pattern = row[k] & (uint8_t)~SEG_DP;
        char c = '?';
        for (const char *q = order; *q; q++)
            if (seg_char(*q) == pattern) {
                c = *q;
                break;
            }
        out[w++] = c;
        if ((row[k] & SEG_DP) && w + 1 < len)
            out[w++] = '.';
    }
    out[w] = '\0';
    return w;
}

int seg_number(uint8_t *row, unsigned last, uint64_t value,
               unsigned decimals)
{
    unsigned ndig = 1;
    uint64_t v = value;

    while (v >= 10) {
        v /= 10;
        ndig++;
    }
    if (ndig < decimals + 1)
        ndig = decimals + 1;
    if (ndig > last + 1)
        return CORE_ERANGE;
    for (unsigned k = 0; k < ndig; k++) {
        unsigned pos = last - k;
        row[pos] = seg_char((char)('0' + value % 10));
        if (decimals > 0 && k == decimals)
            row[pos] |= SEG_DP;
        value /= 10;
    }
    return (int)(last + 1 - ndig);
}

void seg_digits(uint8_t *row, unsigned last, uint32_t value, unsigned n)
{
    for (unsigned k = 0; k < n && k <= last; k++) {
        row[last - k] = seg_char((char)('0' + value % 10));
        value /= 10;
    }
}
