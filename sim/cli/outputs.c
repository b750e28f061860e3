#include "sim/cli/outputs.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "sim/base/safefile.h"

#define MAX_FILES 8

struct named_file {
    const char *option;     /* as the user knows it: "--dump" */
    const char *path;
    bool output;            /* written by the run */
};

/* Every file the run names; an output added to the command line is one
 * line here. Returns how many. */
static size_t files_of(const struct sim_options *o, struct named_file *v)
{
    size_t n = 0;

    if (o->state_path)
        v[n++] = (struct named_file){ "--state", o->state_path, true };
    if (o->scenario)
        v[n++] = (struct named_file){ "the scenario", o->scenario, false };
    if (o->dump_path)
        v[n++] = (struct named_file){ "--dump", o->dump_path, true };
    if (o->junit_path)
        v[n++] = (struct named_file){ "--junit", o->junit_path, true };
    if (o->pulses_path)
        v[n++] = (struct named_file){ "--pulses", o->pulses_path, true };
    if (o->ready_path)
        v[n++] = (struct named_file){ "--ready-file", o->ready_path, true };
    return n;
}

int outputs_check(const struct sim_options *o, char *err, size_t errlen)
{
    struct named_file v[MAX_FILES];
    char id[MAX_FILES][SAFEFILE_PATH];
    struct stat st[MAX_FILES];
    bool exists[MAX_FILES];
    size_t n = files_of(o, v);

    for (size_t k = 0; k < n; k++) {
        if (v[k].output &&
            safefile_check(v[k].path, v[k].option, err, errlen))
            return -1;
        bool std = strcmp(v[k].path, "-") == 0;
        if ((std && !v[k].output) ||
            safefile_identity(v[k].path, id[k], sizeof id[k]))
            id[k][0] = '\0';        /* stdin, or an input not there */
        exists[k] = !std && stat(v[k].path, &st[k]) == 0;
        for (size_t j = 0; j < k; j++) {
            bool same = id[k][0] && strcmp(id[j], id[k]) == 0;
            bool linked = exists[j] && exists[k] &&     /* hard links */
                          st[j].st_dev == st[k].st_dev &&
                          st[j].st_ino == st[k].st_ino;
            if (!(same || linked) || !(v[j].output || v[k].output))
                continue;
            snprintf(err, errlen, "%s %s is the same file as %s %s: "
                     "refusing to overwrite it", v[k].option, v[k].path,
                     v[j].option, v[j].path);
            return -1;
        }
    }
    return 0;
}
