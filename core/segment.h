/*
 * The LCD's character generator: 7-segment patterns for digits and the
 * letters a 7-segment glass can show, and writing text and fixed-point
 * numbers into a row of digit positions.
 *
 *        a
 *      f   b       one position: segments a..g and the point (dp)
 *        g         after it, one bit each (SEG_A = bit 0 .. SEG_G =
 *      e   c       bit 6, SEG_DP = bit 7)
 *        d   dp
 */
#ifndef CORE_SEGMENT_H
#define CORE_SEGMENT_H

#include "port.h"

#define SEG_A  0x01u        /* top */
#define SEG_B  0x02u        /* upper right */
#define SEG_C  0x04u        /* lower right */
#define SEG_D  0x08u        /* bottom */
#define SEG_E  0x10u        /* lower left */
#define SEG_F  0x20u        /* upper left */
#define SEG_G  0x40u        /* middle */
#define SEG_DP 0x80u        /* the point after the position */

/* The pattern of a character (without the point). Digits, space, '-',
 * '_', '=' and the letters of the font (either case where the glass can
 * tell them apart: A b C c d E F g H h I i J L M n o P q r S t U u v y);
 * anything else is blank. */
uint8_t seg_char(char c);

/* Write text into row[first..]: one position per character; a '.' sets
 * the point of the position before it. Stops at the end of the row
 * (n positions). Returns the positions written. */
unsigned seg_text(uint8_t *row, unsigned n, unsigned first, const char *s);

/*
 * Write |value| / 10^decimals right-aligned so that its last digit is at
 * row[last], with the point after the units digit when decimals > 0 and at
 * least one digit before the point ("0.950"). Positions to the left are
 * left as they are. Returns the first position used, or CORE_ERANGE (and
 * writes nothing) when the number needs more than last + 1 positions.
 */
int seg_number(uint8_t *row, unsigned last, uint64_t value,
               unsigned decimals);

/* Digits 0..9 with zeros kept: n digits of value, the last at row[last]. */
void seg_digits(uint8_t *row, unsigned last, uint32_t value, unsigned n);

/* The inverse of seg_text, for hosts and tests that show a glass as text:
 * each position as the first character of the font with its pattern
 * (digits before letters, so 5 not S; '?' when none), and a '.' after a
 * position whose point is lit. Writes at most len - 1 characters and a
 * NUL; returns the characters written. */
unsigned seg_row_text(const uint8_t *row, unsigned n, char *out,
                      unsigned len);

#endif
