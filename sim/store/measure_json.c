#include "sim/store/measure_json.h"

#include "sim/base/json_real32.h"

json_t *measure_json(const struct meter *m)
{
    const struct meter_measure *x = meter_measure(m);
    json_t *o = json_object();

    json_object_set_new(o, "u", json_real32(x->u));
    json_object_set_new(o, "i", json_real32(x->i));
    json_object_set_new(o, "p", json_real32(x->p));
    json_object_set_new(o, "q", json_real32(x->q));
    json_object_set_new(o, "s", json_real32(x->s));
    json_object_set_new(o, "pf", json_real32(x->pf));
    json_object_set_new(o, "f", json_real32(x->f));
    json_object_set_new(o, "demand", json_real32(x->demand));
    return o;
}
