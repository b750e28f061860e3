/*
 * The scenario library (scenarios/ with its lib/ and data/, installed by
 * meson install): a scenario named without a directory, such as
 * "household_day" or "household_day.lua", is first NAME or NAME.lua in
 * the current directory (a local script shadows the library's), else it
 * is looked up there (docs/usage.md, "Install"):
 *   1. beside the binary as installed: BINDIR/../DATADIR/kpm31c-sim/
 *      scenarios, so an installation moved as a whole (or into a DESTDIR)
 *      finds its own library;
 *   2. the datadir compiled in: PREFIX/DATADIR/kpm31c-sim/scenarios.
 * The script then finds lib/ and data/ beside it, as always.
 */
#ifndef SIM_SCENARIO_FIND_H
#define SIM_SCENARIO_FIND_H

#include <stddef.h>

/* The file to run for name: name itself when it is a file or has a '/',
 * else the library's NAME or NAME.lua. 0 and out, or -1 with a message
 * naming the places looked in. */
int scenario_find(const char *name, char *out, size_t outlen, char *err,
                  size_t errlen);

#endif
