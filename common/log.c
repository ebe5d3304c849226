#include "common/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

static const char *log_ident = "weft";
static enum log_level log_level = WLOG_INFO;
static bool log_journal;

static const struct {
	const char *name;
	enum log_level level;
} level_names[] = {
	{"error", WLOG_ERR}, {"err", WLOG_ERR},	  {"warning", WLOG_WARN},
	{"warn", WLOG_WARN}, {"info", WLOG_INFO}, {"debug", WLOG_DEBUG},
};

void log_init(const char *ident)
{
	log_ident = ident;
	log_journal = getenv("JOURNAL_STREAM") != NULL;
}

void log_set_level(enum log_level level)
{
	log_level = level;
}

enum log_level log_get_level(void)
{
	return log_level;
}

int log_parse_level(const char *name, enum log_level *level)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (!strcasecmp(name, level_names[i].name)) {
			*level = level_names[i].level;
			return 0;
		}
	}
	return -EINVAL;
}

bool log_enabled(enum log_level level)
{
	return level <= log_level;
}

static const char *level_tag(enum log_level level)
{
	switch (level) {
	case WLOG_ERR:
		return "error";
	case WLOG_WARN:
		return "warning";
	case WLOG_INFO:
		return "info";
	default:
		return "debug";
	}
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char line[2048];
	int saved_errno = errno;
	va_list ap;
	int n;

	if (!log_enabled(level))
		return;
	if (log_journal) {
		n = snprintf(line, sizeof(line), "<%d>", level);
	} else {
		struct timeval tv;
		struct tm tm;

		gettimeofday(&tv, NULL);
		gmtime_r(&tv.tv_sec, &tm);
		n = snprintf(line, sizeof(line),
			     "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s: ", tm.tm_year + 1900,
			     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
			     (long)(tv.tv_usec / 1000), log_ident, level_tag(level));
	}
	if (n < 0 || (size_t)n >= sizeof(line))
		n = 0;
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	/* One write per line so concurrent writers do not interleave. */
	fprintf(stderr, "%s\n", line);
	errno = saved_errno;
}

bool log_ratelimit_ok(struct log_ratelimit *rl)
{
	time_t now = time(NULL);

	if (now - rl->begin >= rl->interval_s) {
		if (rl->suppressed)
			log_warn("%u similar messages suppressed", rl->suppressed);
		rl->begin = now;
		rl->printed = 0;
		rl->suppressed = 0;
	}
	if (rl->printed < rl->burst) {
		rl->printed++;
		return true;
	}
	rl->suppressed++;
	return false;
}
