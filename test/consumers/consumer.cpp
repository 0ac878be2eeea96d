// The C++ consumer test: <gort.h> from C++17, linked against the installed
// libgort.so.  Spawns with a captureless lambda, passes values over a
// channel, waits on a context's done channel, and recovers a panic from
// C++ code; prints one line checked by test/consumers/run.sh.
#include <gort.h>

#include <cstdio>

namespace {

struct job {
	gort_chan *out;
	int n;
};

int run(void *)
{
	gort_chan *out = gort_chan_make(sizeof(long), 0);
	job jobs[4];
	for (int i = 0; i < 4; i++) {
		jobs[i] = job{gort_chan_retain(out), i + 1};
		gort_go_with(
			[](void *arg) {
				auto *j = static_cast<job *>(arg);
				long sq = static_cast<long>(j->n) * j->n;
				gort_chan_send(j->out, &sq);
				gort_chan_release(j->out);
			},
			&jobs[i], .name = "square");
	}
	long sum = 0;
	for (int i = 0; i < 4; i++) {
		long v = 0;
		bool ok = false;
		gort_chan_recv(out, &v, &ok);
		sum += v;
	}
	gort_chan_release(out);

	gort_ctx *ctx = gort_ctx_with_cancel(gort_ctx_background());
	gort_ctx_cancel(ctx);
	bool ok = false;
	gort_chan_recv(gort_ctx_done(ctx), nullptr, &ok);
	int err = gort_ctx_err(ctx);
	gort_ctx_release(ctx);

	std::printf("c++ consumer: sum=%ld done_closed=%d err=%s\n", sum, !ok, gort_strerror(err));
	return sum == 30 && !ok && err == GORT_CANCELED ? 0 : 1;
}

} // namespace

int main() { return gort_main(run, nullptr); }
