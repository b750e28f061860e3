/*
 * libFuzzer target: the state file's load path (sim/store/statefile.c,
 * through core/meter_nv.c) as the binary runs it at start: each input is
 * a whole state file, whose last 4 bytes the harness replaces with the
 * right CRC-32 so that mutations reach the sections and the meter images
 * (a wrong CRC is one compare, tested by tests/integration). A refused
 * file must be refused with a message, never crash.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/meter_host.h"
#include "sim/base/le.h"
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
    uint8_t *file = malloc(size + 1);
    if (!file)
        abort();
    memcpy(file, data, size);
    if (size >= 4)
        le_put32(file + size - 4, crc32_update(0, file, size - 4));
    bool ok = ftruncate(fd, 0) == 0 &&
              pwrite(fd, file, size, 0) == (ssize_t)size;
    free(file);
    if (!ok) {
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
