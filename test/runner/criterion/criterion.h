/*
 * criterion/criterion.h — a small stand-in for Criterion's header, used only
 * by the ThreadSanitizer build of gort's test suite (Criterion 2.4 cannot
 * run under TSan: boxfort fails with "Could not initialize inheritable
 * arena").  The Makefile puts test/runner on the include path ahead of the
 * system one and links test/runner/runner.c instead of libcriterion.
 *
 * What it gives, with Criterion's meaning:
 *
 *   Test(suite, name, .timeout = s, .disabled = b, .signal = sig,
 *        .exit_code = n, .description = "...", .init = f, .fini = f)
 *       a test, registered by a constructor; it runs in its own process and
 *       passes when that process exits with .exit_code (0 unless told) after
 *       no assertion failed, or dies by .signal when one is named.
 *
 *   cr_assert(cond [, fmt, ...])            cr_expect(cond [, fmt, ...])
 *   cr_assert_not, _eq, _neq, _gt, _geq, _lt, _leq, _null, _not_null,
 *   _str_eq, _str_neq, _str_empty, _str_not_empty, and the cr_expect_ ones;
 *   cr_assert_fail([fmt, ...]), cr_expect_fail([fmt, ...]),
 *   cr_skip_test([fmt, ...]), cr_log_info/warn/error(fmt, ...)
 *
 * A failed cr_assert prints file:line, the expression and the message on
 * stderr, marks the test failed and ends its process at once (it may be
 * called from any thread).  A failed cr_expect marks the test failed and
 * goes on.  The optional message must be a string literal format.
 */
#ifndef GORT_MINI_CRITERION_H
#define GORT_MINI_CRITERION_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

struct criterion_test_extra_data {
	int cr_unused_; /* lets Test(suite, name) with no options initialise */
	const char *description;
	double timeout; /* seconds; 0: none */
	int signal;     /* the signal that must end the test; 0: none */
	int exit_code;  /* the status the test must exit with */
	bool disabled;
	void (*init)(void);
	void (*fini)(void);
};

struct criterion_test {
	const char *suite;
	const char *name;
	const char *file;
	unsigned line;
	void (*test)(void);
	struct criterion_test_extra_data data;
	struct criterion_test *next_;
};

void cr_register_test_(struct criterion_test *t);

__attribute__((noreturn, format(printf, 4, 5))) void
cr_assert_failed_(const char *file, int line, const char *expr, const char *fmt, ...);
__attribute__((format(printf, 4, 5))) void
cr_expect_failed_(const char *file, int line, const char *expr, const char *fmt, ...);
__attribute__((noreturn, format(printf, 1, 2))) void cr_skip_test_(const char *fmt, ...);
__attribute__((format(printf, 2, 3))) void cr_log_(const char *level, const char *fmt, ...);

#define Test(Suite_, Name_, ...)                                                      \
	static void cr_test_fn_##Suite_##_##Name_(void);                              \
	static struct criterion_test cr_test_##Suite_##_##Name_ = {                   \
		.suite = #Suite_,                                                     \
		.name = #Name_,                                                       \
		.file = __FILE__,                                                     \
		.line = __LINE__,                                                     \
		.test = cr_test_fn_##Suite_##_##Name_,                                \
		.data = {.cr_unused_ = 0, __VA_ARGS__},                               \
	};                                                                            \
	__attribute__((constructor)) static void cr_test_reg_##Suite_##_##Name_(void) \
	{                                                                             \
		cr_register_test_(&cr_test_##Suite_##_##Name_);                       \
	}                                                                             \
	static void cr_test_fn_##Suite_##_##Name_(void)

/* The message is " " fmt: never an empty format (-Wformat-zero-length), and
 * the runner drops the leading space. */
#define cr_check_(report, cond, text, ...)                                     \
	do {                                                                   \
		if (!(cond))                                                   \
			report(__FILE__, __LINE__, text, " " __VA_ARGS__);     \
	} while (0)

#define cr_assert(cond, ...) cr_check_(cr_assert_failed_, (cond), #cond, __VA_ARGS__)
#define cr_assert_not(cond, ...) cr_check_(cr_assert_failed_, !(cond), "!(" #cond ")", __VA_ARGS__)
#define cr_assert_eq(a, b, ...) cr_check_(cr_assert_failed_, (a) == (b), "(" #a ") == (" #b ")", __VA_ARGS__)
#define cr_assert_neq(a, b, ...) cr_check_(cr_assert_failed_, (a) != (b), "(" #a ") != (" #b ")", __VA_ARGS__)
#define cr_assert_gt(a, b, ...) cr_check_(cr_assert_failed_, (a) > (b), "(" #a ") > (" #b ")", __VA_ARGS__)
#define cr_assert_geq(a, b, ...) cr_check_(cr_assert_failed_, (a) >= (b), "(" #a ") >= (" #b ")", __VA_ARGS__)
#define cr_assert_lt(a, b, ...) cr_check_(cr_assert_failed_, (a) < (b), "(" #a ") < (" #b ")", __VA_ARGS__)
#define cr_assert_leq(a, b, ...) cr_check_(cr_assert_failed_, (a) <= (b), "(" #a ") <= (" #b ")", __VA_ARGS__)
#define cr_assert_null(p, ...) cr_check_(cr_assert_failed_, (p) == NULL, "(" #p ") == NULL", __VA_ARGS__)
#define cr_assert_not_null(p, ...) cr_check_(cr_assert_failed_, (p) != NULL, "(" #p ") != NULL", __VA_ARGS__)
#define cr_assert_str_eq(a, b, ...) cr_check_(cr_assert_failed_, strcmp((a), (b)) == 0, "strcmp(" #a ", " #b ") == 0", __VA_ARGS__)
#define cr_assert_str_neq(a, b, ...) cr_check_(cr_assert_failed_, strcmp((a), (b)) != 0, "strcmp(" #a ", " #b ") != 0", __VA_ARGS__)
#define cr_assert_str_empty(s, ...) cr_check_(cr_assert_failed_, (s)[0] == '\0', "(" #s ")[0] == '\\0'", __VA_ARGS__)
#define cr_assert_str_not_empty(s, ...) cr_check_(cr_assert_failed_, (s)[0] != '\0', "(" #s ")[0] != '\\0'", __VA_ARGS__)
#define cr_assert_fail(...) cr_assert_failed_(__FILE__, __LINE__, NULL, " " __VA_ARGS__)

#define cr_expect(cond, ...) cr_check_(cr_expect_failed_, (cond), #cond, __VA_ARGS__)
#define cr_expect_not(cond, ...) cr_check_(cr_expect_failed_, !(cond), "!(" #cond ")", __VA_ARGS__)
#define cr_expect_eq(a, b, ...) cr_check_(cr_expect_failed_, (a) == (b), "(" #a ") == (" #b ")", __VA_ARGS__)
#define cr_expect_neq(a, b, ...) cr_check_(cr_expect_failed_, (a) != (b), "(" #a ") != (" #b ")", __VA_ARGS__)
#define cr_expect_gt(a, b, ...) cr_check_(cr_expect_failed_, (a) > (b), "(" #a ") > (" #b ")", __VA_ARGS__)
#define cr_expect_geq(a, b, ...) cr_check_(cr_expect_failed_, (a) >= (b), "(" #a ") >= (" #b ")", __VA_ARGS__)
#define cr_expect_lt(a, b, ...) cr_check_(cr_expect_failed_, (a) < (b), "(" #a ") < (" #b ")", __VA_ARGS__)
#define cr_expect_leq(a, b, ...) cr_check_(cr_expect_failed_, (a) <= (b), "(" #a ") <= (" #b ")", __VA_ARGS__)
#define cr_expect_null(p, ...) cr_check_(cr_expect_failed_, (p) == NULL, "(" #p ") == NULL", __VA_ARGS__)
#define cr_expect_not_null(p, ...) cr_check_(cr_expect_failed_, (p) != NULL, "(" #p ") != NULL", __VA_ARGS__)
#define cr_expect_str_eq(a, b, ...) cr_check_(cr_expect_failed_, strcmp((a), (b)) == 0, "strcmp(" #a ", " #b ") == 0", __VA_ARGS__)
#define cr_expect_str_neq(a, b, ...) cr_check_(cr_expect_failed_, strcmp((a), (b)) != 0, "strcmp(" #a ", " #b ") != 0", __VA_ARGS__)
#define cr_expect_fail(...) cr_expect_failed_(__FILE__, __LINE__, NULL, " " __VA_ARGS__)

#define cr_skip_test(...) cr_skip_test_(" " __VA_ARGS__)
#define cr_log_info(...) cr_log_("INFO", __VA_ARGS__)
#define cr_log_warn(...) cr_log_("WARN", __VA_ARGS__)
#define cr_log_error(...) cr_log_("ERR ", __VA_ARGS__)

#endif /* GORT_MINI_CRITERION_H */
