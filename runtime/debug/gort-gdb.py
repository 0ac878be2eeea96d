# gort-gdb.py -- gdb support for gort's coroutines (docs/gdb.md).
#
# Commands:
#   info coroutines        one line per live coroutine: id, name, state,
#                          wait reason, blocked-at site, spawn site, parent
#   coroutine ID [bt]      one coroutine's summary, and with `bt` (or
#                          `backtrace`) its backtrace rebuilt from its saved
#                          context; ID is a gdb expression (a number, or a
#                          variable holding an id); `coroutine all bt` does
#                          every live coroutine
#
# Loading: gdb auto-loads this file as <objfile>-gdb.py next to libgort.so
# or under <datadir>/gdb/auto-load/<libdir>/ (for a program linked with the
# shared library); for a static link, `source <datadir>/gort/gort-gdb.py`.
#
# Only reads memory: works on a live process and on a core file alike.  It
# never calls a function in the inferior, never writes memory or registers
# (to find the thread of a running coroutine it selects each thread in turn
# to read its stack pointer, then restores the selected thread and frame).
#
# What it reads -- keep in step with these when they change:
#   runtime/coro.c    `static _Atomic(struct gchunk *) allgs`: the append-
#                     only list of descriptor chunks; struct gchunk's fields
#                     `g` (an array of struct gort__g) and `next`.  Found
#                     with gdb.lookup_static_symbols("allgs"), the one whose
#                     symtab is .../coro.c.
#   runtime/rt.h      struct gort__g's fields id, parent_id, state,
#                     wait_reason, wait_file, wait_line, spawn_file,
#                     spawn_line, name, ctx, stack, m (offsets and sizes
#                     come from the debug info, not from this file);
#                     struct gort__stack's lo and size; struct gort__m's id
#                     and thread; gort__sched.running.
#                     enum gort__gstate (GORT__G_*) and enum
#                     gort__wait_reason (GORT__WR_*): values from the debug
#                     info, matched by enumerator name.
#   runtime/errors.c  `static const char *const wait_reason_names[]`: the
#                     words gort_dump prints for each wait reason, read
#                     from the program so that gdb says what gort_dump
#                     says (the enumerator's name, lower-cased, if absent).
#   runtime/debug/dump.c   the same liveness rule (RUNNABLE, RUNNING,
#                     WAITING; a WAITING G without a reason yet shows as
#                     runnable) and the "created by" wording.
#   runtime/switch.h  a G that is not RUNNING has its Boost fcontext in
#                     g->ctx: the stack pointer saved by jump_fcontext.  On
#                     x86-64 (Boost 1.74, checked by disassembly) that
#                     function does `lea -0x38(%rsp),%rsp`, stores MXCSR and
#                     the x87 control word at +0, r12 +8, r13 +0x10, r14
#                     +0x18, r15 +0x20, rbx +0x28, rbp +0x30, and its return
#                     address sits at +0x38.  The layout is read from
#                     jump_fcontext's own code at the first backtrace (the
#                     `lea` and the `mov %rbp,..(%rsp)`), with the above as
#                     fallback, so a Boost whose frame differs still works.
# The backtrace walks the frame-pointer chain (gort is built with
# -fno-omit-frame-pointer) from the saved rbp and return address, keeping
# only frames inside the coroutine's stack that move up it.
#
# This file is Python 3 run by gdb (gdb 10 or newer); one file, no imports
# beyond gdb and the standard library.

import re

import gdb

MAX_CHUNKS = 1 << 20  # 64 Mi descriptors: beyond that the list is corrupt
MAX_FRAMES = 256


class GortError(Exception):
    """A message for the user (printed as gdb's error)."""


def _enum_values(name, prefix, fallback):
    """{value: enumerator name without prefix} from the debug info."""
    try:
        t = gdb.lookup_type("enum " + name)
        return {int(f.enumval): f.name[len(prefix):] for f in t.fields()
                if f.name.startswith(prefix)}
    except gdb.error:
        return dict(enumerate(fallback))


def _read(addr, size):
    try:
        return bytes(gdb.selected_inferior().read_memory(addr, size))
    except gdb.MemoryError as e:
        raise GortError("cannot read %d bytes at 0x%x: %s" % (size, addr, e))


class Coro:
    """A snapshot of one live G descriptor."""

    __slots__ = ("addr", "id", "parent_id", "state", "reason", "wait_file",
                 "wait_line", "spawn_file", "spawn_line", "name", "ctx",
                 "stack", "m")


class Runtime:
    """The runtime's structures in the selected inferior, as the debug info
    describes them.  Made afresh for every command (the program may have
    been re-run, a library loaded)."""

    def __init__(self):
        if not _has_threads():
            raise GortError("gort: the program is not running (no process or core file)")
        sym = self._static_symbol("allgs", "coro.c")
        if sym is None:
            raise GortError("gort: no gort runtime in this program (no debug symbol "
                            "'allgs' of runtime/coro.c: is libgort linked in, with -g?)")
        self.allgs = sym.value()
        self.byteorder = "big" if "big endian" in gdb.execute(
            "show endian", to_string=True) else "little"
        chunk_t = self.allgs.type.strip_typedefs().target().strip_typedefs()
        self.chunk_size = chunk_t.sizeof
        fields = {f.name: f for f in chunk_t.fields()}
        self.g_off = fields["g"].bitpos // 8
        self.next_off = fields["next"].bitpos // 8
        self.ptr_size = fields["next"].type.sizeof
        g_arr = fields["g"].type.strip_typedefs()
        self.g_t = g_arr.target().strip_typedefs()
        self.g_size = self.g_t.sizeof
        lo, hi = g_arr.range()
        self.per_chunk = hi - lo + 1
        self.gf = {}
        for f in self.g_t.fields():
            if f.name:
                self.gf[f.name] = (f.bitpos // 8, f.type.strip_typedefs().sizeof,
                                   f.type.strip_typedefs())
        for need in ("id", "parent_id", "state", "wait_reason", "wait_file", "wait_line",
                     "spawn_file", "spawn_line", "name", "ctx", "stack", "m"):
            if need not in self.gf:
                raise GortError("gort: struct gort__g has no field '%s': this script does "
                                "not match the runtime (see its top comment)" % need)
        self.states = _enum_values("gort__gstate", "GORT__G_",
                                   ["FREE", "RUNNABLE", "RUNNING", "WAITING", "DEAD"])
        self.reasons = _enum_values("gort__wait_reason", "GORT__WR_", ["NONE"])
        self._strings = {}
        self.words = self._reason_words()

    @staticmethod
    def _static_symbol(name, source):
        """The file-static variable `name` of runtime source file `source`."""
        syms = []
        try:
            syms = gdb.lookup_static_symbols(name)
        except (AttributeError, gdb.error):
            s = gdb.lookup_static_symbol(name)
            syms = [s] if s else []
        for s in syms:
            if s.symtab and re.search(r"(^|/)%s$" % re.escape(source), s.symtab.filename):
                return s
        return None

    def _reason_words(self):
        """errors.c's wait_reason_names, by enumerator name."""
        words = {}
        sym = self._static_symbol("wait_reason_names", "errors.c")
        if sym is None:
            return words
        arr = sym.value()
        lo, hi = arr.type.strip_typedefs().range()
        for val, name in self.reasons.items():
            if lo <= val <= hi:
                w = self.string(int(arr[val]))
                if w:
                    words[name] = w
        return words

    def running(self):
        try:
            return bool(gdb.parse_and_eval("gort__sched.running"))
        except gdb.error:
            return True  # unknown: let the walk say

    def _int(self, buf, base, field, signed=True):
        off, size, _ = self.gf[field]
        return int.from_bytes(buf[base + off:base + off + size], self.byteorder,
                              signed=signed)

    def _ptr(self, buf, base, field):
        return self._int(buf, base, field, signed=False)

    def string(self, addr, limit=4096):
        """A C string in the inferior (cached: the sites are static)."""
        if not addr:
            return None
        s = self._strings.get(addr)
        if s is None:
            out = b""
            while len(out) < limit:
                try:
                    part = bytes(gdb.selected_inferior().read_memory(addr + len(out), 64))
                except gdb.MemoryError:
                    if out:
                        break
                    return "<0x%x?>" % addr
                i = part.find(b"\0")
                if i >= 0:
                    out += part[:i]
                    break
                out += part
            s = out.decode("utf-8", "replace")
            self._strings[addr] = s
        return s

    def coroutines(self, live_only=True):
        """Every descriptor (live ones only by default), in allgs order."""
        out = []
        chunk = int(self.allgs)
        seen = set()
        name_off, name_size, _ = self.gf["name"]
        while chunk and len(seen) < MAX_CHUNKS:
            if chunk in seen:
                break
            seen.add(chunk)
            buf = _read(chunk, self.chunk_size)
            for i in range(self.per_chunk):
                base = self.g_off + i * self.g_size
                st = self.states.get(self._int(buf, base, "state", signed=False), "?")
                if live_only and st not in ("RUNNABLE", "RUNNING", "WAITING"):
                    continue
                c = Coro()
                c.addr = chunk + base
                c.id = self._int(buf, base, "id")
                c.parent_id = self._int(buf, base, "parent_id")
                c.state = st
                c.reason = None
                c.wait_file, c.wait_line = None, 0
                if st == "WAITING":
                    r = self.reasons.get(self._int(buf, base, "wait_reason", signed=False))
                    if r is None or r in ("NONE", "COUNT_"):
                        c.state = "RUNNABLE"  # caught between park and its record (dump.c)
                    else:
                        c.reason = self.words.get(r) or r.lower().replace("_", " ")
                        c.wait_file = self.string(self._ptr(buf, base, "wait_file"))
                        c.wait_line = self._int(buf, base, "wait_line")
                c.spawn_file = self.string(self._ptr(buf, base, "spawn_file"))
                c.spawn_line = self._int(buf, base, "spawn_line")
                raw = buf[base + name_off:base + name_off + name_size]
                c.name = raw.split(b"\0", 1)[0].decode("utf-8", "replace")
                c.ctx = self._ptr(buf, base, "ctx")
                c.stack = self._ptr(buf, base, "stack")
                c.m = self._ptr(buf, base, "m")
                out.append(c)
            chunk = int.from_bytes(buf[self.next_off:self.next_off + self.ptr_size],
                                   self.byteorder)
        return out

    def stack_bounds(self, c):
        """[lo, hi) of c's stack, or None."""
        if not c.stack:
            return None
        st = gdb.Value(c.stack).cast(gdb.lookup_type("struct gort__stack").pointer())
        try:
            lo = int(st["lo"].cast(gdb.lookup_type("unsigned long")))
            return lo, lo + int(st["size"])
        except gdb.error:
            return None

    def m_info(self, c):
        """(M id, pthread_t) of the M running c, or None."""
        if not c.m:
            return None
        try:
            m = gdb.Value(c.m).cast(gdb.lookup_type("struct gort__m").pointer()).dereference()
            return int(m["id"]), int(m["thread"])
        except gdb.error:
            return None


def _has_threads():
    """A live process or a core file: something to read."""
    try:
        return len(gdb.selected_inferior().threads()) > 0
    except gdb.error:
        return False


class Threads:
    """Each thread's number and stack pointer, read once per command."""

    def __init__(self):
        self.list = []  # (gdb thread, sp, pthread handle or None)
        self.selected = gdb.selected_thread()
        frame = None
        try:
            frame = gdb.selected_frame()
        except gdb.error:
            pass
        try:
            for th in gdb.selected_inferior().threads():
                try:
                    th.switch()
                    sp = int(gdb.newest_frame().read_register("sp"))
                except gdb.error:
                    continue
                try:
                    h = th.handle()
                    h = int.from_bytes(h, "little") if h else None
                except (gdb.error, AttributeError, TypeError):
                    h = None
                self.list.append((th, sp, h))
        finally:
            if self.selected is not None and self.selected.is_valid():
                self.selected.switch()
                if frame is not None and frame.is_valid():
                    frame.select()

    def of(self, bounds, pthread):
        """The gdb thread whose stack pointer is in bounds (or whose handle is
        pthread), or None."""
        for th, sp, h in self.list:
            if bounds and bounds[0] <= sp < bounds[1]:
                return th
        for th, sp, h in self.list:
            if pthread and h == pthread:
                return th
        return None


def _site(f, line):
    return "%s:%d" % (f if f else "?", line)


def _created_by(c):
    """dump.c's "created by" wording."""
    if c.spawn_line == 0 and c.spawn_file:
        return "created by %s" % c.spawn_file  # gort_main
    if c.parent_id:
        return "created by coroutine %d at %s" % (c.parent_id, _site(c.spawn_file, c.spawn_line))
    return "created by a plain thread at %s" % _site(c.spawn_file, c.spawn_line)


def _thread_of(rt, threads, c):
    if c.state != "RUNNING":
        return None
    mi = rt.m_info(c)
    return threads.of(rt.stack_bounds(c), mi[1] if mi else None)


def _runtime():
    """A Runtime, or None after saying why there is nothing to show."""
    rt = Runtime()
    if not rt.running():
        if not int(rt.allgs):
            print("gort: runtime not running")
            return None
        print("gort: runtime not running (starting or stopping); its descriptors:")
    return rt


class InfoCoroutines(gdb.Command):
    """List gort's live coroutines.
Usage: info coroutines
One line each: id, name, state, wait reason (the words gort_dump uses; for a
running coroutine, the gdb thread it runs on), the file:line where it
blocked, where it was created and its parent's id.  A `*' marks the
coroutine running on the selected thread.  Then a count by state.
See `help coroutine` for a coroutine's backtrace."""

    def __init__(self):
        super().__init__("info coroutines", gdb.COMMAND_STATUS, gdb.COMPLETE_NONE)

    def invoke(self, arg, from_tty):
        try:
            rt = _runtime()
            if rt is None:
                return
            cs = rt.coroutines()
            threads = Threads()
            rows = []
            counts = {}
            for c in cs:
                counts[c.state] = counts.get(c.state, 0) + 1
                mark = " "
                if c.state == "RUNNING":
                    th = _thread_of(rt, threads, c)
                    why = "thread %d" % th.num if th else "(thread ?)"
                    if th is not None and th == threads.selected:
                        mark = "*"
                else:
                    why = c.reason or "-"
                at = _site(c.wait_file, c.wait_line) if c.state == "WAITING" else "-"
                if c.spawn_line == 0 and c.spawn_file:
                    spawn = c.spawn_file
                else:
                    spawn = _site(c.spawn_file, c.spawn_line)
                rows.append((mark, str(c.id), c.name or "-", c.state.lower(), why, at, spawn,
                             str(c.parent_id) if c.parent_id else "-"))
            head = ("", "Id", "Name", "State", "Wait reason", "Blocked at", "Created at",
                    "Parent")
            widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
            for r in [head] + rows:
                cells = [r[i].ljust(widths[i]) for i in range(len(head) - 1)] + [r[-1]]
                print(" ".join(cells).rstrip())
            parts = ["%d %s" % (counts[s], s.lower())
                     for s in ("RUNNING", "RUNNABLE", "WAITING") if counts.get(s)]
            print("%d coroutine%s%s" % (len(cs), "" if len(cs) == 1 else "s",
                                        ": " + ", ".join(parts) if parts else ""))
        except (GortError, gdb.MemoryError) as e:
            raise gdb.GdbError(str(e))


# ---------------------------------------------------------------- backtrace

_layout_cache = {}


def _fcontext_layout():
    """(offset of saved rbp, offset of the return address) from the saved
    stack pointer, read from jump_fcontext's code; Boost 1.74's values when
    its code is not found or not understood."""
    default = (0x30, 0x38)
    try:
        addr = int(gdb.parse_and_eval("&jump_fcontext").cast(gdb.lookup_type("unsigned long")))
    except gdb.error:
        return default
    if addr in _layout_cache:
        return _layout_cache[addr]
    layout = default
    try:
        arch = gdb.selected_inferior().architecture()
        insns = arch.disassemble(addr, count=16)
        frame = rbp = None
        for ins in insns:
            asm = ins["asm"]
            m = re.search(r"lea\s+-0x([0-9a-f]+)\(%rsp\),%rsp", asm)
            if m and frame is None:
                frame = int(m.group(1), 16)
            m = re.search(r"mov\s+%rbp,0x([0-9a-f]+)\(%rsp\)", asm)
            if m and frame is not None and rbp is None:
                rbp = int(m.group(1), 16)
            if re.match(r"(jmp|ret)", asm):
                break
        if frame is not None and rbp is not None:
            layout = (rbp, frame)
    except (gdb.error, RuntimeError):
        pass
    _layout_cache[addr] = layout
    return layout


def _describe_pc(pc, caller):
    """gdb-bt-like text for one address: a list of lines' bodies (more than
    one when functions were inlined there; the innermost first)."""
    look = pc - 1 if caller and pc else pc
    where = ""
    sal = gdb.find_pc_line(look)
    try:
        block = gdb.block_for_pc(look)
    except RuntimeError:
        block = None
    funcs = []
    while block is not None and not (block.is_global or block.is_static):
        if block.function is not None:
            funcs.append(block.function)
        block = block.superblock
    if funcs:
        # gdb gives an inlined function's symbol the DW_AT_call_file and
        # DW_AT_call_line of its inlining: the caller's position.  Inlined
        # callers are shown as gdb's bt shows them: without an address.
        if sal.symtab is not None and sal.line:
            where = " at %s:%d" % (sal.symtab.filename, sal.line)
        out = ["0x%016x in %s ()%s" % (pc, funcs[0].print_name, where)]
        for inner, f in zip(funcs, funcs[1:]):
            where = ""
            if inner.symtab is not None and inner.line:
                where = " at %s:%d" % (inner.symtab.filename, inner.line)
            out.append("%s ()%s" % (f.print_name, where))
        return out
    name = None
    try:
        txt = gdb.format_address(look)  # "0x... <sym+off>"
        m = re.search(r"<([^+>]+)", txt)
        name = m.group(1) if m else None
    except (AttributeError, gdb.error):
        try:
            txt = gdb.execute("info symbol 0x%x" % look, to_string=True)
            if not txt.startswith("No symbol"):
                name = txt.split(" in section")[0].split(" + ")[0].strip()
        except gdb.error:
            pass
    lib = gdb.solib_name(look)
    if sal.symtab is not None and sal.line:
        where = " at %s:%d" % (sal.symtab.filename, sal.line)
    elif lib:
        where = " from %s" % lib
    return ["0x%016x in %s ()%s" % (pc, name or "??", where)]


def _frames(rt, c):
    """The return addresses of a switched-out coroutine, innermost first."""
    bounds = rt.stack_bounds(c)
    if bounds is None or not c.ctx:
        raise GortError("it has no stack or no saved context")
    lo, hi = bounds
    arch = gdb.selected_inferior().architecture().name()
    if "x86-64" not in arch:
        raise GortError("backtraces are implemented for x86-64 only, not %s" % arch)
    rbp_off, ret_off = _fcontext_layout()
    if not (lo <= c.ctx and c.ctx + ret_off + 8 <= hi):
        raise GortError("its saved context 0x%x is outside its stack [0x%x, 0x%x)"
                        % (c.ctx, lo, hi))
    order = rt.byteorder

    def word(a):
        return int.from_bytes(_read(a, 8), order)

    pcs = [word(c.ctx + ret_off)]
    fp = word(c.ctx + rbp_off)
    while len(pcs) < MAX_FRAMES and lo <= fp and fp + 16 <= hi and fp % 8 == 0:
        ret, nxt = word(fp + 8), word(fp)
        if not ret:
            break
        pcs.append(ret)
        if nxt <= fp:
            break
        fp = nxt
    return pcs


def _print_bt(rt, threads, c):
    title = 'coroutine %d%s [%s]:' % (c.id, ' "%s"' % c.name if c.name else "",
                                     c.reason or c.state.lower())
    print(title)
    if c.state == "WAITING" and c.wait_file:
        print("\tblocked at %s" % _site(c.wait_file, c.wait_line))
    if c.state == "RUNNING":
        th = _thread_of(rt, threads, c)
        mi = rt.m_info(c)
        mtxt = " (M %d)" % mi[0] if mi else ""
        if th is not None:
            print("\trunning on thread %d%s: its stack is that thread's; use `thread %d` "
                  "and `bt`" % (th.num, mtxt, th.num))
        else:
            print("\trunning%s, on a thread gdb does not show: use `info threads` and `bt`"
                  % mtxt)
    elif c.state == "RUNNABLE" and not c.ctx:
        print("\tnot started yet: no stack, no frames")
    else:
        if c.state == "RUNNABLE":
            print("\t(runnable: switched out, not parked)")
        try:
            pcs = _frames(rt, c)
        except GortError as e:
            pcs = None
            print("\t(no frames: %s)" % e)
        if pcs is not None and (not pcs or not pcs[0]):
            print("\t(no frames: its saved context reads as zeros; in a core file written "
                  "by gcore, see docs/gdb.md, \"gcore and guard pages\")")
        elif pcs:
            n = 0
            for pc in pcs:
                for line in _describe_pc(pc, True):
                    print("#%-2d %s" % (n, line))
                    n += 1
    print(_created_by(c))


def _parse_id(expr):
    try:
        return int(gdb.parse_and_eval(expr))
    except gdb.error as e:
        raise GortError("coroutine: bad coroutine id '%s': %s" % (expr, e))


class Coroutine(gdb.Command):
    """Show one gort coroutine, or its backtrace.
Usage: coroutine ID          its state, wait, spawn site
       coroutine ID bt       also its backtrace (`backtrace' works too)
       coroutine all bt      the backtraces of every live coroutine
ID is a coroutine id as `info coroutines' lists it, or any gdb expression
that gives one.  The backtrace of a parked (or switched-out) coroutine is
rebuilt from the context it saved when it switched out, by walking its
frame pointers; a running coroutine's stack is its thread's: use `thread N'
and `bt'."""

    def __init__(self):
        super().__init__("coroutine", gdb.COMMAND_STACK, gdb.COMPLETE_EXPRESSION)

    def invoke(self, arg, from_tty):
        try:
            words = arg.split()
            if not words:
                raise GortError("usage: coroutine ID [bt]  (see `help coroutine')")
            bt = words[-1] in ("bt", "backtrace", "where")
            expr = " ".join(words[:-1] if bt else words)
            if not expr:
                raise GortError("usage: coroutine ID [bt]  (see `help coroutine')")
            rt = _runtime()
            if rt is None:
                return
            threads = Threads()
            everyone = rt.coroutines(live_only=False)
            if expr == "all":
                live = [c for c in everyone if c.state in ("RUNNABLE", "RUNNING", "WAITING")]
                for c in live:
                    self._show(rt, threads, c, bt)
                return
            want = _parse_id(expr)
            live = [c for c in everyone if c.id == want and
                    c.state in ("RUNNABLE", "RUNNING", "WAITING")]
            if not live:
                if any(c.id == want for c in everyone):
                    raise GortError("coroutine %d has ended" % want)
                raise GortError("no coroutine %d (see `info coroutines')" % want)
            self._show(rt, threads, live[0], bt)
        except (GortError, gdb.MemoryError) as e:
            raise gdb.GdbError(str(e))

    @staticmethod
    def _show(rt, threads, c, bt):
        if bt:
            _print_bt(rt, threads, c)
            print()
            return
        where = c.reason or c.state.lower()
        print('coroutine %d%s [%s]' % (c.id, ' "%s"' % c.name if c.name else "", where))
        if c.state == "WAITING" and c.wait_file:
            print("\tblocked at %s" % _site(c.wait_file, c.wait_line))
        th = _thread_of(rt, threads, c)
        if th is not None:
            print("\trunning on thread %d" % th.num)
        print(_created_by(c))


InfoCoroutines()
Coroutine()
