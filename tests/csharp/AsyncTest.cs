// AsyncTest.cs - the async layer (AsyncEngine, AsyncConnection,
// AsyncListener, EventStream) under Mono, with await throughout:
//   echo:        an async echo server (AcceptAsync, ReceiveAsync, SendAsync)
//                and three clients in one program, 200 framed messages each,
//                every reply the message sent;
//   cancel:      ReceiveAsync and AcceptAsync time out (CancellationToken)
//                and lose nothing: the message sent afterwards arrives; a
//                connect to a closed port fails with Refused, a cancelled one
//                is cancelled;
//   backpressure: against a peer that does not read, SendAsync stays
//                pending once the queue passes the high-water mark and
//                completes when it drained (SEND_DRAINED, the low-water
//                mark) once the peer reads;
//   close:       three pending receives, a pending send and Closed each
//                complete exactly once when the peer aborts; Close with an
//                accept and a read of Events pending completes them once;
//   events:      posts from another thread and a timer through Events.
// NET_BACKEND (honoured by the library) and NET_TEST_IO_THREADS pick the mode.

using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Net;

static class AsyncTest
{
    static uint io;
    const int Bound = 10000; // ms: every wait of the test

    static void Check(bool ok, string what) { TestUtil.Check(ok, what); }

    // t, or a failure naming what did not finish within Bound.
    static async Task<T> Within<T>(Task<T> t, string what)
    {
        if (await Task.WhenAny(t, Task.Delay(Bound)).ConfigureAwait(false) != t)
            throw new Exception("timed out: " + what);
        return await t.ConfigureAwait(false);
    }

    static async Task Within(Task t, string what)
    {
        if (await Task.WhenAny(t, Task.Delay(Bound)).ConfigureAwait(false) != t)
            throw new Exception("timed out: " + what);
        await t.ConfigureAwait(false);
    }

    static async Task<T> Throws<T>(Task t, string what) where T : Exception
    {
        try {
            await Within(t, what).ConfigureAwait(false);
        } catch (T e) {
            return e;
        } catch (Exception e) {
            throw new Exception(what + ": expected " + typeof(T).Name + ", got " + e.GetType().Name + ": " + e.Message);
        }
        throw new Exception(what + ": expected " + typeof(T).Name + ", it completed");
    }

    // ---- echo ----

    static async Task EchoServe(AsyncConnection c)
    {
        byte[] m;
        while ((m = await c.ReceiveAsync().ConfigureAwait(false)) != null)
            await c.SendAsync(m).ConfigureAwait(false);
    }

    static async Task EchoAccept(AsyncListener l, int clients, List<Task> served)
    {
        for (int i = 0; i < clients; i++)
            served.Add(EchoServe(await l.AcceptAsync().ConfigureAwait(false)));
    }

    static async Task<int> EchoClient(AsyncEngine eng, ushort port, int id)
    {
        AsyncConnection c = await eng.ConnectAsync("127.0.0.1", port, Framing.U16LE).ConfigureAwait(false);
        for (int i = 0; i < 200; i++) {
            byte[] sent = Encoding.ASCII.GetBytes("client " + id + " message " + i + new string('x', i));
            await c.SendAsync(sent).ConfigureAwait(false);
            byte[] back = await Within(c.ReceiveAsync(), "echo " + i).ConfigureAwait(false);
            Check(back != null && Encoding.ASCII.GetString(back) == Encoding.ASCII.GetString(sent), "echo " + id + "/" + i);
        }
        c.Close();
        Check(await Within(c.Closed, "client close").ConfigureAwait(false) == 0, "orderly close");
        Check(await c.ReceiveAsync().ConfigureAwait(false) == null, "null after close");
        return 200;
    }

    static async Task Echo()
    {
        using (var eng = new AsyncEngine(Backend.Auto, io)) {
            AsyncListener l = eng.Listen("127.0.0.1", 0, Framing.U16LE);
            ushort port = l.LocalAddr.Port;
            var served = new List<Task>();
            Task accepting = EchoAccept(l, 3, served);
            int[] counts = await Within(Task.WhenAll(EchoClient(eng, port, 1), EchoClient(eng, port, 2),
                                                     EchoClient(eng, port, 3)), "clients").ConfigureAwait(false);
            await Within(accepting, "accepts").ConfigureAwait(false);
            await Within(Task.WhenAll(served), "servers see the end").ConfigureAwait(false);
            Check(counts[0] + counts[1] + counts[2] == 600, "600 echoes");
        }
    }

    // ---- cancellation, timeouts, refused ----

    static async Task Cancel()
    {
        using (var eng = new AsyncEngine(Backend.Auto, io)) {
            AsyncListener l = eng.Listen("127.0.0.1", 0, Framing.U16LE);
            ushort port = l.LocalAddr.Port;
            using (var t = new CancellationTokenSource(50))
                await Throws<OperationCanceledException>(l.AcceptAsync(t.Token), "accept times out").ConfigureAwait(false);
            Task<AsyncConnection> accepted = l.AcceptAsync();
            AsyncConnection c = await Within(eng.ConnectAsync("127.0.0.1", port, Framing.U16LE), "connect").ConfigureAwait(false);
            AsyncConnection s = await Within(accepted, "accept").ConfigureAwait(false);
            using (var t = new CancellationTokenSource(50))
                await Throws<OperationCanceledException>(s.ReceiveAsync(t.Token), "receive times out").ConfigureAwait(false);
            await c.SendAsync(Encoding.ASCII.GetBytes("after")).ConfigureAwait(false);
            byte[] got = await Within(s.ReceiveAsync(), "the message after a timeout").ConfigureAwait(false);
            Check(got != null && Encoding.ASCII.GetString(got) == "after", "nothing lost to the cancelled receive");

            // A port nobody listens on: Refused.
            AsyncListener gone = eng.Listen("127.0.0.1", 0);
            ushort closedPort = gone.LocalAddr.Port;
            gone.Close();
            await Throws<NetException>(gone.AcceptAsync(), "accept on a closed listener").ConfigureAwait(false);
            NetException refused = await Throws<NetException>(eng.ConnectAsync("127.0.0.1", closedPort), "refused").ConfigureAwait(false);
            Check(refused.Code == NetError.Refused, "Refused, got " + refused.Code);
            using (var t = new CancellationTokenSource()) {
                t.Cancel();
                await Throws<OperationCanceledException>(eng.ConnectAsync("127.0.0.1", port, Framing.U16LE, TcpFlags.None, 0, t.Token),
                                                         "connect with a cancelled token").ConfigureAwait(false);
            }
        }
    }

    // ---- backpressure ----

    // Sends 64 KiB messages to a peer that reads nothing until one SendAsync
    // stays pending for 200 ms: the queue is past the mark and the kernel's
    // buffers (made small) are full, so no drain is on its way. At most
    // 64 MiB before the test gives up.
    static async Task<Task> SendUntilStuck(AsyncConnection s)
    {
        NetApi.SetOption(s.Handle, NetOption.SndBuf, 16 * 1024);
        var chunk = new byte[64 * 1024];
        for (int i = 0; i < 1024; i++) {
            Task t = s.SendAsync(chunk);
            if (await Task.WhenAny(t, Task.Delay(t.IsCompleted ? 0 : 200)).ConfigureAwait(false) != t)
                return t;
            await t.ConfigureAwait(false);
        }
        throw new Exception("no send ever waited: 64 MiB went to a peer that reads nothing");
    }

    // The peer: io_threads 0 and not polled from here on, so it reads nothing.
    static ulong SilentPeer(Engine peer, AsyncListener l)
    {
        ulong pc = peer.Connect("127.0.0.1", l.LocalAddr.Port, Framing.U32LE);
        TestUtil.WaitFor(peer, e => e.Type == EventType.Connect && e.Handle == pc);
        NetApi.SetOption(pc, NetOption.RcvBuf, 16 * 1024);
        return pc;
    }

    static async Task Backpressure()
    {
        NetConfig cfg = Engine.DefaultConfig();
        cfg.IoThreads = io;
        cfg.SendHighwater = 256 * 1024;
        cfg.SendLowwater = 64 * 1024;
        using (var eng = new AsyncEngine(cfg))
        using (var peer = new Engine(Backend.Auto, 0)) {
            AsyncListener l = eng.Listen("127.0.0.1", 0, Framing.U32LE);
            Task<AsyncConnection> accepted = l.AcceptAsync();
            SilentPeer(peer, l);
            AsyncConnection s = await Within(accepted, "accept").ConfigureAwait(false);
            Task pending = await SendUntilStuck(s).ConfigureAwait(false);
            ulong queued = NetApi.SendQueued(s.Handle);
            // Past the high-water mark, then no lower than the low-water mark
            // (SEND_DRAINED's) while the peer does not read.
            Check(queued > cfg.SendLowwater, "waiting means not drained: " + queued);
            await Task.Delay(50).ConfigureAwait(false);
            Check(!pending.IsCompleted, "still waiting while the peer does not read");

            // The peer reads again: the queue drains and the send completes.
            var evs = new NetEvent[64];
            long read = 0;
            var sw = Stopwatch.StartNew();
            while (!pending.IsCompleted && sw.ElapsedMilliseconds < Bound) {
                int n = peer.Poll(evs, 10);
                for (int i = 0; i < n; i++)
                    if (evs[i].Type == EventType.Data)
                        read += evs[i].Len;
            }
            await Within(pending, "the send after the drain").ConfigureAwait(false);
            Check(NetApi.SendQueued(s.Handle) <= cfg.SendHighwater, "completed at or under the mark");
            Check(read > 0, "the peer read");
        }
    }

    // ---- exactly once at close ----

    static int completions;

    static Task Count(Task t)
    {
        return t.ContinueWith(_ => Interlocked.Increment(ref completions), TaskScheduler.Default);
    }

    static async Task CloseOnce()
    {
        NetConfig cfg = Engine.DefaultConfig();
        cfg.IoThreads = io;
        cfg.SendHighwater = 64 * 1024;
        cfg.SendLowwater = 16 * 1024;
        using (var eng = new AsyncEngine(cfg))
        using (var peer = new Engine(Backend.Auto, 0)) {
            AsyncListener l = eng.Listen("127.0.0.1", 0, Framing.U32LE);
            Task<AsyncConnection> accepted = l.AcceptAsync();
            ulong pc = SilentPeer(peer, l);
            AsyncConnection s = await Within(accepted, "accept").ConfigureAwait(false);
            var receives = new[] { s.ReceiveAsync(), s.ReceiveAsync(), s.ReceiveAsync() };
            Task send = await SendUntilStuck(s).ConfigureAwait(false);
            completions = 0;
            var counted = new List<Task>();
            foreach (Task r in receives)
                counted.Add(Count(r));
            counted.Add(Count(send));
            counted.Add(Count(s.Closed));
            NetApi.Abort(pc);
            TestUtil.WaitFor(peer, e => e.Type == EventType.Close && e.Handle == pc);
            await Within(Task.WhenAll(counted), "every pending task completes at close").ConfigureAwait(false);
            await Task.Delay(20).ConfigureAwait(false); // a second completion would show here
            Check(completions == 5, "five completions, got " + completions);
            foreach (Task<byte[]> r in receives)
                Check(r.Status == TaskStatus.RanToCompletion && r.Result == null, "a receive ends with null");
            // The reset dropped the queue: the waiting send either failed
            // with the close or (its DRAINED polled a turn before the CLOSE)
            // completed; once either way.
            Check(send.Status == TaskStatus.RanToCompletion ||
                  (send.IsFaulted && send.Exception.InnerException is NetException), "the waiting send ended: " + send.Status);
            Check(s.Closed.Result != 0, "Closed carries the reset");
            Check(await s.ReceiveAsync().ConfigureAwait(false) == null, "a later receive ends at once");
            await Throws<NetException>(s.SendAsync(new byte[1]), "a send after close").ConfigureAwait(false);

            Task<AsyncConnection> accept = l.AcceptAsync();
            Task<AsyncEvent> read = eng.Events.ReadAsync();
            int before = completions;
            counted = new List<Task> { Count(accept), Count(read) };
            eng.Close();
            await Within(Task.WhenAll(counted), "accept and read end with Close").ConfigureAwait(false);
            Check(completions == before + 2, "each once");
            await Throws<ObjectDisposedException>(accept, "accept after Close").ConfigureAwait(false);
            Check(read.Result == null, "Events ends");
            eng.Close(); // a second Close does nothing
            Throws<ObjectDisposedException>(() => eng.Listen("127.0.0.1", 0), "Listen after Close");
        }
    }

    static void Throws<T>(Action a, string what) where T : Exception { TestUtil.Throws<T>(a, what); }

    // ---- the event stream ----

    static async Task Events()
    {
        using (var eng = new AsyncEngine(Backend.Auto, io)) {
            const int posts = 500;
            var poster = new Thread(() => {
                for (int i = 0; i < posts; i++)
                    eng.Engine.Post((ulong)i);
            });
            poster.Start();
            IAsyncEnumerator<AsyncEvent> it = eng.Events.GetAsyncEnumerator();
            for (int i = 0; i < posts; i++) {
                Check(await Within(it.MoveNextAsync().AsTask(), "post " + i).ConfigureAwait(false), "more events");
                Check(it.Current.Type == EventType.User && it.Current.Event.User == (ulong)i, "post " + i + " in order");
            }
            poster.Join();
            ulong timer = eng.Engine.StartTimer(10, 0, 77);
            AsyncEvent te = await Within(eng.Events.ReadAsync(), "the timer").ConfigureAwait(false);
            Check(te.Type == EventType.Timer && te.Event.Handle == timer && te.Event.User == 77, "the timer's event");
            await it.DisposeAsync().ConfigureAwait(false);
        }
    }

    static int Main()
    {
        io = uint.Parse(Environment.GetEnvironmentVariable("NET_TEST_IO_THREADS") ?? "0");
        var parts = new KeyValuePair<string, Func<Task>>[] {
            new KeyValuePair<string, Func<Task>>("echo", Echo),
            new KeyValuePair<string, Func<Task>>("cancel", Cancel),
            new KeyValuePair<string, Func<Task>>("backpressure", Backpressure),
            new KeyValuePair<string, Func<Task>>("close", CloseOnce),
            new KeyValuePair<string, Func<Task>>("events", Events),
        };
        int failed = 0;
        foreach (var p in parts) {
            var sw = Stopwatch.StartNew();
            try {
                p.Value().GetAwaiter().GetResult();
                Console.WriteLine("ok   " + p.Key + " (" + sw.ElapsedMilliseconds + " ms)");
            } catch (Exception e) {
                failed++;
                Console.WriteLine("FAIL " + p.Key + ": " + e);
            }
        }
        Console.WriteLine("async: " + (parts.Length - failed) + " passed, " + failed + " failed (io_threads=" + io + ")");
        return failed == 0 ? 0 : 1;
    }
}
