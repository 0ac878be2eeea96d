/* Recover, log, and panic again with more context.
 *
 * A request handler runs in its own protected region.  Deep inside, a
 * parser panics with a terse message.  The handler's deferred call
 * recovers it, logs it, and re-panics with what only the handler knows
 * (the request's id and path), as Go code does with
 *
 *   defer func() {
 *       if r := recover(); r != nil {
 *           log.Printf("request %d failed: %v", req.id, r)
 *           panic(fmt.Sprintf("request %d (%s): %v", req.id, req.path, r))
 *       }
 *   }()
 *
 * The new panic leaves the handler's region (its gort_protect does not
 * return) and goes on to the enclosing region: the server's gort_protect,
 * whose deferred call recovers it.  That gort_protect returns GORT_PANICKED
 * with the annotated message.  The program exits 0 printing:
 *
 *   log: request 7 failed: parse: unexpected '}' at offset 11
 *   server: recovered "request 7 (/upload): parse: unexpected '}' at offset 11"
 *
 * Built and run by `make test`. */
#include <gort.h>
#include <stdio.h>

struct request {
	int id;
	const char *path;
	const char *body;
};

/* Checks that braces balance; an unbalanced one is a bug upstream. */
static void parse(const char *body)
{
	int depth = 0;
	for (const char *c = body; *c != '\0'; c++) {
		depth += (*c == '{') - (*c == '}');
		if (depth < 0)
			gort_panic("parse: unexpected '}' at offset %d", (int)(c - body));
	}
}

/* The handler's deferred call: recover, log, re-panic with context. */
static void add_context(void *arg)
{
	const struct request *req = arg;
	const gort_panic_info *p = gort_recover();
	if (p == NULL)
		return; /* the handler returned normally */
	char cause[GORT_PANIC_MSG_MAX];
	snprintf(cause, sizeof cause, "%s", p->message); /* p dies with this call */
	printf("log: request %d failed: %s\n", req->id, cause);
	gort_panic("request %d (%s): %s", req->id, req->path, cause);
}

static void handle(void *arg)
{
	struct request *req = arg;
	GORT_DEFER(add_context, req);
	parse(req->body);
	printf("handle: request %d done (never printed)\n", req->id);
}

/* The server's deferred call: stop whatever panic reaches it. */
static void recover_any(void *arg)
{
	(void)arg;
	(void)gort_recover();
}

static void serve(void *arg)
{
	GORT_DEFER(recover_any, NULL);
	int rc = gort_protect(handle, arg, NULL); /* does not return: re-panic */
	printf("serve: handle returned %d (never printed)\n", rc);
}

static int real_main(void *arg)
{
	(void)arg;
	struct request req = {.id = 7, .path = "/upload", .body = "{\"name\": 1}}"};
	gort_panic_info info;
	int rc = gort_protect(serve, &req, &info);
	if (rc != GORT_PANICKED) {
		printf("server: no panic reached the server (rc %d)\n", rc);
		return 1;
	}
	printf("server: recovered \"%s\"\n", info.message);
	return 0;
}

int main(void)
{
	return gort_main(real_main, NULL);
}
