/*
 * The front panel: the "7+1" segment LCD and its three keys (manual
 * section 5; the menu tree and key map are in docs/lcd.md).
 *
 * Keys come in as press and release events, as a board's debounced key
 * driver reports them, each with the time of its tick counter (ms, any
 * epoch, never going backwards; not the RTC: the keys keep working when a
 * host freezes or races the virtual clock). Every key acts when pressed;
 * holding ← for LCD_LONG_MS on a display page opens the password page
 * (meter_lcd_tick notices it while the key is still down). The menu
 * returns to the measurement display after LCD_TIMEOUT_MS without a key.
 *
 * The output is a frame: what each segment of the glass shows. Hosts
 * (a board's LCD driver, the simulator's terminal) only draw it.
 */
#ifndef CORE_LCD_H
#define CORE_LCD_H

#include "port.h"
#include "segment.h"

#define LCD_DIGITS 8            /* digit positions on the glass ("7+1") */
#define LCD_LONG_MS 3000        /* a long press of ← */
#define LCD_TIMEOUT_MS 30000    /* back to the measurement display */
#define LCD_MESSAGE_MS 2000     /* how long "Err" stays */
#define LCD_BLINK_MS 500        /* the edited digit's on and off halves */
#define LCD_COMM_MS 1000        /* the communication icon after a frame */

/* The keys, left to right on the front. */
enum meter_key {
    METER_KEY_LEFT = 0,         /* ←: page up; in editing, the next digit */
    METER_KEY_DOWN = 1,         /* ↓: page down; in editing, digit + 1 */
    METER_KEY_ENTER = 2,        /* ENTER: groups, select, confirm */
};

enum meter_key_event {
    METER_KEY_PRESS = 0,        /* the key went down */
    METER_KEY_RELEASE = 1,      /* the key came up */
};

/* The glass's icons (annunciators), one bit each in lcd_frame.icons. */
enum lcd_icon {
    LCD_ICON_V = 1u << 0,
    LCD_ICON_A = 1u << 1,
    LCD_ICON_KW = 1u << 2,
    LCD_ICON_KVAR = 1u << 3,
    LCD_ICON_KVA = 1u << 4,
    LCD_ICON_HZ = 1u << 5,
    LCD_ICON_PF = 1u << 6,
    LCD_ICON_KWH = 1u << 7,
    LCD_ICON_KVARH = 1u << 8,
    LCD_ICON_T1 = 1u << 9,          /* rate 1 (sharp) */
    LCD_ICON_T2 = 1u << 10,         /* rate 2 (peak) */
    LCD_ICON_T3 = 1u << 11,         /* rate 3 (flat) */
    LCD_ICON_T4 = 1u << 12,         /* rate 4 (valley) */
    LCD_ICON_TOTAL = 1u << 13,      /* combined energy */
    LCD_ICON_IMP = 1u << 14,        /* import */
    LCD_ICON_EXP = 1u << 15,        /* export */
    LCD_ICON_LAST = 1u << 16,       /* previous month */
    LCD_ICON_CLOCK = 1u << 17,      /* date or time shown */
    LCD_ICON_SET = 1u << 18,        /* password or setting pages */
    LCD_ICON_RELAY_OFF = 1u << 19,  /* the relay is open: load cut off */
    LCD_ICON_COMM = 1u << 20,       /* a Modbus frame was answered */
    LCD_ICON_4G = 1u << 21,         /* 4g_M is Mqtt: the uplink is on */
    LCD_ICON_ALARM = 1u << 22,      /* low prepaid credit */
};

/* What the glass shows at one moment. */
struct lcd_frame {
    uint8_t digit[LCD_DIGITS];  /* positions left to right, SEG_* bits;
                                   SEG_DP is the point after the position */
    bool minus;                 /* the sign segment left of position 0 */
    uint32_t icons;             /* enum lcd_icon bits lit */
    uint8_t flash;              /* bit k: position k blinks (the edited
                                   value); already blank in the off half */
};

/* The menu's places. */
enum lcd_mode {
    LCD_MEASURE = 0,            /* U, I, P, Q, S, PF, F, demand, credit */
    LCD_ENERGY,                 /* energies, totals, rates, last month */
    LCD_CLOCK,                  /* time and date */
    LCD_PASSWORD,               /* the password being entered */
    LCD_SETTINGS,               /* the parameter list */
    LCD_EDIT,                   /* a parameter being changed */
    LCD_ERROR,                  /* "Err": refused password or value */
};

#define LCD_EDIT_MAX 6          /* digits of the longest edited value */

/* The menu's state (volatile: not part of the NV image). */
struct lcd {
    uint8_t mode;               /* enum lcd_mode */
    uint8_t page;               /* page in MEASURE/ENERGY/CLOCK */
    uint8_t item;               /* parameter in SETTINGS/EDIT */
    uint8_t back;               /* mode to return to after ERROR */
    uint8_t val[LCD_EDIT_MAX];  /* value being edited: digits 0..9, or
                                   val[0] the choice of a list */
    uint8_t cursor;             /* the digit being edited */
    uint8_t held;               /* bit per enum meter_key: down now */
    bool long_done;             /* this hold of ← has acted */
    bool comm_seen;             /* comm_ms is valid */
    int64_t left_ms;            /* when ← went down */
    int64_t key_ms;             /* the last key press */
    int64_t error_ms;           /* when "Err" appeared */
    int64_t comm_ms;            /* the last Modbus frame answered */
};

#endif
