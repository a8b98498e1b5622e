// NetApi.cs - the checked calls that take a handle (no engine needed) and
// NetException, what every failed call throws. Wrong arguments are caught
// before the library sees them (Args.cs); addresses are accepted as net
// prints them (Address.cs).

using System;
using System.Runtime.InteropServices;

namespace Net
{
    /// <summary>A failed net call: Code is the NET_E_* value.</summary>
    public class NetException : Exception
    {
        public NetError Code { get; private set; }
        public int OsError { get; private set; }

        public NetException(int code, string context, int osError = 0)
            : base(string.Format("{0}: {1} ({2} {3}){4}", context, NetApi.StrError(code), (NetError)code, code,
                                 osError != 0 ? " [os error " + osError + "]" : ""))
        {
            Code = (NetError)code;
            OsError = osError;
        }
    }

    /// <summary>Checked calls that take a handle (no engine needed).</summary>
    public static unsafe class NetApi
    {
        /// <summary>net_version() of the loaded library: (major &lt;&lt; 16) | (minor &lt;&lt; 8) | patch.</summary>
        public static uint Version { get { return Native.net_version(); } }

        /// <summary>net_version_string() of the loaded library, "0.6.0".</summary>
        public static string VersionString { get { return Marshal.PtrToStringAnsi(Native.net_version_string()); } }

        public static string StrError(int code)
        {
            return Marshal.PtrToStringAnsi(Native.net_strerror(code));
        }

        /// <summary>Throws NetException for a negative rc; returns rc otherwise.</summary>
        public static int Check(int rc, string context)
        {
            if (rc < 0)
                throw new NetException(rc, context);
            return rc;
        }

        /// <summary>Check for the calls that set net_last_os_error (listen,
        /// connect, udp_open, udp_connect): the exception carries it in
        /// OsError, read at once on the calling thread, where the library
        /// keeps it.</summary>
        public static int CheckWithOsError(int rc, string context)
        {
            if (rc < 0)
                throw new NetException(rc, context, Native.net_last_os_error());
            return rc;
        }

        public static void Send(ulong conn, byte[] data)
        {
            Args.NotNull(data, "data");
            Check(Native.net_send(conn, data, (uint)data.Length), "send");
        }

        /// <summary>Sends data[offset .. offset + count).</summary>
        public static void Send(ulong conn, byte[] data, int offset, int count)
        {
            Args.NotNull(data, "data");
            Args.Slice(data.Length, offset, count);
            fixed (byte* p = data)
                Check(Native.net_send(conn, p + offset, (uint)count), "send");
        }

        /// <summary>Sends len bytes at data (e.g. a DATA event's payload).</summary>
        public static void Send(ulong conn, IntPtr data, uint len)
        {
            Args.Pointer(data, len, "data");
            Check(Native.net_send(conn, data, len), "send");
        }

        /// <summary>net_send without throwing: the code (0 or NET_E_*).</summary>
        public static NetError TrySend(ulong conn, IntPtr data, uint len)
        {
            Args.Pointer(data, len, "data");
            return (NetError)Native.net_send(conn, data, len);
        }

        /// <summary>Sends data to every connection; results (when given, at
        /// least conns.Length long) gets each one's code. Returns how many took it.</summary>
        public static int Broadcast(ulong[] conns, byte[] data, int[] results = null)
        {
            Args.NotNull(conns, "conns");
            Args.NotNull(data, "data");
            if (results != null && results.Length < conns.Length)
                throw new ArgumentException("shorter than conns (" + results.Length + " < " + conns.Length + ")", "results");
            return Check(Native.net_broadcast(conns, (uint)conns.Length, data, (uint)data.Length, results), "broadcast");
        }

        public static void Close(ulong handle) { Check(Native.net_close(handle), "close"); }
        public static void Abort(ulong conn) { Check(Native.net_abort(conn), "abort"); }
        public static void Shutdown(ulong conn) { Check(Native.net_shutdown(conn), "shutdown"); }
        public static void SetUser(ulong handle, ulong user) { Check(Native.net_set_user(handle, user), "set_user"); }

        public static ulong GetUser(ulong handle)
        {
            ulong u;
            Check(Native.net_get_user(handle, out u), "get_user");
            return u;
        }

        public static void SetOption(ulong handle, NetOption option, long value)
        {
            Args.Defined(option, "option");
            Check(Native.net_set_option(handle, (int)option, value), "set_option " + option);
        }

        public static long GetOption(ulong handle, NetOption option)
        {
            Args.Defined(option, "option");
            long v;
            Check(Native.net_get_option(handle, (int)option, out v), "get_option " + option);
            return v;
        }

        public static NetAddr LocalAddr(ulong handle)
        {
            NetAddr a;
            Check(Native.net_local_addr(handle, out a), "local_addr");
            return a;
        }

        public static NetAddr PeerAddr(ulong conn)
        {
            NetAddr a;
            Check(Native.net_peer_addr(conn, out a), "peer_addr");
            return a;
        }

        public static ulong SendQueued(ulong conn)
        {
            ulong b;
            Check(Native.net_send_queued(conn, out b), "send_queued");
            return b;
        }

        // ---- reliable UDP sessions ----

        /// <summary>Queues data as one message on channel of a session in
        /// mode (net_rudp_send; NetApi.Send is channel 0, ReliableOrdered).</summary>
        public static void RudpSend(ulong session, uint channel, RudpMode mode, byte[] data)
        {
            Args.NotNull(data, "data");
            Args.Defined(mode, "mode");
            Check(Native.net_rudp_send(session, channel, (uint)mode, data, (uint)data.Length), "rudp_send");
        }

        /// <summary>Sends data[offset .. offset + count) on channel in mode.</summary>
        public static void RudpSend(ulong session, uint channel, RudpMode mode, byte[] data, int offset, int count)
        {
            Args.NotNull(data, "data");
            Args.Slice(data.Length, offset, count);
            Args.Defined(mode, "mode");
            fixed (byte* p = data)
                Check(Native.net_rudp_send(session, channel, (uint)mode, p + offset, (uint)count), "rudp_send");
        }

        /// <summary>A session's figures (RTT, retransmits, ...) or a listener's.</summary>
        public static NetRudpStats RudpStats(ulong handle)
        {
            NetRudpStats s = new NetRudpStats();
            s.Size = (uint)Marshal.SizeOf(typeof(NetRudpStats));
            Check(Native.net_rudp_get_stats(handle, ref s), "rudp_stats");
            return s;
        }

        // ---- UDP ----

        /// <summary>Resolves host (numeric or a name) once, for SendTo.</summary>
        public static NetAddr AddrParse(string host, ushort port)
        {
            Args.NotNull(host, "host");
            NetAddr a;
            Check(Native.net_addr_parse(host, port, out a), "addr_parse " + host);
            return a;
        }

        /// <summary>"127.0.0.1:9", "[::1]:7000": what NetAddr.ToString prints.</summary>
        public static NetAddr AddrParse(string address)
        {
            string host;
            ushort port;
            Address.Split(address, "address", out host, out port);
            return AddrParse(host, port);
        }

        /// <summary>Fixes a UDP socket's peer: Send then sends to it and only
        /// its datagrams arrive. Synchronous, no event.</summary>
        public static void UdpConnect(ulong udp, string host, ushort port)
        {
            Args.NotNull(host, "host");
            CheckWithOsError(Native.net_udp_connect(udp, host, port), "udp_connect " + host + ":" + port);
        }

        /// <summary>UdpConnect to "host:port" ("[::1]:7000" for IPv6).</summary>
        public static void UdpConnect(ulong udp, string address)
        {
            string host;
            ushort port;
            Address.Split(address, "address", out host, out port);
            UdpConnect(udp, host, port);
        }

        /// <summary>Queues one datagram for to (e.g. a Datagram event's Addr).</summary>
        public static void SendTo(ulong udp, NetAddr to, byte[] data)
        {
            Args.NotNull(data, "data");
            Check(Native.net_sendto(udp, ref to, data, (uint)data.Length), "sendto " + to);
        }

        /// <summary>Queues data[offset .. offset + count) as one datagram for to.</summary>
        public static void SendTo(ulong udp, NetAddr to, byte[] data, int offset, int count)
        {
            Args.NotNull(data, "data");
            Args.Slice(data.Length, offset, count);
            fixed (byte* p = data)
                Check(Native.net_sendto(udp, &to, p + offset, (uint)count), "sendto " + to);
        }

        /// <summary>Sends len bytes at data (e.g. a Datagram event's payload back to its sender).</summary>
        public static void SendTo(ulong udp, NetAddr to, IntPtr data, uint len)
        {
            Args.Pointer(data, len, "data");
            Check(Native.net_sendto(udp, ref to, data, len), "sendto " + to);
        }

        /// <summary>SendTo "host:port" ("127.0.0.1:9", "[::1]:7000"), resolved on each call.</summary>
        public static void SendTo(ulong udp, string address, byte[] data)
        {
            Args.NotNull(data, "data");
            NetAddr to = AddrParse(address);
            SendTo(udp, to, data);
        }

        /// <summary>SendTo host and port, resolved on each call.</summary>
        public static void SendTo(ulong udp, string host, ushort port, byte[] data)
        {
            Args.NotNull(data, "data");
            NetAddr to = AddrParse(host, port);
            SendTo(udp, to, data);
        }

        /// <summary>net_sendto without throwing: 0 or the NET_E_* code
        /// (WouldBlock when the send queue is full, MsgSize past max_datagram).</summary>
        public static NetError TrySendTo(ulong udp, NetAddr to, IntPtr data, uint len)
        {
            Args.Pointer(data, len, "data");
            return (NetError)Native.net_sendto(udp, ref to, data, len);
        }
    }
}
