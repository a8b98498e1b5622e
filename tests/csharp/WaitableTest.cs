// WaitableTest.cs - Engine.Waitable: the engine driven only through its
// descriptor, as another loop would: poll(2) it (Mono.Posix) until ready,
// then Poll(events, 0) until fewer than events.Length come back; no Poll
// ever waits. Posts from another thread all arrive in order, a timer
// fires, and drained it is not ready (one spurious readiness allowed).
// The same value twice; a closed engine throws ObjectDisposedException.
// NET_BACKEND (honoured by the library) and NET_TEST_IO_THREADS pick the mode.

using System;
using System.Diagnostics;
using System.Threading;
using Mono.Unix.Native;
using Net;

static class WaitableTest
{
    const int Max = 4; // small, so draining takes several polls
    const int Posts = 2000;

    static bool Ready(IntPtr fd, int timeoutMs)
    {
        var p = new Pollfd[] { new Pollfd { fd = (int)fd, events = PollEvents.POLLIN } };
        int n = Syscall.poll(p, 1, timeoutMs);
        TestUtil.Check(n >= 0 && (p[0].revents & PollEvents.POLLNVAL) == 0, "poll(2) on the waitable");
        return n == 1;
    }

    static int Drain(Engine eng, Action<NetEvent> each)
    {
        var evs = new NetEvent[Max];
        int total = 0, n;
        do {
            n = eng.Poll(evs, 0);
            for (int i = 0; i < n; i++)
                each(evs[i]);
            total += n;
        } while (n == Max);
        return total;
    }

    static void Quiet(Engine eng, IntPtr fd)
    {
        TestUtil.Check(Drain(eng, e => { throw new Exception("unexpected " + e.Type); }) == 0, "nothing left");
        if (!Ready(fd, 0))
            return;
        TestUtil.Check(Drain(eng, e => { throw new Exception("unexpected " + e.Type); }) == 0, "spurious: nothing");
        TestUtil.Check(!Ready(fd, 0), "ready twice with nothing to poll");
    }

    static int Main()
    {
        uint io = uint.Parse(Environment.GetEnvironmentVariable("NET_TEST_IO_THREADS") ?? "0");
        var eng = new Engine(Backend.Auto, io);
        IntPtr fd = eng.Waitable;
        TestUtil.Check(eng.Waitable == fd, "the same value twice");
        TestUtil.Check(Ready(fd, 0), "ready when first handed out");
        Quiet(eng, fd);

        var poster = new Thread(() => {
            for (int i = 0; i < Posts; i++)
                eng.Post((ulong)i);
        });
        poster.Start();
        int seen = 0;
        var sw = Stopwatch.StartNew();
        while (seen < Posts) {
            TestUtil.Check(sw.ElapsedMilliseconds < 5000 && Ready(fd, 5000), "ready for every post");
            Drain(eng, e => {
                TestUtil.Check(e.Type == EventType.User && e.User == (ulong)seen, "post " + seen + " in order");
                seen++;
            });
        }
        poster.Join();
        Quiet(eng, fd);

        ulong timer = eng.StartTimer(20, 0, 5);
        bool fired = false;
        while (!fired) {
            TestUtil.Check(sw.ElapsedMilliseconds < 10000 && Ready(fd, 5000), "ready for the timer");
            Drain(eng, e => fired |= e.Type == EventType.Timer && e.Handle == timer);
        }
        Quiet(eng, fd);

        eng.Close();
        TestUtil.Throws<ObjectDisposedException>(() => { IntPtr w = eng.Waitable; }, "Waitable after Close");
        Console.WriteLine("waitable: ok (" + Posts + " posts, io_threads=" + io + ")");
        return 0;
    }
}
