"""Publish and subscribe to ringsup events from Python (standard library only).

A daemon that ringsup runs finds the control socket in $RINGSUP_SOCKET, so
inside a daemon nothing needs configuring:

    import ringsup_events

    ringsup_events.emit("SELFPLAY_COMPLETED", games=100, model="m-0042")

    for event in ringsup_events.subscribe("TRAINING_COMPLETED"):
        print(event["daemon_type"], event["data"])

emit() publishes an event of one of the custom types the node declares
([events] types); ringsup sets its "daemon_type" to the daemon this process
belongs to. subscribe() yields every event of the given types (all types
when none are given), as dicts with "type", "timestamp", "daemon_type"
(absent when none) and, for custom events, "data". A refusal (an undeclared
type, data that is not JSON-serialisable into an object or is over 64 KiB,
the rate limit) raises RingsupError with ringsup's message.

This file is the whole client: copy it beside your daemon.
"""

import json
import os
import socket

__all__ = ["Client", "RingsupError", "emit", "subscribe"]

PROTOCOL_VERSION = 1


class RingsupError(Exception):
    """An error ringsup answered with, or a broken connection to it."""


class _Closed(RingsupError):
    """The supervisor closed the connection."""


class Client:
    """A connection to ringsup's control socket.

    path defaults to $RINGSUP_SOCKET. Emits reuse one connection (ringsup
    closes it after a minute of quiet; it is reopened when needed); it
    takes one of the supervisor's client slots (64) while open, so close()
    a Client that publishes rarely.
    timeout bounds connecting and each answer, in seconds. A Client is not
    safe to share between threads.
    """

    def __init__(self, path=None, timeout=10.0):
        path = path or os.environ.get("RINGSUP_SOCKET")
        if not path:
            raise RingsupError("no socket: pass path or set RINGSUP_SOCKET")
        self.path = path
        self.timeout = timeout
        self._sock = None
        self._file = None

    def _connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        try:
            s.connect(self.path)
        except OSError as e:
            s.close()
            raise RingsupError("cannot connect to %s: %s" % (self.path, e.strerror or e)) from e
        return s, s.makefile("rb")

    @staticmethod
    def _send(sock, request):
        line = json.dumps(request, separators=(",", ":"), ensure_ascii=False)
        sock.sendall(line.encode("utf-8") + b"\n")

    @staticmethod
    def _read(f):
        line = f.readline()
        if not line:
            raise _Closed("the supervisor closed the connection")
        answer = json.loads(line)
        if not answer.get("ok"):
            raise RingsupError(answer.get("error") or "refused")
        return answer

    def _round_trip(self, request):
        self._send(self._sock, request)
        self._read(self._file)

    def emit(self, event_type, data=None, as_daemon=None, **fields):
        """Publish an event of event_type with data (a dict) and fields.

        fields are merged over data. as_daemon names the source daemon; only
        root and the supervisor's user may, from outside any daemon.
        """
        payload = dict(data or {})
        payload.update(fields)
        request = {"v": PROTOCOL_VERSION, "cmd": "emit", "type": event_type, "data": payload}
        if as_daemon:
            request["as"] = as_daemon
        if self._sock is not None:
            try:
                return self._round_trip(request)
            except (OSError, _Closed):
                self.close()  # closed while idle: again on a new connection
        self._sock, self._file = self._connect()
        try:
            self._round_trip(request)
        except OSError as e:
            self.close()
            raise RingsupError("cannot publish: %s" % e) from e
        except _Closed:
            self.close()
            raise

    def subscribe(self, *types, daemons=()):
        """Yield the events of types (all when none) from daemons (all when
        none), as dicts, until the supervisor shuts down.

        Raises RingsupError if ringsup refuses the filter (an unknown type or
        daemon) or drops this subscriber for falling behind.
        """
        sock, f = self._connect()
        try:
            request = {"v": PROTOCOL_VERSION, "cmd": "events"}
            if types:
                request["types"] = list(types)
            if daemons:
                request["daemons"] = list(daemons)
            self._send(sock, request)
            self._read(f)
            sock.settimeout(None)  # events come when they come
            while True:
                answer = self._read(f)
                if answer.get("end"):
                    return
                if "event" in answer:
                    yield answer["event"]
        finally:
            f.close()
            sock.close()

    def close(self):
        """Close the emit connection."""
        if self._file is not None:
            self._file.close()
        if self._sock is not None:
            self._sock.close()
        self._sock = self._file = None


def emit(event_type, **data):
    """Publish an event of event_type with data on $RINGSUP_SOCKET, over a
    connection of its own (a Client keeps one, for many events)."""
    client = Client()
    try:
        client.emit(event_type, data)
    finally:
        client.close()


def subscribe(*types, daemons=()):
    """Yield the events of types (all when none) from $RINGSUP_SOCKET."""
    return Client().subscribe(*types, daemons=daemons)


if __name__ == "__main__":
    # python3 ringsup_events.py TYPE [KEY=VALUE ...]: publish, like ctl emit.
    import sys

    if len(sys.argv) < 2:
        sys.exit("usage: ringsup_events.py TYPE [KEY=VALUE ...]")
    try:
        emit(sys.argv[1], **dict(arg.split("=", 1) for arg in sys.argv[2:]))
    except RingsupError as e:
        sys.exit("ringsup_events: %s" % e)
