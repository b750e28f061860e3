#include "sim/base/json_real32.h"

#include <stdio.h>
#include <stdlib.h>

json_t *json_real32(float f)
{
    char buf[32];
    for (int prec = 6; prec <= 9; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, (double)f);
        if (strtof(buf, NULL) == f)
            break;
    }
    /* at most 9 significant digits: %.9g prints this double as buf */
    return json_real(strtod(buf, NULL));
}
