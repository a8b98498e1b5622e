// AsyncEngine.cs - an engine for async/await: Task-returning connect,
// accept, receive and send (AsyncConnection.cs), and an event stream
// (EventStream.cs) for everything those do not own.
//
// One pump per engine, a thread of its own ("net pump"), is the engine's
// only polling thread: it waits on the engine's waitable
// (net_engine_waitable, WaitableWaiter.cs), then polls with a zero timeout
// until a batch comes back short, and hands each event to the connection,
// listener or stream it belongs to. Calls net.h does not promise from any
// thread (listen, connect) run on the pump, queued and woken with
// net_wakeup. One lock (Sync) covers the pump's dispatch and every wrapper's
// state, so a task's registration and its completion never cross.
//
// Tasks are completed by the pump with RunContinuationsAsynchronously: no
// user code ever runs on the pump thread. An `await` resumes on the
// SynchronizationContext it started on (a UI or game main-thread context),
// or on the thread pool where there is none (ConfigureAwait(false) too).

using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;

namespace Net
{
    /// <summary>An engine whose events complete Tasks: ConnectAsync, Listen +
    /// AcceptAsync, AsyncConnection.ReceiveAsync / SendAsync, and Events for
    /// the rest. Dispose (or Close) stops the pump and closes the engine;
    /// every task still pending completes then, once.</summary>
    public sealed class AsyncEngine : IDisposable
    {
        const int Batch = 64;

        readonly Engine engine;
        readonly WaitableWaiter waiter;
        readonly Thread pump;
        readonly NetEvent[] batch = new NetEvent[Batch];
        // Run on the pump (true), or failed (false) when the engine closes first.
        readonly Queue<Action<bool>> commands = new Queue<Action<bool>>();
        readonly Dictionary<ulong, AsyncConnection> conns = new Dictionary<ulong, AsyncConnection>();
        readonly Dictionary<ulong, AsyncListener> listeners = new Dictionary<ulong, AsyncListener>();
        readonly EventStream events;
        // Connections that reported SEND_DRAINED this turn (AsyncConnection.OnDrained).
        readonly List<AsyncConnection> drained = new List<AsyncConnection>();
        bool closing; // under Sync: no new work; the pump stops
        bool closed;  // under Sync: Close ran
        Exception pumpFailure;

        // The one lock of the engine's async state (see the top of the file).
        internal readonly object Sync = new object();

        public AsyncEngine(Backend backend = Backend.Auto, uint ioThreads = 0) : this(new Engine(backend, ioThreads)) { }

        public AsyncEngine(NetConfig config) : this(new Engine(config)) { }

        AsyncEngine(Engine engine)
        {
            this.engine = engine;
            events = new EventStream(this);
            try {
                waiter = new WaitableWaiter(engine.Waitable);
                pump = new Thread(PumpMain) { IsBackground = true, Name = "net pump" };
                pump.Start();
            } catch {
                engine.Close();
                throw;
            }
        }

        /// <summary>The engine underneath, for Stats, BackendName, Post,
        /// StartTimer and UdpOpen (their events come through Events). Never
        /// Poll it: the pump does.</summary>
        public Engine Engine { get { return engine; } }

        /// <summary>Every event no AsyncConnection or AsyncListener owns:
        /// posts, timers, UDP, handles made on Engine directly.</summary>
        public EventStream Events { get { return events; } }

        // ---- commands the pump runs ----

        // fn on the pump thread, its result (or exception) as a Task.
        Task<T> OnPump<T>(Func<T> fn)
        {
            var tcs = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (Sync) {
                CheckOpen("AsyncEngine");
                commands.Enqueue(run => {
                    if (!run) {
                        tcs.TrySetException(new ObjectDisposedException("AsyncEngine", "the engine was closed"));
                        return;
                    }
                    try {
                        tcs.TrySetResult(fn());
                    } catch (Exception e) {
                        tcs.TrySetException(e);
                    }
                });
            }
            engine.Wakeup();
            return tcs.Task;
        }

        /// <summary>Connects; the task completes with the connection once its
        /// Connect event says so, or fails with the NetException it carries
        /// (Refused, TimedOut...). Cancelling aborts the attempt.</summary>
        public Task<AsyncConnection> ConnectAsync(string host, ushort port, Framing framing = Framing.Raw,
                                                  TcpFlags addFlags = TcpFlags.None, uint maxMessage = 0,
                                                  CancellationToken cancel = default(CancellationToken))
        {
            Args.NotNull(host, "host");
            Args.Defined(framing, "framing");
            var done = new TaskCompletionSource<AsyncConnection>(TaskCreationOptions.RunContinuationsAsynchronously);
            if (cancel.IsCancellationRequested) {
                done.TrySetCanceled(cancel);
                return done.Task;
            }
            // The pump makes the connection and registers it before it polls
            // again: its Connect event finds it.
            OnPump(() => {
                var c = new AsyncConnection(this, engine.Connect(host, port, framing, addFlags, maxMessage));
                conns.Add(c.Handle, c);
                c.StartConnecting(done, cancel);
                return c;
            }).ContinueWith(t => done.TrySetException(t.Exception.InnerExceptions), CancellationToken.None,
                            TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
            return done.Task;
        }

        /// <summary>ConnectAsync to "host:port" ("127.0.0.1:7000", "[::1]:7000").</summary>
        public Task<AsyncConnection> ConnectAsync(string address, Framing framing = Framing.Raw,
                                                  CancellationToken cancel = default(CancellationToken))
        {
            string host;
            ushort port;
            Address.Split(address, "address", out host, out port);
            return ConnectAsync(host, port, framing, TcpFlags.None, 0, cancel);
        }

        /// <summary>Listens (Engine.Listen's arguments); AcceptAsync takes the
        /// connections. Waits for the pump to open it.</summary>
        public AsyncListener Listen(string host, ushort port, Framing framing = Framing.Raw,
                                    TcpFlags addFlags = TcpFlags.None, uint maxMessage = 0)
        {
            Task<AsyncListener> t = OnPump(() => {
                var l = new AsyncListener(this, engine.Listen(host, port, framing, addFlags, maxMessage));
                listeners.Add(l.Handle, l);
                return l;
            });
            try {
                return t.Result;
            } catch (AggregateException e) {
                throw e.InnerExceptions.Count == 1 ? e.InnerException : e;
            }
        }

        // ---- the pump ----

        void PumpMain()
        {
            try {
                for (;;) {
                    waiter.Wait();
                    lock (Sync) {
                        if (closing)
                            return;
                        while (commands.Count > 0)
                            commands.Dequeue()(true);
                        // The waitable's rule: poll until a batch comes back short.
                        int n;
                        do {
                            n = engine.Poll(batch, 0);
                            for (int i = 0; i < n; i++)
                                Dispatch(ref batch[i]);
                        } while (n == Batch);
                        foreach (AsyncConnection d in drained)
                            d.CompleteDrain();
                        drained.Clear();
                    }
                }
            } catch (Exception e) {
                lock (Sync) {
                    pumpFailure = e;
                    FailEverything(e);
                }
            }
        }

        void Dispatch(ref NetEvent ev)
        {
            AsyncConnection c;
            AsyncListener l;
            switch (ev.Type) {
            case EventType.Accept:
                if (listeners.TryGetValue(ev.Parent, out l)) {
                    c = new AsyncConnection(this, ev.Handle);
                    conns.Add(c.Handle, c);
                    l.OnAccepted(c);
                    return;
                }
                break;
            case EventType.Connect:
                if (conns.TryGetValue(ev.Handle, out c)) {
                    c.OnConnect(ev.Status, ev.OsError);
                    return;
                }
                break;
            case EventType.Data:
            case EventType.Eof:
                if (conns.TryGetValue(ev.Handle, out c)) {
                    if (ev.Type == EventType.Data)
                        c.OnData(ev.CopyData());
                    else
                        c.OnEof();
                    return;
                }
                break;
            case EventType.SendDrained:
            case EventType.SendHighwater:
                if (conns.TryGetValue(ev.Handle, out c)) {
                    if (ev.Type == EventType.SendDrained && c.OnDrained())
                        drained.Add(c);
                    return;
                }
                break;
            case EventType.Close:
                if (conns.TryGetValue(ev.Handle, out c)) {
                    conns.Remove(ev.Handle);
                    c.OnClose(ev.Status, ev.OsError);
                    return;
                }
                if (listeners.TryGetValue(ev.Handle, out l)) {
                    listeners.Remove(ev.Handle);
                    l.OnClose(new NetException(ev.Status != 0 ? ev.Status : (int)NetError.Closed, "accept"));
                    return;
                }
                break;
            }
            events.Add(new AsyncEvent(ev, ev.Type == EventType.Data || ev.Type == EventType.Datagram ? ev.CopyData() : null));
        }

        // With Sync held: every pending task completes, once, and nothing new starts.
        void FailEverything(Exception why)
        {
            closing = true;
            foreach (AsyncConnection c in conns.Values)
                c.OnEngineGone(why);
            conns.Clear();
            foreach (AsyncListener l in listeners.Values)
                l.OnClose(why);
            listeners.Clear();
            while (commands.Count > 0)
                commands.Dequeue()(false);
            events.End(why is ObjectDisposedException ? null : why);
        }

        // With Sync held: what a call throws when the engine is closing or
        // its pump failed.
        void CheckOpen(string what)
        {
            if (pumpFailure != null)
                throw new InvalidOperationException(what + ": the engine's pump failed", pumpFailure);
            if (closing)
                throw new ObjectDisposedException("AsyncEngine", what + ": the engine is closed");
        }

        /// <summary>Stops the pump and closes the engine (every socket at
        /// once). Pending tasks complete: receives with null (the end),
        /// accepts, connects and sends waiting for the queue to drain with
        /// ObjectDisposedException; Events ends. A second Close does nothing.</summary>
        public void Close()
        {
            lock (Sync) {
                if (closed)
                    return;
                closed = closing = true;
            }
            engine.Wakeup();
            if (Thread.CurrentThread != pump)
                pump.Join();
            lock (Sync)
                FailEverything(new ObjectDisposedException("AsyncEngine", "the engine was closed"));
            waiter.Dispose();
            engine.Close();
        }

        public void Dispose() { Close(); }
    }
}
