#include "settings.h"
#include "registers.h"
#include "energy.h"

void settings_default(struct meter_settings *s)
{
    s->comm = (struct meter_comm){
        .slave = 1, .baud = 9600, .parity = METER_PARITY_EVEN,
        .word_order = METER_ABCD, .uplink = METER_UPLINK_DEBUG,
    };
    s->password = 6666;
    s->comb_active = ENERGY_COMB_ACTIVE_DEFAULT;
    s->comb_reactive = ENERGY_COMB_REACTIVE_DEFAULT;
    demand_config_default(&s->demand);
    prepaid_config_default(&s->prepaid);
    tariff_default(&s->tariff);
}

bool settings_baud_ok(uint32_t baud)
{
    static const uint16_t bauds[METER_NBAUDS] = METER_BAUDS;

    for (unsigned k = 0; k < METER_NBAUDS; k++)
        if (bauds[k] == baud)
            return true;
    return false;
}

int settings_check(const struct meter_settings *s)
{
    const struct meter_comm *c = &s->comm;

    if (c->slave > METER_SLAVE_MAX || !settings_baud_ok(c->baud) ||
        c->parity > METER_PARITY_EVEN || c->word_order > METER_DCBA ||
        c->uplink > METER_UPLINK_MQTT || s->password > 9999)
        return CORE_EINVAL;
    if (energy_comb_check(s->comb_active, 2) ||
        energy_comb_check(s->comb_reactive, 4))
        return CORE_EINVAL;
    if (demand_config_check(&s->demand) ||
        prepaid_config_check(&s->prepaid) || tariff_check(&s->tariff))
        return CORE_EINVAL;
    return CORE_OK;
}
