/* Leveled logging to stderr. Under systemd (JOURNAL_STREAM set) lines carry
 * the <N> priority prefix journald understands; otherwise a timestamp. */
#ifndef WEFT_LOG_H
#define WEFT_LOG_H

#include <stdbool.h>
#include <time.h>

enum log_level {
	WLOG_ERR = 3,
	WLOG_WARN = 4,
	WLOG_INFO = 6,
	WLOG_DEBUG = 7,
};

void log_init(const char *ident);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Returns 0 and sets *level, or -EINVAL for an unknown name. */
int log_parse_level(const char *name, enum log_level *level);
bool log_enabled(enum log_level level);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...)   log_msg(WLOG_ERR, __VA_ARGS__)
#define log_warn(...)  log_msg(WLOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(WLOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(WLOG_DEBUG, __VA_ARGS__)

/* Rate limit for errors that can repeat every loop iteration: at most
 * `burst` messages per `interval_s` seconds; suppressed counts are reported. */
struct log_ratelimit {
	int interval_s;
	int burst;
	time_t begin;
	int printed;
	unsigned suppressed;
};

#define LOG_RATELIMIT_INIT(interval, b)                \
	{                                              \
		.interval_s = (interval), .burst = (b) \
	}

bool log_ratelimit_ok(struct log_ratelimit *rl);

#endif
