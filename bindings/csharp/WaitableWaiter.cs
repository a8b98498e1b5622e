// WaitableWaiter.cs - blocks the pump's thread until an engine's waitable
// (net_engine_waitable) is ready. Windows: the event HANDLE, waited on as a
// WaitHandle the engine keeps owning. Linux: .NET and Mono have no way to
// wait on an arbitrary descriptor (no add_reader), so the pump is a
// dedicated thread blocked in poll(2), called through libc.so.6 by its
// exact name, which Mono and .NET both load.

using System;
using System.Runtime.InteropServices;
using System.Threading;
using Microsoft.Win32.SafeHandles;

namespace Net
{
    sealed class WaitableWaiter : IDisposable
    {
        // The event of a Windows engine, borrowed: disposing this does not close it.
        sealed class BorrowedEvent : WaitHandle
        {
            public BorrowedEvent(IntPtr handle) { SafeWaitHandle = new SafeWaitHandle(handle, false); }
        }

        [StructLayout(LayoutKind.Sequential)]
        struct PollFd
        {
            public int Fd;
            public short Events;
            public short Revents;
        }

        const short PollIn = 0x1;
        const int EIntr = 4;

        [DllImport("libc.so.6", SetLastError = true)]
        static extern int poll(ref PollFd fds, UIntPtr nfds, int timeoutMs);

        readonly IntPtr waitable;
        readonly BorrowedEvent windowsEvent;

        public WaitableWaiter(IntPtr waitable)
        {
            this.waitable = waitable;
            if (Environment.OSVersion.Platform == PlatformID.Win32NT)
                windowsEvent = new BorrowedEvent(waitable);
        }

        /// <summary>Returns once the waitable is ready (or spuriously).</summary>
        public void Wait()
        {
            if (windowsEvent != null) {
                windowsEvent.WaitOne();
                return;
            }
            var p = new PollFd { Fd = waitable.ToInt32(), Events = PollIn };
            // A signal (the runtime's own, a debugger's) cuts poll short: wait again.
            while (poll(ref p, (UIntPtr)1, -1) < 0) {
                int err = Marshal.GetLastWin32Error();
                if (err != EIntr)
                    throw new NetException((int)NetError.Os, "poll on the engine's waitable", err);
            }
        }

        public void Dispose()
        {
            if (windowsEvent != null)
                windowsEvent.Dispose();
        }
    }
}
