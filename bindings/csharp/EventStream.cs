// EventStream.cs - the events of an AsyncEngine that no AsyncConnection or
// AsyncListener owns (posts, timers, UDP, handles made on Engine directly),
// as an IAsyncEnumerable: `await foreach (AsyncEvent e in eng.Events)` with
// C# 8 and later. Mono's mcs stops at C# 7 (no await foreach, no async
// iterators) but its class library has the interfaces: there, ReadAsync, or
// GetAsyncEnumerator() and `while (await it.MoveNextAsync())`.

using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;

namespace Net
{
    /// <summary>One event with its payload copied (Event.Data is gone: it
    /// was valid until the pump's next poll).</summary>
    public sealed class AsyncEvent
    {
        internal AsyncEvent(NetEvent ev, byte[] data)
        {
            Event = ev;
            Data = data;
        }

        public NetEvent Event { get; private set; }
        public EventType Type { get { return Event.Type; } }

        /// <summary>The payload of a Data or Datagram event, else null.</summary>
        public byte[] Data { get; private set; }
    }

    /// <summary>The events no wrapper owns, in order. They wait here until
    /// read; the stream ends (ReadAsync gives null) when the engine closes.</summary>
    public sealed class EventStream : IAsyncEnumerable<AsyncEvent>
    {
        readonly AsyncEngine owner;
        readonly Queue<AsyncEvent> queue = new Queue<AsyncEvent>();
        readonly LinkedList<TaskCompletionSource<AsyncEvent>> readers = new LinkedList<TaskCompletionSource<AsyncEvent>>();
        bool ended;
        Exception failure;

        internal EventStream(AsyncEngine owner) { this.owner = owner; }

        /// <summary>The next event; null once the engine is closed; the
        /// pump's exception if it failed.</summary>
        public Task<AsyncEvent> ReadAsync(CancellationToken cancel = default(CancellationToken))
        {
            lock (owner.Sync) {
                if (queue.Count > 0)
                    return Task.FromResult(queue.Dequeue());
                if (failure != null) {
                    var failed = new TaskCompletionSource<AsyncEvent>();
                    failed.TrySetException(failure);
                    return failed.Task;
                }
                if (ended)
                    return Task.FromResult<AsyncEvent>(null);
                if (cancel.IsCancellationRequested)
                    return AsyncConnection.Canceled<AsyncEvent>(cancel);
                var r = new TaskCompletionSource<AsyncEvent>(TaskCreationOptions.RunContinuationsAsynchronously);
                LinkedListNode<TaskCompletionSource<AsyncEvent>> node = readers.AddLast(r);
                if (cancel.CanBeCanceled)
                    AsyncConnection.OnCancel(r.Task, cancel, () => {
                        if (node.List != null) {
                            readers.Remove(node);
                            r.TrySetCanceled(cancel);
                        }
                    }, owner.Sync);
                return r.Task;
            }
        }

        public IAsyncEnumerator<AsyncEvent> GetAsyncEnumerator(CancellationToken cancel = default(CancellationToken))
        {
            return new Enumerator(this, cancel);
        }

        sealed class Enumerator : IAsyncEnumerator<AsyncEvent>
        {
            readonly EventStream stream;
            readonly CancellationToken cancel;

            public Enumerator(EventStream stream, CancellationToken cancel)
            {
                this.stream = stream;
                this.cancel = cancel;
            }

            public AsyncEvent Current { get; private set; }

            public ValueTask<bool> MoveNextAsync()
            {
                return new ValueTask<bool>(Next());
            }

            async Task<bool> Next()
            {
                Current = await stream.ReadAsync(cancel).ConfigureAwait(false);
                return Current != null;
            }

            public ValueTask DisposeAsync() { return default(ValueTask); }
        }

        // ---- from the pump, with Sync held ----

        internal void Add(AsyncEvent ev)
        {
            while (readers.Count > 0) {
                TaskCompletionSource<AsyncEvent> r = readers.First.Value;
                readers.RemoveFirst();
                if (r.TrySetResult(ev))
                    return;
            }
            queue.Enqueue(ev);
        }

        internal void End(Exception why)
        {
            ended = true;
            failure = why;
            foreach (TaskCompletionSource<AsyncEvent> r in readers) {
                if (why != null)
                    r.TrySetException(why);
                else
                    r.TrySetResult(null);
            }
            readers.Clear();
        }
    }
}
