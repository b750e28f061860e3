#define _GNU_SOURCE
#include "sim/scenario/scenario_find.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sim/scenario/scenario_dirs.h"

#define LIBRARY "kpm31c-sim/scenarios"

static bool is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The library beside the running binary: strip BINDIR's components from
 * the binary's directory, add DATADIR (the sources' scenarios/ for the
 * binary in its build tree). "" when the directories are absolute or the
 * binary's path is unknown. */
static void beside_binary(char *out, size_t outlen)
{
    char exe[2048];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);

    out[0] = '\0';
    if (n <= 0)
        return;
    exe[n] = '\0';
    /* not installed: the build tree's binary runs the sources' library */
    if (!strcmp(exe, SCENARIO_BUILT_EXE)) {
        snprintf(out, outlen, "%s", SCENARIO_SOURCE_LIBRARY);
        return;
    }
    if (SCENARIO_BINDIR[0] == '/' || SCENARIO_DATADIR[0] == '/')
        return;
    /* the binary's name, then one directory per component of BINDIR */
    static const char bindir[] = SCENARIO_BINDIR;
    int up = 1;
    for (size_t k = 0; bindir[k]; k++)
        up += bindir[k] != '/' && (k == 0 || bindir[k - 1] == '/');
    while (up-- > 0) {
        char *slash = strrchr(exe, '/');
        if (!slash)
            return;
        *slash = '\0';
    }
    int len = snprintf(out, outlen, "%s/%s/" LIBRARY, exe, SCENARIO_DATADIR);
    if (len < 0 || (size_t)len >= outlen)
        out[0] = '\0';
}

/* dir/name or dir/name.lua, when one is a file. */
static bool look_in(const char *dir, const char *name, char *out,
                    size_t outlen)
{
    size_t len = strlen(name);
    bool lua = len > 4 && !strcmp(name + len - 4, ".lua");

    if (!dir[0])
        return false;
    int n = snprintf(out, outlen, "%s/%s", dir, name);
    if (n > 0 && (size_t)n < outlen && is_file(out))
        return true;
    n = snprintf(out, outlen, "%s/%s.lua", dir, name);
    return !lua && n > 0 && (size_t)n < outlen && is_file(out);
}

int scenario_find(const char *name, char *out, size_t outlen, char *err,
                  size_t errlen)
{
    char installed[4096];
    const char *compiled = SCENARIO_PREFIX "/" SCENARIO_DATADIR "/" LIBRARY;

    snprintf(out, outlen, "%s", name);
    if (strchr(name, '/') || is_file(name))
        return 0;
    /* the current directory first: ./demo.lua shadows the library's demo */
    if (look_in(".", name, out, outlen))
        return 0;
    beside_binary(installed, sizeof installed);
    if (look_in(installed, name, out, outlen) ||
        look_in(compiled, name, out, outlen))
        return 0;
    snprintf(err, errlen, "%s: no such scenario here, nor in the scenario "
             "library (%s%s%s)", name, installed, installed[0] ? ", " : "",
             compiled);
    return -1;
}
