"""cgrad.autograd.profiler: PyTorch's profiler, for the ranges the user marks.

record_function(name) marks a range of code; a profile active around it
records the range's wall time, its nesting and its self time (its time minus
its children's). That is all it records: PyTorch's per-op rows ("aten::add")
come from hooks in its dispatcher, and cgrad's ops run without any check for a
profiler, so they cost nothing when none is active. record_function itself is
usable anywhere; with no profile active it only notes that none is.
"""
import gzip
import json
import operator
import os
import threading
from time import perf_counter_ns

__all__ = ["DeviceType", "EventList", "FunctionEvent", "FunctionEventAvg", "Interval", "ProfilerActivity", "profile",
           "record_function"]


class _BindingEnum:
    """An enum shaped like PyTorch's C++ enums: members by attribute, __members__, int(), name and value."""

    __slots__ = ("_value",)
    _NAMES = ()

    def __init__(self, value):
        self._value = operator.index(value)

    value = property(lambda self: self._value)
    name = property(lambda self: next((n for n, m in type(self).__members__.items() if m._value == self._value),
                                      "???"))

    def __int__(self):
        return self._value

    __index__ = __int__

    def __eq__(self, other):
        return type(other) is type(self) and other._value == self._value

    def __hash__(self):
        return self._value

    def __repr__(self):
        return f"<{type(self).__name__}.{self.name}: {self._value}>"

    def __str__(self):
        return f"{type(self).__name__}.{self.name}"

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.__members__ = {}
        for name, value in cls._NAMES:
            member = cls(value)
            setattr(cls, name, member)
            cls.__members__[name] = member


class ProfilerActivity(_BindingEnum):
    """The kinds of activity a profile can record: cgrad records CPU ranges only."""

    __slots__ = ()
    _NAMES = (("CPU", 0), ("XPU", 1), ("MTIA", 4), ("CUDA", 2), ("HPU", 3), ("PrivateUse1", 5))


class DeviceType(_BindingEnum):
    __slots__ = ()
    _NAMES = (("CPU", 0),)


def _format_time(us):
    if us >= 1e6:
        return f"{us / 1e6:.3f}s"
    if us >= 1e3:
        return f"{us / 1e3:.3f}ms"
    return f"{us:.3f}us"


class Interval:
    """A recorded range, start and end in microseconds."""

    def __init__(self, start, end):
        self.start, self.end = start, end

    def elapsed_us(self):
        return self.end - self.start


class _Times:
    """The printed forms of an event's times, shared by an event and a sum of events."""
    cpu_time_str = property(lambda self: _format_time(self.cpu_time))
    cpu_time_total_str = property(lambda self: _format_time(self.cpu_time_total))
    self_cpu_time_total_str = property(lambda self: _format_time(self.self_cpu_time_total))
    device_time_total = self_device_time_total = property(lambda self: 0.0)


class FunctionEvent(_Times):
    """One recorded record_function range."""

    def __init__(self, id, name, thread, start_us, end_us):
        self.id, self.name, self.thread = id, name, thread
        self.time_range = Interval(start_us, end_us)
        self.cpu_children = []
        self.cpu_parent = None
        self.count = 1
        self.input_shapes = []
        self.stack = []
        self.cpu_memory_usage = self.self_cpu_memory_usage = 0
        self.device_type = DeviceType.CPU
        self.is_user_annotation = True
        self.is_async = self.is_remote = self.is_legacy = False
        self.node_id = -1
        self.sequence_nr = -1
        self.overload_name = ""

    key = property(lambda self: self.name)
    cpu_time_total = property(lambda self: self.time_range.elapsed_us())
    cpu_time = property(lambda self: self.cpu_time_total / self.count)
    self_cpu_time_total = property(lambda self: self.cpu_time_total - sum(c.cpu_time_total for c in self.cpu_children))

    def __repr__(self):
        return (f"<FunctionEvent id={self.id} name={self.name} cpu_time={self.cpu_time_str} "
                f"start_us={self.time_range.start:.3f} end_us={self.time_range.end:.3f} "
                f"cpu_children={[c.id for c in self.cpu_children]} thread={self.thread}>")


class FunctionEventAvg(_Times):
    """The events of one key added up: count and total times."""

    def __init__(self):
        self.key = None
        self.count = 0
        self.cpu_time_total = 0.0
        self.self_cpu_time_total = 0.0
        self.input_shapes = None
        self.stack = None
        self.cpu_memory_usage = self.self_cpu_memory_usage = 0
        self.is_user_annotation = True
        self.device_type = DeviceType.CPU
        self.node_id = -1

    def add(self, other):
        if self.key is None:
            self.key, self.input_shapes, self.stack = other.key, other.input_shapes, other.stack
        elif other.key != self.key:
            raise AssertionError(f"other.key ({other.key}) must be equal to self.key ({self.key})")
        self.count += other.count
        self.cpu_time_total += other.cpu_time_total
        self.self_cpu_time_total += other.self_cpu_time_total
        return self

    __iadd__ = add
    cpu_time = property(lambda self: self.cpu_time_total / self.count if self.count else 0.0)

    def __repr__(self):
        return (f"<FunctionEventAvg key={self.key} self_cpu_time={self.self_cpu_time_total_str} "
                f"cpu_time={self.cpu_time_total_str}  input_shapes={self.input_shapes or ''} cpu_memory_usage=0>")


_COLUMNS = ("Self CPU %", "Self CPU", "CPU total %", "CPU total", "CPU time avg", "# of Calls")


class EventList(list):
    """A list of FunctionEvent (or FunctionEventAvg) with PyTorch's summaries."""

    def key_averages(self, group_by_input_shapes=False, group_by_stack_n=0, group_by_overload_name=False):
        averages = {}
        for event in self:
            averages.setdefault(event.key, FunctionEventAvg()).add(event)
        return EventList(averages.values())

    def total_average(self):
        total = FunctionEventAvg()
        for event in self:
            total.count += event.count
            total.cpu_time_total += event.cpu_time_total
            total.self_cpu_time_total += event.self_cpu_time_total
        total.key = "Total"
        return total

    @property
    def self_cpu_time_total(self):
        return sum(event.self_cpu_time_total for event in self)

    def table(self, sort_by=None, row_limit=100, max_src_column_width=75, max_name_column_width=55,
              max_shapes_column_width=80, header=None, top_level_events_only=False, time_unit=None):
        """PyTorch's text table of the events (its CPU columns), sorted by sort_by (descending)."""
        events = [e for e in self if not top_level_events_only or getattr(e, "cpu_parent", None) is None]
        if not events:
            return ""
        if sort_by is not None:
            events = sorted(events, key=lambda e: getattr(e, sort_by), reverse=True)
        events = events[:row_limit] if row_limit > 0 else events
        total = self.self_cpu_time_total
        name_width = min(max(len(e.key) for e in events), max_name_column_width) + 4
        widths = (name_width,) + (12,) * len(_COLUMNS)
        line = "".join("-" * w + "  " for w in widths)

        def row(cells):
            return "".join(f"{c:>{w}}  " for c, w in zip(cells, widths))

        def percent(us):
            return f"{100.0 * us / total:.2f}%" if total else "0.00%"
        rows = [row((e.key[:max_name_column_width], percent(e.self_cpu_time_total),
                     _format_time(e.self_cpu_time_total), percent(e.cpu_time_total),
                     _format_time(e.cpu_time_total), _format_time(e.cpu_time), str(e.count))) for e in events]
        lines = ([header, "=" * len(line)] if header else []) + [line, row(("Name",) + _COLUMNS), line] + rows
        return "\n".join(lines + [line, f"Self CPU time total: {_format_time(total)}"]) + "\n"

    def export_chrome_trace(self, path):
        """Write the events as a Chrome trace (JSON, complete events in microseconds) to path."""
        pid = os.getpid()
        trace = [{"ph": "X", "cat": "user_annotation", "name": e.name, "pid": pid, "tid": e.thread,
                  "ts": e.time_range.start, "dur": e.cpu_time_total, "args": {"External id": e.id}}
                 for e in self]
        opener = gzip.open if str(path).endswith(".gz") else open
        with opener(path, "wt") as f:
            json.dump({"schemaVersion": 1, "displayTimeUnit": "ms", "traceEvents": trace}, f)


# -- recording ---------------------------------------------------------------------------------------------------

# the collectors recording now; record_function reads this one list, so with none active a range costs an append
_collectors = []
_open = threading.local()  # per thread: the stack of ranges not yet closed


class _Collector:
    """The ranges closed while it is active, with their nesting."""

    def __init__(self):
        self.events = []

    def close(self, name, start_ns, end_ns):
        event = FunctionEvent(0, name, threading.get_native_id(), start_ns / 1e3, end_ns / 1e3)
        self.events.append(event)
        return event

    def finish(self):
        """The events in the order they started, numbered from 1 in that order, as PyTorch's."""
        events = sorted(self.events, key=lambda e: e.time_range.start)
        for number, event in enumerate(events, 1):
            event.id = number
        return EventList(events)


class record_function:
    """Context manager and decorator that marks a range of code for the profiler under the given name."""

    def __init__(self, name, args=None):
        self.name = name
        self.args = args
        self._start = None

    def __enter__(self):
        if _collectors:
            stack = getattr(_open, "stack", None)
            if stack is None:
                stack = _open.stack = []
            stack.append({})
            self._start = perf_counter_ns()
        return self

    def __exit__(self, *exc):
        if self._start is None:
            return False
        end = perf_counter_ns()
        stack = _open.stack
        children = stack.pop()  # collector -> the events of this range's children
        for collector in _collectors:
            event = collector.close(self.name, self._start, end)
            for child in children.get(collector, ()):
                child.cpu_parent = event
                event.cpu_children.append(child)
            if stack:
                stack[-1].setdefault(collector, []).append(event)
        self._start = None
        return False

    def __call__(self, fn):
        import functools

        @functools.wraps(fn)
        def wrapped(*args, **kwargs):
            with record_function(self.name, self.args):
                return fn(*args, **kwargs)
        return wrapped


class profile:
    """The legacy profiler: records the record_function ranges run while it is entered."""

    def __init__(self, enabled=True, *, use_cuda=False, use_device=None, record_shapes=False, with_flops=False,
                 profile_memory=False, with_stack=False, with_modules=False, use_kineto=False, use_cpu=True,
                 experimental_config=None, acc_events=False, custom_trace_id_callback=None,
                 post_processing_timeout_s=None, activity_filters=None):
        self.enabled = enabled
        self.record_shapes, self.profile_memory, self.with_stack = record_shapes, profile_memory, with_stack
        self.function_events = None
        self._collector = None

    def __enter__(self):
        if self.enabled:
            self._collector = _Collector()
            _collectors.append(self._collector)
        return self

    def __exit__(self, *exc):
        if self._collector is not None:
            _collectors.remove(self._collector)
            self.function_events = self._collector.finish()
            self._collector = None
        return False

    def _events(self):
        if self.function_events is None:
            raise RuntimeError("Profiler didn't finish running")
        return self.function_events

    def table(self, sort_by=None, row_limit=100, max_src_column_width=75, max_name_column_width=55,
              max_shapes_column_width=80, header=None, top_level_events_only=False):
        return self._events().table(sort_by=sort_by, row_limit=row_limit, max_src_column_width=max_src_column_width,
                                    max_name_column_width=max_name_column_width,
                                    max_shapes_column_width=max_shapes_column_width, header=header,
                                    top_level_events_only=top_level_events_only)

    def key_averages(self, group_by_input_shape=False, group_by_stack_n=0, group_by_overload_name=False):
        return self._events().key_averages()

    def total_average(self):
        return self._events().total_average()

    @property
    def self_cpu_time_total(self):
        return self._events().self_cpu_time_total

    def export_chrome_trace(self, path):
        self._events().export_chrome_trace(path)

    def __str__(self):
        return self.table()
