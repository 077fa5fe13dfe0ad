"""cgrad.profiler: PyTorch's profiler API over cgrad's record_function ranges.

It records what autograd.profiler records: the ranges marked with
record_function, with wall time, nesting and self time. PyTorch's per-op rows
("aten::...") are not recorded (docs/profiler.md). schedule, step and
on_trace_ready work as PyTorch's; the arguments that ask for more than ranges
(record_shapes, profile_memory, with_stack, with_flops, with_modules, other
activities) are accepted and add nothing.
"""
import enum
import os
import socket
import time
import warnings

from cgrad.autograd import profiler as _legacy
from cgrad.autograd.profiler import DeviceType, ProfilerActivity, record_function

__all__ = ["profile", "schedule", "supported_activities", "tensorboard_trace_handler", "ProfilerAction",
           "ProfilerActivity", "kineto_available", "DeviceType", "record_function"]


class ProfilerAction(enum.Enum):
    """What a profiler does at one step of a schedule."""

    NONE = 0
    WARMUP = 1
    RECORD = 2
    RECORD_AND_SAVE = 3
    DEVICE_STOPPED = 4


def supported_activities():
    """The activities a profile can record here: the CPU's."""
    return {ProfilerActivity.CPU}


def kineto_available():
    return False


def schedule(*, wait, warmup, active, repeat=0, skip_first=0, skip_first_wait=0):
    """A step -> ProfilerAction function: skip_first idle steps, then cycles of wait idle, warmup and active
    recording steps (the last one saves the trace), repeat times (0: forever); skip_first_wait drops the
    first cycle's wait."""
    if not (wait >= 0 and warmup >= 0 and active > 0 and repeat >= 0 and skip_first >= 0):
        raise AssertionError(f"Invalid profiler schedule arguments. Got wait={wait} (need >= 0), warmup={warmup} "
                             f"(need >= 0), active={active} (need > 0), repeat={repeat} (need >= 0), "
                             f"skip_first={skip_first} (need >= 0).")
    if warmup == 0:
        warnings.warn("Profiler won't be using warmup, this can skew profiler results", stacklevel=2)

    def action(step):
        if step < skip_first:
            return ProfilerAction.NONE
        step -= skip_first
        if skip_first_wait:
            step += wait
        cycle = wait + warmup + active
        if repeat > 0 and step // cycle >= repeat:
            return ProfilerAction.NONE
        position = step % cycle
        if position < wait:
            return ProfilerAction.NONE
        if position < wait + warmup:
            return ProfilerAction.WARMUP
        return ProfilerAction.RECORD if position < cycle - 1 else ProfilerAction.RECORD_AND_SAVE
    return action


def _always_record(step):
    return ProfilerAction.RECORD


def tensorboard_trace_handler(dir_name, worker_name=None, use_gzip=False, use_python_export=False):
    """An on_trace_ready handler writing each trace to dir_name as <worker>.<ms time>.pt.trace.json[.gz]."""
    def handler(prof):
        os.makedirs(dir_name, exist_ok=True)
        worker = worker_name or f"{socket.gethostname()}_{os.getpid()}"
        name = f"{worker}.{time.time_ns() // 1_000_000}.pt.trace.json" + (".gz" if use_gzip else "")
        prof.export_chrome_trace(os.path.join(dir_name, name))
    return handler


class profile:
    """Records record_function ranges between start() and stop() (or in a with block), following schedule."""

    def __init__(self, *, activities=None, schedule=None, on_trace_ready=None, record_shapes=False,
                 profile_memory=False, with_stack=False, with_flops=False, with_modules=False,
                 experimental_config=None, execution_trace_observer=None, acc_events=False, use_cuda=None,
                 custom_trace_id_callback=None, post_processing_timeout_s=None):
        self.activities = set(activities) if activities is not None else supported_activities()
        self.schedule = schedule if schedule is not None else _always_record
        self.on_trace_ready = on_trace_ready
        self.record_shapes, self.profile_memory, self.with_stack = record_shapes, profile_memory, with_stack
        self.with_flops, self.with_modules, self.acc_events = with_flops, with_modules, acc_events
        self.step_num = 0
        self.current_action = self.schedule(self.step_num)
        self._collector = None
        self._events = None
        self._warned = False

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def _recording(self, action):
        return action in (ProfilerAction.RECORD, ProfilerAction.RECORD_AND_SAVE)

    def _begin(self):
        if self._collector is None:
            self._collector = _legacy._Collector()
            _legacy._collectors.append(self._collector)

    def _end(self):
        """Stop collecting; the trace so far becomes events() (added to the last one with acc_events)."""
        if self._collector is None:
            return
        _legacy._collectors.remove(self._collector)
        events = self._collector.finish()
        self._collector = None
        if self.acc_events and self._events is not None:
            events = _legacy.EventList(list(self._events) + list(events))
        self._events = events

    def start(self):
        if self._recording(self.current_action):
            self._begin()

    def stop(self):
        if self._collector is not None:
            self._end()
            if self.on_trace_ready is not None:
                self.on_trace_ready(self)

    def step(self):
        """Mark the end of one step: the schedule's next action starts or ends the recording."""
        previous = self.current_action
        self.step_num += 1
        self.current_action = self.schedule(self.step_num)
        if previous == ProfilerAction.RECORD_AND_SAVE or (self._recording(previous)
                                                          and not self._recording(self.current_action)):
            self._end()
            if previous == ProfilerAction.RECORD_AND_SAVE and self.on_trace_ready is not None:
                self.on_trace_ready(self)
        new_cycle = previous in (ProfilerAction.NONE, ProfilerAction.RECORD_AND_SAVE)
        if new_cycle and self.current_action != ProfilerAction.NONE and self._events is not None:
            if not self.acc_events and not self._warned:
                self._warned = True
                warnings.warn("Warning: Profiler clears events at the end of each cycle. Only events from the "
                              "current cycle will be reported. To keep events across cycles, set acc_events=True.",
                              stacklevel=2)
        if self._recording(self.current_action):
            self._begin()

    def events(self):
        """The recorded ranges (FunctionEvent), in the order they started."""
        if self._events is None:
            raise AssertionError("Profiler must be initialized before accessing events")
        return self._events

    def key_averages(self, group_by_input_shape=False, group_by_stack_n=0, group_by_overload_name=False):
        if self._events is None:
            raise AssertionError("Profiler must be initialized before getting key averages")
        return self._events.key_averages()

    def export_chrome_trace(self, path):
        if self._events is None:
            raise AssertionError("Profiler must be initialized before exporting chrome trace")
        self._events.export_chrome_trace(path)

    def export_stacks(self, path, metric="self_cpu_time_total"):
        raise NotImplementedError("export_stacks: cgrad's profiler records ranges, not Python or C stacks")

    def export_memory_timeline(self, path, device=None):
        raise NotImplementedError("export_memory_timeline: cgrad's profiler does not record memory")
