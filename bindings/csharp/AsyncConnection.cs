// AsyncConnection.cs - a TCP connection and a listener of an AsyncEngine, as
// Tasks. The pump (AsyncEngine.cs) feeds them events under AsyncEngine.Sync;
// their methods take the same lock, so a task is registered and completed
// under one lock and completes once.

using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;

namespace Net
{
    /// <summary>A connection of an AsyncEngine. ReceiveAsync yields its
    /// messages (whole ones with a framing), SendAsync queues and honours the
    /// high-water mark, Closed completes with the close reason.</summary>
    public sealed class AsyncConnection
    {
        readonly AsyncEngine owner;
        // Messages the pump took that no ReceiveAsync asked for yet.
        readonly Queue<byte[]> received = new Queue<byte[]>();
        readonly LinkedList<TaskCompletionSource<byte[]>> receivers = new LinkedList<TaskCompletionSource<byte[]>>();
        readonly List<TaskCompletionSource<bool>> drainWaiters = new List<TaskCompletionSource<bool>>();
        readonly TaskCompletionSource<int> closed = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        TaskCompletionSource<AsyncConnection> connecting;
        bool ended;    // no more data: the peer's FIN (half-open), or closed
        bool isClosed; // its CLOSE came (or the engine went)
        Exception closeError;

        internal AsyncConnection(AsyncEngine owner, ulong handle)
        {
            this.owner = owner;
            Handle = handle;
        }

        public ulong Handle { get; private set; }

        /// <summary>Completes once, with the CLOSE event's status (0 for an
        /// orderly close, else a NetError such as Reset).</summary>
        public Task<int> Closed { get { return closed.Task; } }

        public NetAddr PeerAddr { get { return NetApi.PeerAddr(Handle); } }

        /// <summary>The next message; null once the connection has ended (its
        /// CLOSE, the peer's FIN with half-open, the engine closed). Messages
        /// wait here until asked for. Cancelling gives up waiting; no message
        /// is lost by it.</summary>
        public Task<byte[]> ReceiveAsync(CancellationToken cancel = default(CancellationToken))
        {
            lock (owner.Sync) {
                if (received.Count > 0)
                    return Task.FromResult(received.Dequeue());
                if (ended)
                    return Task.FromResult<byte[]>(null);
                if (cancel.IsCancellationRequested)
                    return Canceled<byte[]>(cancel);
                var r = new TaskCompletionSource<byte[]>(TaskCreationOptions.RunContinuationsAsynchronously);
                LinkedListNode<TaskCompletionSource<byte[]>> node = receivers.AddLast(r);
                if (cancel.CanBeCanceled)
                    OnCancel(r.Task, cancel, () => {
                        if (node.List != null) {
                            receivers.Remove(node);
                            r.TrySetCanceled(cancel);
                        }
                    });
                return r.Task;
            }
        }

        /// <summary>SendAsync of the whole array.</summary>
        public Task SendAsync(byte[] data, CancellationToken cancel = default(CancellationToken))
        {
            Args.NotNull(data, "data");
            return SendAsync(data, 0, data.Length, cancel);
        }

        /// <summary>Queues data[offset .. offset + count) (one message with a
        /// framing) and completes at once while the connection's send queue
        /// is at or under its high-water mark (NetOption.Highwater); past it,
        /// once the queue drained to the low-water mark (SEND_DRAINED,
        /// NetOption.Lowwater) and is under the high one. When the send
        /// cap is full the message waits for that drain before it is queued.
        /// Cancelling gives up waiting: a message already queued still goes
        /// out. Fails with NetException(Closed) when the connection closes
        /// first, WouldBlock when the message cannot fit the send cap beside
        /// what is queued while the queue is under the mark (no drain is
        /// coming).</summary>
        public async Task SendAsync(byte[] data, int offset, int count, CancellationToken cancel)
        {
            Args.NotNull(data, "data");
            Args.Slice(data.Length, offset, count);
            for (;;) {
                bool queued;
                Task drained;
                lock (owner.Sync) {
                    if (isClosed)
                        throw closeError ?? new NetException((int)NetError.Closed, "send");
                    int rc = Queue(data, offset, count);
                    if (rc == (int)NetError.BadHandle) // closed; the pump has not seen its CLOSE yet
                        throw new NetException((int)NetError.Closed, "send");
                    queued = rc == 0;
                    bool over = OverHighwater();
                    if (queued && !over)
                        return;
                    if (!queued && (rc != (int)NetError.WouldBlock || !over))
                        throw new NetException(rc, "send");
                    var w = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
                    drainWaiters.Add(w);
                    drained = w.Task;
                    if (cancel.CanBeCanceled)
                        OnCancel(w.Task, cancel, () => {
                            if (drainWaiters.Remove(w))
                                w.TrySetCanceled(cancel);
                        });
                }
                await drained.ConfigureAwait(false);
                if (queued)
                    return;
            }
        }

        unsafe int Queue(byte[] data, int offset, int count)
        {
            fixed (byte* p = data)
                return Native.net_send(Handle, p + offset, (uint)count);
        }

        // Past the high-water mark; false once the handle is gone (its CLOSE
        // is on its way): the pump must never throw.
        bool OverHighwater()
        {
            ulong queued;
            long mark;
            return Native.net_send_queued(Handle, out queued) == 0 &&
                   Native.net_get_option(Handle, (int)NetOption.Highwater, out mark) == 0 && queued > (ulong)mark;
        }

        /// <summary>Graceful close: what is queued goes out first; Closed
        /// completes with the CLOSE. Nothing happens once closed.</summary>
        public void Close()
        {
            lock (owner.Sync) {
                if (!isClosed)
                    NetApi.Close(Handle);
            }
        }

        /// <summary>Abortive close (RST), nothing more goes out.</summary>
        public void Abort()
        {
            lock (owner.Sync) {
                if (!isClosed)
                    NetApi.Abort(Handle);
            }
        }

        // ---- from the pump, with Sync held ----

        internal void StartConnecting(TaskCompletionSource<AsyncConnection> done, CancellationToken cancel)
        {
            connecting = done;
            if (cancel.CanBeCanceled)
                OnCancel(done.Task, cancel, () => {
                    if (connecting == done && done.TrySetCanceled(cancel)) {
                        connecting = null;
                        Native.net_abort(Handle); // its CLOSE follows; a stale handle is fine
                    }
                });
        }

        internal void OnConnect(int status, int osError)
        {
            TaskCompletionSource<AsyncConnection> done = connecting;
            connecting = null;
            if (done == null)
                return; // cancelled
            if (status == 0)
                done.TrySetResult(this);
            else
                done.TrySetException(new NetException(status, "connect", osError));
        }

        internal void OnData(byte[] message)
        {
            while (receivers.Count > 0) {
                TaskCompletionSource<byte[]> r = receivers.First.Value;
                receivers.RemoveFirst();
                if (r.TrySetResult(message))
                    return;
            }
            received.Enqueue(message);
        }

        internal void OnEof()
        {
            ended = true;
            while (receivers.Count > 0) {
                receivers.First.Value.TrySetResult(null);
                receivers.RemoveFirst();
            }
        }

        // A DRAINED: its waiters go at the end of the pump's turn
        // (CompleteDrain), so a CLOSE in the same turn (a reset drops the
        // queue, which reads as drained) fails them instead.
        internal bool OnDrained()
        {
            return drainWaiters.Count > 0;
        }

        // Waiters go on a drain that left the queue at or under the mark: one
        // polled after more was queued is followed by another crossing.
        internal void CompleteDrain()
        {
            if (isClosed || OverHighwater())
                return;
            foreach (TaskCompletionSource<bool> w in drainWaiters)
                w.TrySetResult(true);
            drainWaiters.Clear();
        }

        internal void OnClose(int status, int osError)
        {
            Finish(status, new NetException(status != 0 ? status : (int)NetError.Closed, "connection closed", osError));
        }

        internal void OnEngineGone(Exception why)
        {
            Finish((int)NetError.Aborted, why);
        }

        void Finish(int status, Exception why)
        {
            isClosed = true;
            closeError = why;
            OnEof();
            if (connecting != null)
                OnConnect(status != 0 ? status : (int)NetError.Closed, 0);
            foreach (TaskCompletionSource<bool> w in drainWaiters)
                w.TrySetException(why);
            drainWaiters.Clear();
            closed.TrySetResult(status);
        }

        // ---- shared with AsyncListener ----

        internal static Task<T> Canceled<T>(CancellationToken cancel)
        {
            var t = new TaskCompletionSource<T>();
            t.TrySetCanceled(cancel);
            return t.Task;
        }

        // undo (under the engine's lock) when cancel fires before task ends.
        // The registration goes with the task, on a pool thread: disposing
        // it waits for a callback under way, which may wait for the lock the
        // pump holds while it completes the task.
        internal static void OnCancel(Task task, CancellationToken cancel, Action undo, object sync)
        {
            CancellationTokenRegistration reg = cancel.Register(() => {
                lock (sync)
                    undo();
            });
            task.ContinueWith(_ => reg.Dispose(), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously,
                              TaskScheduler.Default);
        }

        void OnCancel(Task task, CancellationToken cancel, Action undo)
        {
            OnCancel(task, cancel, undo, owner.Sync);
        }
    }

    /// <summary>A listener of an AsyncEngine: AcceptAsync takes its connections.</summary>
    public sealed class AsyncListener
    {
        readonly AsyncEngine owner;
        readonly Queue<AsyncConnection> accepted = new Queue<AsyncConnection>();
        readonly LinkedList<TaskCompletionSource<AsyncConnection>> acceptors =
            new LinkedList<TaskCompletionSource<AsyncConnection>>();
        Exception closedBy;

        internal AsyncListener(AsyncEngine owner, ulong handle)
        {
            this.owner = owner;
            Handle = handle;
        }

        public ulong Handle { get; private set; }

        /// <summary>Where it listens (the port picked for port 0).</summary>
        public NetAddr LocalAddr { get { return NetApi.LocalAddr(Handle); } }

        /// <summary>The next accepted connection. Connections accepted before
        /// anyone asked wait here. Fails once the listener is closed.</summary>
        public Task<AsyncConnection> AcceptAsync(CancellationToken cancel = default(CancellationToken))
        {
            lock (owner.Sync) {
                if (accepted.Count > 0)
                    return Task.FromResult(accepted.Dequeue());
                if (closedBy != null) {
                    var failed = new TaskCompletionSource<AsyncConnection>();
                    failed.TrySetException(closedBy);
                    return failed.Task;
                }
                if (cancel.IsCancellationRequested)
                    return AsyncConnection.Canceled<AsyncConnection>(cancel);
                var a = new TaskCompletionSource<AsyncConnection>(TaskCreationOptions.RunContinuationsAsynchronously);
                LinkedListNode<TaskCompletionSource<AsyncConnection>> node = acceptors.AddLast(a);
                if (cancel.CanBeCanceled)
                    AsyncConnection.OnCancel(a.Task, cancel, () => {
                        if (node.List != null) {
                            acceptors.Remove(node);
                            a.TrySetCanceled(cancel);
                        }
                    }, owner.Sync);
                return a.Task;
            }
        }

        /// <summary>Stops listening; pending AcceptAsync calls fail.</summary>
        public void Close()
        {
            lock (owner.Sync) {
                if (closedBy == null)
                    NetApi.Close(Handle);
            }
        }

        internal void OnAccepted(AsyncConnection c)
        {
            while (acceptors.Count > 0) {
                TaskCompletionSource<AsyncConnection> a = acceptors.First.Value;
                acceptors.RemoveFirst();
                if (a.TrySetResult(c))
                    return;
            }
            accepted.Enqueue(c);
        }

        internal void OnClose(Exception why)
        {
            closedBy = why;
            foreach (TaskCompletionSource<AsyncConnection> a in acceptors)
                a.TrySetException(why);
            acceptors.Clear();
        }
    }
}
