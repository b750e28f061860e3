#include "sim/store/regnames.h"

#include <stdio.h>

#include "core/registers.h"

static const char *const rates[] = { "sharp", "peak", "flat", "valley" };

static const struct regname manual_fixed[] = {
    { REG_U, REGNAME_F32, "voltage U", "V" },
    { REG_I, REGNAME_F32, "current I", "A" },
    { REG_P, REGNAME_F32, "active power P (> 0 import)", "W" },
    { REG_Q, REGNAME_F32, "reactive power Q1", "var" },
    { REG_S, REGNAME_F32, "apparent power S", "VA" },
    { REG_PF, REGNAME_F32, "power factor PF (sign of P)", "" },
    { REG_F, REGNAME_F32, "frequency F", "Hz" },
    { REG_DEMAND, REGNAME_F32, "apparent demand", "VA" },
    { REG_ACT, REGNAME_F32, "total active energy (combined)", "kWh" },
    { REG_ACT_IMP, REGNAME_F32, "import active energy", "kWh" },
    { REG_ACT_EXP, REGNAME_F32, "export active energy", "kWh" },
    { REG_REACT, REGNAME_F32, "total reactive energy (combined)", "kvarh" },
    { REG_REACT_IMP, REGNAME_F32, "import reactive energy", "kvarh" },
    { REG_REACT_EXP, REGNAME_F32, "export reactive energy", "kvarh" },
};

const struct regname regname_ext[] = {
    { REG_X_MAP_VERSION, REGNAME_U16, "extension layout version", "" },
    { REG_X_FW_VERSION, REGNAME_U16, "firmware version (0x0100 = 1.00)", "" },
    { REG_X_SERIAL, REGNAME_U32, "serial number", "" },
    { REG_X_PULSES, REGNAME_U64, "pulse output count", "imp" },
    { REG_X_RATE, REGNAME_U16, "tariff rate now (1 sharp .. 4 valley)", "" },
    { REG_X_ZONE, REGNAME_U16, "time zone now", "" },
    { REG_X_STATUS, REGNAME_U16, "status (bit 0 relay closed, bit 1 low "
      "credit)", "" },
    { REG_X_REASONS, REGNAME_U16, "relay open reasons (bit 0 credit, bit 1 "
      "over-power, bit 2 remote)", "" },
    { REG_X_MD, REGNAME_F32, "maximum demand this month", "VA" },
    { REG_X_MD_TIME, REGNAME_U32, "time of the maximum demand this month",
      "s since 1970" },
    { REG_X_PREV_MD, REGNAME_F32, "maximum demand last month", "VA" },
    { REG_X_PREV_MD_TIME, REGNAME_U32, "time of the maximum demand last "
      "month", "s since 1970" },
    { REG_X_CREDIT_KWH, REGNAME_F32, "prepaid credit in kWh", "kWh" },
    { REG_X_MONTH_ACT, REGNAME_F32, "combined active energy this month",
      "kWh" },
    { REG_X_MONTH_REACT, REGNAME_F32, "combined reactive energy this month",
      "kvarh" },
    { REG_X_QUADRANT, REGNAME_F32, "reactive energy quadrant I", "kvarh" },
    { REG_X_QUADRANT + 2, REGNAME_F32, "reactive energy quadrant II",
      "kvarh" },
    { REG_X_QUADRANT + 4, REGNAME_F32, "reactive energy quadrant III",
      "kvarh" },
    { REG_X_QUADRANT + 6, REGNAME_F32, "reactive energy quadrant IV",
      "kvarh" },
    { REG_X_PROG_COUNT, REGNAME_U32, "accepted register writes", "" },
    { REG_X_PROG_TIME, REGNAME_U32, "time of the last one", "s since 1970" },
    { REG_X_SLAVE, REGNAME_U16, "slave address", "" },
    { REG_X_BAUD, REGNAME_U16, "baud rate", "bit/s" },
    { REG_X_PARITY, REGNAME_U16, "parity (0 none, 1 odd, 2 even)", "" },
    { REG_X_WORD_ORDER, REGNAME_U16, "float word order (0 ABCD .. 3 DCBA)",
      "" },
    { REG_X_UPLINK, REGNAME_U16, "4g_M uplink mode (0 Debug, 1 Mqtt)", "" },
    { REG_X_PASSWORD, REGNAME_U16, "LCD set-up password", "" },
    { REG_X_COMB_ACT, REGNAME_U16, "active combination word", "" },
    { REG_X_COMB_REACT, REGNAME_U16, "reactive combination word", "" },
    { REG_X_YEAR, REGNAME_U16, "clock: year", "" },
    { REG_X_YEAR + 1, REGNAME_U16, "clock: month", "" },
    { REG_X_YEAR + 2, REGNAME_U16, "clock: day", "" },
    { REG_X_YEAR + 3, REGNAME_U16, "clock: hour", "" },
    { REG_X_YEAR + 4, REGNAME_U16, "clock: minute", "" },
    { REG_X_YEAR + 5, REGNAME_U16, "clock: second", "" },
    { REG_X_WEEKDAY, REGNAME_U16, "clock: weekday (0 Sunday)", "" },
    { REG_X_EPOCH, REGNAME_U32, "clock", "s since 1970" },
    { REG_X_DEM_PERIOD, REGNAME_U16, "demand period", "min" },
    { REG_X_DEM_SLIDE, REGNAME_U16, "demand sliding step", "min" },
    { REG_X_PREPAID, REGNAME_U16, "prepaid on", "" },
    { REG_X_RELAY, REGNAME_U16, "relay closed", "" },
    { REG_X_CREDIT, REGNAME_U32, "prepaid credit", "Wh" },
    { REG_X_ALARM, REGNAME_U32, "low-credit alarm level", "Wh" },
    { REG_X_LIMIT, REGNAME_U32, "over-power limit (0 none)", "W" },
    { REG_X_DELAY, REGNAME_U16, "over-power delay", "s" },
};

const size_t regname_next = sizeof regname_ext / sizeof regname_ext[0];

unsigned regname_words(enum regname_type type)
{
    return type == REGNAME_U64 ? 4 : type == REGNAME_U16 ? 1 : 2;
}

/* ", this month" or ", previous month n" */
static const char *month_of(unsigned n, char *buf, size_t len)
{
    if (n == 0)
        snprintf(buf, len, ", this month");
    else
        snprintf(buf, len, ", previous month %u", n);
    return buf;
}

bool regname_listed_again(uint16_t addr)
{
    return addr == REG_PREV_REACT_B || addr == REG_PREV_REACT_B + 2;
}

bool regname_manual(uint16_t addr, char *buf, size_t len, const char **unit)
{
    char when[32];

    for (size_t k = 0; k < sizeof manual_fixed / sizeof manual_fixed[0];
         k++)
        if (manual_fixed[k].addr == addr) {
            snprintf(buf, len, "%s", manual_fixed[k].name);
            *unit = manual_fixed[k].unit;
            return true;
        }
    for (unsigned r = 1; r <= 4; r++) {
        bool reactive = addr == REG_REACT_RATE(r);
        if (addr == REG_ACT_RATE(r) || reactive) {
            snprintf(buf, len, "total %s %s energy (combined)", rates[r - 1],
                     reactive ? "reactive" : "active");
            *unit = reactive ? "kvarh" : "kWh";
            return true;
        }
    }
    for (unsigned n = 1; n <= 12; n++) {
        /* previous 7 and 8 are listed twice (the manual's erratum) */
        bool reactive = addr == REG_PREV_REACT(n) ||
                        (n >= 7 && addr == REG_PREV_REACT_B + 2 * (n - 7));
        if (addr == REG_PREV_ACT(n) || reactive) {
            snprintf(buf, len, "combined %s energy%s",
                     reactive ? "reactive" : "active",
                     month_of(n, when, sizeof when));
            *unit = reactive ? "kvarh" : "kWh";
            return true;
        }
    }
    for (unsigned r = 1; r <= 4; r++)
        for (int reactive = 0; reactive <= 1; reactive++)
            for (unsigned n = 0; n <= 12; n++)
                if (addr == REG_RATE(r, reactive, n)) {
                    snprintf(buf, len, "%s %s energy%s", rates[r - 1],
                             reactive ? "reactive" : "active",
                             month_of(n, when, sizeof when));
                    *unit = reactive ? "kvarh" : "kWh";
                    return true;
                }
    return false;
}
