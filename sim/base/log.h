/*
 * The host's log: one line per event on stderr, prefixed with the program
 * name, so users and tests can grep it.
 */
#ifndef SIM_LOG_H
#define SIM_LOG_H

#include <stdbool.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* Messages above this level are dropped (default LOG_INFO). */
void log_set_level(enum log_level level);

void log_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Where lines go instead of stderr while a full-screen UI owns the
 * terminal (the TUI's log panel); fn NULL: stderr again. The line comes
 * without the program prefix, with its "error: "/"warning: " tag. */
typedef void log_sink_fn(void *ctx, enum log_level level, const char *line);
void log_set_sink(log_sink_fn *fn, void *ctx);

/* Also shows every line logged (past the level) to fn, wherever it goes:
 * the control API's event stream. fn NULL: none. */
void log_set_tap(log_sink_fn *fn, void *ctx);

/* Called before a line goes to the terminal (the log's own lines, and
 * others' through log_interrupt): the progress line erases itself. */
typedef void log_interrupt_fn(void *ctx);
void log_set_interrupt(log_interrupt_fn *fn, void *ctx);
void log_interrupt(void);

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
