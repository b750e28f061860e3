#include "prepaid.h"
#include "energy.h"

void prepaid_config_default(struct prepaid_config *c)
{
    c->enabled = 0;
    c->alarm_wh = 5000;
    c->limit_w = 0;
    c->delay_s = 10;
}

int prepaid_config_check(const struct prepaid_config *c)
{
    if (c->enabled > 1 || c->delay_s > PREPAID_DELAY_MAX)
        return CORE_EINVAL;
    return CORE_OK;
}

void prepaid_init(struct prepaid *pp)
{
    *pp = (struct prepaid){ .credit = 0 };
}

void prepaid_consume(struct prepaid *pp, const struct prepaid_config *c,
                     int64_t mj)
{
    if (!c->enabled || mj <= 0)
        return;
    pp->credit = pp->credit > mj ? pp->credit - mj : 0;
}

int prepaid_set_mj(struct prepaid *pp, int64_t mj)
{
    if (mj < 0 || mj > PREPAID_CREDIT_MAX_MJ)
        return CORE_ERANGE;
    pp->credit = mj;
    return CORE_OK;
}

int prepaid_topup(struct prepaid *pp, uint32_t wh)
{
    return prepaid_set_mj(pp, pp->credit + (int64_t)wh * ENERGY_MJ_PER_WH);
}

int prepaid_set_credit(struct prepaid *pp, uint32_t wh)
{
    return prepaid_set_mj(pp, (int64_t)wh * ENERGY_MJ_PER_WH);
}

void prepaid_second(struct prepaid *pp, const struct prepaid_config *c,
                    double p)
{
    if (c->limit_w == 0 || !(p > (double)c->limit_w)) {
        pp->over_s = 0;
        return;
    }
    if (pp->over_s < UINT16_MAX)
        pp->over_s++;
}

void prepaid_decide(struct prepaid *pp, const struct prepaid_config *c)
{
    bool empty = c->enabled && pp->credit <= 0;

    if (empty)
        pp->reasons |= PREPAID_OPEN_CREDIT;
    else
        pp->reasons &= (uint8_t)~PREPAID_OPEN_CREDIT;
    /* over_s counts seconds above the limit: delay_s of them trip, and a
     * delay of 0 trips on the first */
    if (c->limit_w != 0 && pp->over_s > 0 && pp->over_s >= c->delay_s) {
        pp->reasons |= PREPAID_OPEN_POWER;
        pp->over_s = 0;
    }
    pp->alarm = c->enabled &&
                pp->credit <= (int64_t)c->alarm_wh * ENERGY_MJ_PER_WH;
}

int prepaid_command(struct prepaid *pp, const struct prepaid_config *c,
                    bool close)
{
    if (!close) {
        pp->reasons |= PREPAID_OPEN_REMOTE;
        return CORE_OK;
    }
    if (c->enabled && pp->credit <= 0)
        return CORE_ERANGE;
    pp->reasons &= (uint8_t)~(PREPAID_OPEN_REMOTE | PREPAID_OPEN_POWER);
    pp->over_s = 0;
    return CORE_OK;
}

uint32_t prepaid_credit_wh(const struct prepaid *pp)
{
    return (uint32_t)(pp->credit / ENERGY_MJ_PER_WH);
}
