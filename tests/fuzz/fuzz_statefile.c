/*
 * libFuzzer target: the state file's load path (sim/store/statefile.c,
 * through core/meter_nv.c) as the binary runs it at start: each input is
 * a whole state file. Most inputs fail the container's CRC; the seed
 * corpus holds real files, and the mutator's CRC-valid variants reach the
 * sections. A refused file must be refused with a message, never crash.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "sim/store/statefile.h"
#include "tests/fuzz/fuzz_fleet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[] = "/tmp/kpm31c-fuzz-state.XXXXXX";
static int fd = -1;

static void remove_file(void)
{
    unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct engine *e = &fuzz_fleet()->engine;
    struct state_info info;
    char err[512];

    if (fd < 0) {
        fd = mkstemp(path);
        if (fd < 0) {
            perror("fuzz: mkstemp");
            abort();
        }
        atexit(remove_file);
    }
    if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size) {
        perror("fuzz: the state file");
        abort();
    }
    int rc = state_load(path, e, 1767225600, &info, err, sizeof err);
    if (rc < 0 && !err[0]) {
        fprintf(stderr, "fuzz: a state file refused without a message\n");
        abort();
    }
    return 0;
}
