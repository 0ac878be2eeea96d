#!/usr/bin/env python3
"""mkcorpus.py - writes the seed corpora of the fuzz targets:
test/fuzz/corpus/chan/ and test/fuzz/corpus/config/ (run from anywhere;
the files are committed, this script is how they were made).  The byte
encodings are described at the top of fuzz_chan.c and fuzz_config.c."""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))

# ---- fuzz_chan: header and ops ----
ESZ = {8: 0, 0: 1, 1: 2, 24: 3}
K_CANCEL, K_PAST, K_FAR, K_VALUE = range(4)
F_NB, F_BLOCK, F_UNTIL_PAST, F_UNTIL_FAR = range(4)
H_SEND, H_RECV, H_SEND_CTX, H_RECV_CTX, H_SEL, H_SEL_CTX = range(6)
NOCTX = 3  # a context index past the last: NULL


def F_CTX(k):
    return 4 + k


def header(chans, ctxs=()):
    """chans: [(cap, esz, nil)]; ctxs: [(kind, parent, far, key)] with
    parent -1 for background, else an earlier context's index."""
    b = bytes([(len(chans) - 1) | len(ctxs) << 2])
    for cap, esz, nil in chans:
        b += bytes([cap | ESZ[esz] << 2 | (0x70 if nil else 0)])
    for kind, parent, far, key in ctxs:
        b += bytes([kind | (parent + 1) << 2 | far << 4 | key << 6])
    return b


def case(tgt, send=False):
    """tgt: 0-3 a channel, ('done', k) a context's done channel, None nil."""
    if tgt is None:
        t = 7
    elif isinstance(tgt, tuple):
        t = 4 + tgt[1]
    else:
        t = tgt
    return (1 if send else 0) | t << 1


def send(ch, form=F_NB):
    return bytes([0, ch | form << 2])


def recv(ch, form=F_NB, null=False):
    return bytes([1, ch | form << 2 | (32 if null else 0)])


def close(ch):
    return bytes([2 | ch << 3])


def select(cases, form=F_NB):
    return bytes([3, (len(cases) - 1) | form << 2] + cases)


def spawn(kind, ch=0, ctx=NOCTX, cases=None):
    b = bytes([4, kind | ctx << 3])
    if kind in (H_SEL, H_SEL_CTX):
        return b + bytes([len(cases) - 1] + cases)
    return b + bytes([ch])


def cancel(ctx, cause=0):
    return bytes([5 | (ctx | cause << 2) << 3])


def yld(n=1):
    return bytes([6 | n << 3])


CHAN = {
    # unbuffered hand-offs both ways, to parked helpers
    "unbuffered_handoff": header([(0, 8, False)])
    + spawn(H_RECV, 0) + send(0) + spawn(H_SEND, 0) + recv(0) + recv(0) + send(0),
    # a full buffer, a parked sender moved into it by a receive (FIFO)
    "buffered_fifo": header([(2, 8, False)])
    + send(0) + send(0) + send(0) + spawn(H_SEND, 0) + spawn(H_SEND, 0)
    + recv(0) + recv(0) + recv(0) + recv(0) + recv(0),
    # close with parked receivers (ok=false) and parked senders (panic)
    "close_waiters": header([(0, 8, False), (1, 24, False)])
    + spawn(H_RECV, 0) + spawn(H_RECV, 0) + send(1) + spawn(H_SEND, 1) + spawn(H_SEND, 1)
    + close(0) + close(1) + recv(1) + recv(1) + close(0) + send(0),
    # a nil channel: close panics, try ops would block, select skips it
    "nil_channel": header([(1, 8, False), (0, 8, True)])
    + close(1) + send(1) + recv(1) + select([case(1), case(1, True), case(0, True)])
    + select([case(None)]),
    # select with a default: nothing ready, then several ready
    "select_default": header([(0, 8, False), (2, 1, False)])
    + select([case(0), case(0, True), case(1)]) + send(1) + send(1)
    + select([case(1), case(1, True), case(0, True)]) + select([case(1), case(1)], F_UNTIL_PAST)
    + select([case(0)], F_UNTIL_PAST),
    # cancel: a parked recv_ctx, a select on a done channel; _ctx on done
    "cancel": header([(0, 8, False)], [(K_CANCEL, -1, 0, 0), (K_CANCEL, 0, 0, 0)])
    + spawn(H_RECV_CTX, 0, ctx=1) + spawn(H_SEL, cases=[case(0), case(("done", 0))])
    + cancel(0, 3) + send(0, F_CTX(1)) + recv(0, F_CTX(0)) + select([case(("done", 1))]),
    # deadline in the past, far deadlines, a value context
    "deadlines_values": header([(1, 8, False)],
                               [(K_FAR, -1, 2, 0), (K_PAST, 0, 0, 0), (K_VALUE, 0, 0, 1)])
    + send(0, F_CTX(1)) + send(0, F_CTX(2)) + recv(0, F_CTX(0))
    + select([case(("done", 1)), case(("done", 2))]) + spawn(H_RECV_CTX, 0, ctx=2)
    + cancel(2) + cancel(0) + cancel(0),
    # helpers in selects over several channels; a hand-off through one
    "select_parked": header([(0, 8, False), (0, 0, False), (1, 8, False)])
    + send(2) + spawn(H_SEL, cases=[case(0), case(1, True)])
    + spawn(H_SEL, cases=[case(1), case(0, True), case(2, True)])
    + recv(0) + send(1) + recv(2) + recv(2),
    # one select sending and receiving on the same unbuffered channel
    "select_same_channel": header([(0, 8, False)])
    + spawn(H_SEL, cases=[case(0), case(0, True)]) + recv(0)
    + spawn(H_SEL, cases=[case(0, True), case(0)]) + send(0)
    + spawn(H_SEL, cases=[case(0), case(0, True)]) + close(0),
    # a closed channel with values left: drained first, then ok=false
    "close_drain": header([(3, 1, False)])
    + send(0) + send(0) + close(0) + recv(0) + recv(0, null=True) + recv(0) + recv(0)
    + spawn(H_RECV, 0) + spawn(H_SEND, 0),
    # the blocking forms when ready, _until in the past and an hour ahead
    "forms": header([(1, 8, False), (0, 24, False)])
    + send(0, F_BLOCK) + recv(0, F_UNTIL_FAR) + send(0, F_UNTIL_PAST) + send(0, F_UNTIL_PAST)
    + recv(0, F_BLOCK) + recv(0, F_UNTIL_PAST) + spawn(H_SEND, 1) + recv(1, F_BLOCK)
    + spawn(H_RECV, 1) + send(1, F_UNTIL_FAR) + select([case(0, True), case(1)], F_BLOCK),
    # select_ctx helpers woken by a cancel of their context's parent
    "select_ctx_cancel": header([(0, 8, False), (2, 8, False)],
                                [(K_CANCEL, -1, 0, 0), (K_VALUE, 0, 0, 0), (K_FAR, 1, 1, 0)])
    + spawn(H_SEL_CTX, ctx=2, cases=[case(0), case(("done", 1))])
    + spawn(H_SEND_CTX, 0, ctx=1) + send(1) + send(1) + spawn(H_SEND_CTX, 1, ctx=2)
    + yld(2) + cancel(1) + cancel(0, 5) + recv(1) + recv(1) + recv(1),
    "empty": b"",
}

# ---- fuzz_config: GORT_PROCS \n GORT_STACK_SIZE \n GORT_MAX_THREADS \n GORT_DEBUG [\n cfg]


def cfg(use=True, debug=None, procs=0, max_threads=0, mant=0, shift=0):
    b = bytes([(1 if use else 0) | (2 if debug is not None else 0)])
    b += struct.pack("<h", procs) + struct.pack("<i", max_threads)[:3]
    b += struct.pack("<H", mant) + bytes([shift])
    return b + (debug.encode() if debug is not None else b"")


CONFIG = {
    "valid": b"4\n64K\n100\nguard=mprotect,leakcheck=1",
    "bad_values": b"0\n1K\nabc\nbogus=1,guard=nope,leakcheck=2",
    "suffixes": b" +2\n1MiB\n2\nsigpanic",
    "sizes_kb": b"\n512kB\n\n",
    "size_overflow": b"\n18446744073709551615G\n99999999999999999999\n",
    "debug_all": b"\n\n\ndumpsig=SIGUSR1,deadlock=report,schedtrace=1000,scheddetail=1,hogwarn=0,dumpexit",
    "debug_bad": b"\n\n\ndumpsig=9,deadlock=maybe,schedtrace=-1,sigpanic=2,=x,,,",
    "debug_long": b"\n\n\n" + b"leakcheck=1," * 21 + b"guard=mprotect,deadlock=off",
    "cfg_fields": b"\n\n\n\n" + cfg(procs=3, max_threads=1000, mant=64, shift=10),
    "cfg_bad": b"1\n\n\n\n" + cfg(procs=-1, max_threads=1, mant=1, shift=39),
    "cfg_debug": b"\n\n\nguard=x\n" + cfg(debug="guard=canary,deadlock=abort"),
    "cfg_debug_bad": b"\n\n\n\n" + cfg(debug="nonsense"),
    "empty": b"",
}


def write(dirname, seeds):
    d = os.path.join(HERE, "corpus", dirname)
    os.makedirs(d, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    write("chan", CHAN)
    write("config", CONFIG)
