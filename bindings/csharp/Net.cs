// Net.cs - C# (P/Invoke) binding of the net networking engine: the whole of
// include/net.h as [DllImport("net")] declarations (class Native) and blittable
// structs with LayoutKind.Sequential. The idiomatic wrapper is in NetApi.cs
// (handle calls, NetException, "host:port" addresses) and Engine.cs.
//
// Compile with the unsafe switch (the address keeps its 16 IP bytes in a fixed
// buffer so every struct stays blittable); build-mono.sh builds Net.dll and
// Net.csproj is the .NET project.
//
// Finding the library (docs/api-csharp.md): the DllImport name stays "net"
// (net.dll on Windows). Mono reads Net.dll.config, whose dllmap names
// runtimes/<rid>/native/libnet.so relative to Net.dll; .NET uses the resolver
// in NativeResolver.cs. Neither falls back to the system's "libnet.so", which
// on Debian is an unrelated library (libnet1-dev).
//
// The layout of every struct is checked against the C compiler's by
// tests/csharp (ctest csharp.layout): keep them in the order of net.h.

using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Text;

namespace Net
{
    // ---------------------------------------------------------------- constants

    /// <summary>NET_E_* codes (all negative) and Ok.</summary>
    public enum NetError : int
    {
        Ok = 0,
        BadHandle = -1,
        Inval = -2,
        NoMem = -3,
        WouldBlock = -4,
        Closed = -5,
        MsgSize = -6,
        Busy = -7,
        Unsupported = -8,
        Os = -9,
        Addr = -10,
        TimedOut = -11,
        Reset = -12,
        Refused = -13,
        Limit = -14,
        Proto = -15,
        Aborted = -16,
        AddrInUse = -17,
        Unreachable = -18,
        NotConn = -19,   // UDP socket without a fixed peer: use SendTo
    }

    /// <summary>NET_EV_*: the Type of a NetEvent.</summary>
    public enum EventType : uint
    {
        None = 0,
        Accept = 1,
        Connect = 2,
        Data = 3,
        Close = 4,
        SendHighwater = 5,
        SendDrained = 6,
        Timer = 7,
        User = 8,
        Datagram = 9,    // UDP: one whole datagram (Data, Len), Addr = its sender
        Error = 10,      // UDP: a non-fatal error (Status, OsError; Addr where known); the handle stays open
        Eof = 11,        // TCP with TcpFlags.HalfOpen: the peer finished sending; the connection stays open
    }

    public enum AddrFamily : ushort
    {
        Unspec = 0,
        Inet = 4,
        Inet6 = 6,
    }

    public enum Backend : uint
    {
        Auto = 0,
        Epoll = 1,
        IoUring = 2,
        Iocp = 3,
    }

    public enum Framing : uint
    {
        Raw = 0,
        U16LE = 1,
        U16BE = 2,
        U32LE = 3,
        U32BE = 4,
    }

    [Flags]
    public enum TcpFlags : uint
    {
        None = 0,
        NoDelay = 1u << 0,
        ReuseAddr = 1u << 1,
        KeepAlive = 1u << 2,
        Ipv6Only = 1u << 3,
        LenIncludesHeader = 1u << 4,
        HalfOpen = 1u << 5,     // the peer's FIN comes as Eof; the connection stays open until closed
    }

    public enum NetOption : int
    {
        NoDelay = 1,
        KeepAlive = 2,
        SndBuf = 3,
        RcvBuf = 4,
        Linger = 5,
        ReuseAddr = 6,
        SendCap = 7,
        Highwater = 8,
        Lowwater = 9,
        IdleTimeout = 10,
        Broadcast = 11,    // UDP: 0/1
        MaxDatagram = 12,  // UDP: bytes, at most what the socket was opened with
        Dropped = 13,      // UDP, read only: arrivals dropped for exceeding MaxDatagram
        ErrorsDropped = 14, // UDP, read only: errors not reported while an ERROR event waited to be polled
        SendHeld = 15,      // connection, read only: received blocks its queue keeps alive (within its send cap)
    }

    [Flags]
    public enum UdpFlags : uint
    {
        None = 0,
        ReuseAddr = 1u << 0,
        Ipv6Only = 1u << 1,
        Broadcast = 1u << 2,
    }

    // net_rudp_send's delivery modes.
    public enum RudpMode : uint
    {
        ReliableOrdered = 0,     // every message, once, in send order per channel
        ReliableUnordered = 1,   // every message, once, in arrival order
        UnreliableSequenced = 2, // may be lost; never older than one already delivered on the channel
        Unreliable = 3,          // may be lost, never duplicated, any order
    }

    // ---------------------------------------------------------------- structs

    /// <summary>net_addr: family, port (host order), IPv6 scope, 16 IP bytes.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public unsafe struct NetAddr
    {
        public AddrFamily Family;
        public ushort Port;
        public uint ScopeId;
        public fixed byte Ip[16]; // IPv4 in the first 4 bytes, network order

        public byte[] IpBytes()
        {
            int n = Family == AddrFamily.Inet6 ? 16 : 4;
            var b = new byte[n];
            fixed (byte* p = Ip)
                for (int i = 0; i < n; i++)
                    b[i] = p[i];
            return b;
        }

        /// <summary>"1.2.3.4:80" or "[::1]:80" (net_addr_format).</summary>
        public override string ToString()
        {
            var buf = new byte[80];
            NetAddr copy = this;
            int n = Native.net_addr_format(ref copy, buf, (UIntPtr)buf.Length);
            return n < 0 ? "(unspecified)" : Encoding.ASCII.GetString(buf, 0, n);
        }
    }

    /// <summary>net_event: 72 bytes, blittable. Payload (Data, Len) valid until
    /// the next Poll on the engine.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct NetEvent
    {
        public EventType Type;
        public int Status;      // 0 or a NetError (a CLOSE's reason)
        public ulong Handle;
        public ulong Parent;    // listener for Accept
        public ulong User;
        public ulong DataBits;  // the union { const void *data; uint64_t data_bits_; }
        public uint Len;
        public int OsError;
        public NetAddr Addr;    // peer for Accept and Connect, sender for Datagram

        public NetError Error { get { return (NetError)Status; } }

        /// <summary>The payload pointer (Data, Datagram), valid until the next Poll.</summary>
        public IntPtr Data
        {
            get { return IntPtr.Size == 8 ? new IntPtr(unchecked((long)DataBits)) : new IntPtr(unchecked((int)(uint)DataBits)); }
        }

        /// <summary>A copy of the payload.</summary>
        public byte[] CopyData()
        {
            var b = new byte[Len];
            if (Len > 0)
                Marshal.Copy(Data, b, 0, (int)Len);
            return b;
        }

        public override string ToString()
        {
            var sb = new StringBuilder();
            sb.AppendFormat("{0} handle=0x{1:x}", Type, Handle);
            if (Status != 0) sb.AppendFormat(" status={0}", (NetError)Status);
            if (Parent != 0) sb.AppendFormat(" parent=0x{0:x}", Parent);
            if (Len != 0) sb.AppendFormat(" len={0}", Len);
            if (Type == EventType.Accept || Type == EventType.Connect || Type == EventType.Datagram ||
                (Type == EventType.Error && Addr.Family != AddrFamily.Unspec))
                sb.AppendFormat(" addr={0}", Addr);
            return sb.ToString();
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct NetConfig
    {
        public uint Size;            // set by net_config_init
        public Backend Backend;      // Auto honours NET_BACKEND
        public uint IoThreads;
        public uint MaxConnections;
        public uint MaxMessage;
        public uint SendCap;
        public uint SendHighwater;
        public uint SendLowwater;
        public uint RecvLimit;
        public uint IdleTimeoutMs;
        public uint CloseTimeoutMs;
        public uint EventBatch;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct NetStats
    {
        public uint Size;            // the caller sets Marshal.SizeOf(NetStats)
        public uint Reserved;
        public ulong Connections;
        public ulong ConnectionsTotal;
        public ulong AcceptsRejected;
        public ulong BytesIn;
        public ulong BytesOut;
        public ulong MessagesIn;
        public ulong MessagesOut;
        public ulong QueueDepth;
        public ulong SendQueued;
        public ulong RecvPaused;
        // UDP (since 0.2)
        public ulong UdpSockets;
        public ulong DatagramsIn;
        public ulong DatagramsOut;
        public ulong DatagramsDropped;   // arrived larger than a socket's max_datagram
        public ulong DatagramSendErrors; // refused by the OS (unreachable, refused, too big)
        // since 0.5
        public ulong AcceptsFailed; // accepts the OS failed; resets before the accept not counted
        // since 0.6
        public ulong CallerWrites;  // io_threads >= 1: writes net_forward_data and net_send_batch made on the calling thread
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct NetTcpConfig
    {
        public uint Size;            // set by net_tcp_config_init
        public Framing Framing;
        public TcpFlags Flags;
        public uint MaxMessage;      // 0 = the engine's
        public int Backlog;          // 0 = default
        public uint Reserved;
        public ulong User;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct NetUdpConfig
    {
        public uint Size;            // set by net_udp_config_init
        public UdpFlags Flags;
        public uint MaxDatagram;     // 0 or 65507 = the largest; bigger arrivals are counted and dropped
        public uint SendCap;         // bytes queued (+64 per datagram) before SendTo fails; 0 = 1 MiB
        public int RcvBuf;           // SO_RCVBUF; 0 = the OS default
        public int SndBuf;           // SO_SNDBUF; 0 = the OS default
        public ulong User;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct NetBuf
    {
        public IntPtr Data;
        public UIntPtr Len;
    }

    /// <summary>net_packed_event (net_events_pack): a NetEvent whose payload is
    /// bytes [Offset, Offset + Len) of the payload buffer packed with it. The
    /// wrapper polls NetEvents directly and does not use it.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct NetPackedEvent
    {
        public EventType Type;
        public int Status;
        public ulong Handle;
        public ulong Parent;
        public ulong User;
        public uint Offset;     // DATA, DATAGRAM: where the payload starts; else 0
        public uint Len;
        public int OsError;
        public uint Reserved;
        public NetAddr Addr;
    }

    /// <summary>net_rudp_config (net_rudp_config_init fills the defaults; 0 = default).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct NetRudpConfig
    {
        public uint Size;
        public uint Channels;
        public uint Mtu;
        public uint MaxMessage;
        public uint SendCap;
        public uint RecvWindow;
        public uint MaxSessions;
        public uint ConnectTimeoutMs;
        public uint IdleTimeoutMs;
        public uint KeepaliveMs;
        public uint CloseTimeoutMs;
        public uint RtoMinMs;
        public uint RtoMaxMs;
        public uint CookiePeriodMs;
        public ulong User;
    }

    /// <summary>net_rudp_stats: a session's figures, or a listener's.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct NetRudpStats
    {
        public uint Size;            // the caller sets Marshal.SizeOf(NetRudpStats)
        public uint Reserved;
        public ulong RttUs;
        public ulong RttvarUs;
        public ulong RtoMs;
        public ulong Cwnd;
        public ulong BytesInFlight;
        public ulong SendQueued;
        public ulong PeerWindow;
        public ulong PacketsSent;
        public ulong PacketsReceived;
        public ulong Retransmits;
        public ulong PacketsLost;
        public ulong DuplicatesDropped;
        public ulong MessagesSent;
        public ulong MessagesReceived;
        public ulong BytesSent;
        public ulong BytesReceived;
        public ulong Sessions;
        public ulong Handshakes;
        public ulong CookiesRejected;
        public ulong SessionsRefused;
        public ulong DatagramsDropped;
        public ulong ChecksumFailures; // datagrams whose CRC32C did not match, also in DatagramsDropped
    }

    // ---------------------------------------------------------------- the flat API

    /// <summary>Every function of net.h, as declared there.</summary>
    public static unsafe class Native
    {
        public const string Lib = "net";
        const CallingConvention CC = CallingConvention.Cdecl;

        // NET_VERSION_* of net.h, which CMake's project version sets: checked
        // against net.h by csharp.layout and against the project by csharp.version.
        public const int VersionMajor = 0;
        public const int VersionMinor = 6;
        public const int VersionPatch = 0;
        public const int Version = (VersionMajor << 16) | (VersionMinor << 8) | VersionPatch;
        public const uint UdpMaxPayload = 65507; // NET_UDP_MAX_PAYLOAD

        [DllImport(Lib, CallingConvention = CC)] public static extern uint net_version();
        [DllImport(Lib, CallingConvention = CC)] public static extern IntPtr net_version_string();
        [DllImport(Lib, CallingConvention = CC)] public static extern IntPtr net_strerror(int code);
        [DllImport(Lib, CallingConvention = CC)] public static extern int net_last_os_error();

        [DllImport(Lib, CallingConvention = CC)] public static extern void net_config_init(out NetConfig cfg);
        [DllImport(Lib, CallingConvention = CC)] public static extern int net_engine_create(ref NetConfig cfg, out ulong engine);
        [DllImport(Lib, CallingConvention = CC)] public static extern int net_engine_destroy(ulong engine);
        [DllImport(Lib, CallingConvention = CC)] public static extern IntPtr net_backend_name(ulong engine);
        [DllImport(Lib, CallingConvention = CC)] public static extern int net_engine_stats(ulong engine, ref NetStats stats);

        [DllImport(Lib, CallingConvention = CC)] public static extern int net_poll(ulong engine, [In, Out] NetEvent[] events, int max, int timeoutMs);
        [DllImport(Lib, CallingConvention = CC)] public static extern int net_poll(ulong engine, NetEvent* events, int max, int timeoutMs);
        [DllImport(Lib, CallingConvention = CC)] public static extern int net_wakeup(ulong engine);
        [DllImport(Lib, CallingConvention = CC)] public static extern int net_post(ulong engine, ulong value);
        [DllImport(Lib, CallingConvention = CC)] public static extern int net_engine_waitable(ulong engine, out IntPtr waitable);

        [DllImport(Lib, CallingConvention = CC)] public static extern void net_tcp_config_init(out NetTcpConfig cfg);
        [DllImport(Lib, CallingConvention = CC)]
        public static extern int net_listen(ulong engine, [MarshalAs(UnmanagedType.LPStr)] string host, ushort port, ref NetTcpConfig cfg, out ulong handle);
        [DllImport(Lib, CallingConvention = CC)]
        public static extern int net_connect(ulong engine, [MarshalAs(UnmanagedType.LPStr)] string host, ushort port, ref NetTcpConfig cfg, out ulong handle);

        [DllImport(Lib, CallingConvention = CC)] public static extern int net_send(ulong conn, byte* data, uint len);
        [DllImport(Lib, CallingConvention = CC)] public static extern int net_send(ulong conn, IntPtr data, uint len);
        [DllImport(Lib, CallingConvention = CC)] public static extern int net_send(ulong conn, byte[] data, uint len);
        [DllImport(Lib, CallingConvention = CC)] public static extern int net_sendv(ulong conn, [In] NetBuf[] bufs, uint count);
        [DllImport(Lib, CallingConvention = CC)]
        public static extern int net_broadcast([In] ulong[] conns, uint count, byte[] data, uint len, [Out] int[] results);
        /// <summary>net_send_batch: declared for completeness (a P/Invoke call is cheap, so the wrapper sends
        /// one by one); offsets may be null (payloads one after another).</summary>
        [DllImport(Lib, CallingConvention = CC)]
        public static extern int net_send_batch([In] ulong[] conns, [In] uint[] offsets, [In] uint[] lens, uint count,
                                                byte[] payload, UIntPtr size, [Out] int[] results);
        /// <summary>net_forward_data (since 0.5): the DATA payloads of a batch net_poll just filled, sent on
        /// (to = 0: each back to its own connection) without a copy into managed memory; results[i] 0, a
        /// NET_E_* code, or 1 for an event that is not DATA.</summary>
        [DllImport(Lib, CallingConvention = CC)]
        public static extern int net_forward_data([In] NetEvent[] events, int count, ulong to, [Out] int[] results);
        [DllImport(Lib, CallingConvention = CC)]
        public static extern int net_forward_data(NetEvent* events, int count, ulong to, int* results);

        [DllImport(Lib, CallingConvention = CC)] public static extern int net_close(ulong handle);
        [DllImport(Lib, CallingConvention = CC)] public static extern int net_abort(ulong conn);
        [DllImport(Lib, CallingConvention = CC)] public static extern int net_shutdown(ulong conn);

        [DllImport(Lib, CallingConvention = CC)] public static extern int net_set_user(ulong handle, ulong user);
        [DllImport(Lib, CallingConvention = CC)] public static extern int net_get_user(ulong handle, out ulong user);

        [DllImport(Lib, CallingConvention = CC)] public static extern int net_set_option(ulong handle, int option, long value);
        [DllImport(Lib, CallingConvention = CC)] public static extern int net_get_option(ulong handle, int option, out long value);

        [DllImport(Lib, CallingConvention = CC)] public static extern int net_local_addr(ulong handle, out NetAddr addr);
        [DllImport(Lib, CallingConvention = CC)] public static extern int net_peer_addr(ulong conn, out NetAddr addr);
        [DllImport(Lib, CallingConvention = CC)] public static extern int net_addr_format(ref NetAddr addr, [Out] byte[] buf, UIntPtr size);
        [DllImport(Lib, CallingConvention = CC)] public static extern int net_send_queued(ulong conn, out ulong bytes);

        [DllImport(Lib, CallingConvention = CC)] public static extern void net_udp_config_init(out NetUdpConfig cfg);
        [DllImport(Lib, CallingConvention = CC)]
        public static extern int net_udp_open(ulong engine, [MarshalAs(UnmanagedType.LPStr)] string host, ushort port, ref NetUdpConfig cfg, out ulong handle);
        [DllImport(Lib, CallingConvention = CC)]
        public static extern int net_udp_connect(ulong udp, [MarshalAs(UnmanagedType.LPStr)] string host, ushort port);
        [DllImport(Lib, CallingConvention = CC)] public static extern int net_sendto(ulong udp, ref NetAddr to, byte[] data, uint len);
        [DllImport(Lib, CallingConvention = CC)] public static extern int net_sendto(ulong udp, ref NetAddr to, IntPtr data, uint len);
        // to == null: a connected socket's peer.
        [DllImport(Lib, CallingConvention = CC)] public static extern int net_sendto(ulong udp, NetAddr* to, byte* data, uint len);
        [DllImport(Lib, CallingConvention = CC)]
        public static extern int net_addr_parse([MarshalAs(UnmanagedType.LPStr)] string host, ushort port, out NetAddr addr);

        [DllImport(Lib, CallingConvention = CC)]
        public static extern int net_timer_start(ulong engine, uint delayMs, uint repeatMs, ulong user, out ulong handle);

        [DllImport(Lib, CallingConvention = CC)]
        public static extern int net_events_pack(NetEvent* events, int count, NetPackedEvent* records, byte* payload, uint size, out uint used);
        [DllImport(Lib, CallingConvention = CC)] public static extern int net_addr_host(ref NetAddr addr, [Out] byte[] buf, UIntPtr size);

        // Reliable UDP sessions (since 0.4).
        [DllImport(Lib, CallingConvention = CC)] public static extern void net_rudp_config_init(out NetRudpConfig cfg);
        [DllImport(Lib, CallingConvention = CC)]
        public static extern int net_rudp_listen(ulong engine, [MarshalAs(UnmanagedType.LPStr)] string host, ushort port, ref NetRudpConfig cfg, out ulong handle);
        [DllImport(Lib, CallingConvention = CC)]
        public static extern int net_rudp_connect(ulong engine, [MarshalAs(UnmanagedType.LPStr)] string host, ushort port, ref NetRudpConfig cfg, out ulong handle);
        [DllImport(Lib, CallingConvention = CC)] public static extern int net_rudp_send(ulong session, uint channel, uint mode, byte[] data, uint len);
        [DllImport(Lib, CallingConvention = CC)] public static extern int net_rudp_send(ulong session, uint channel, uint mode, byte* data, uint len);
        [DllImport(Lib, CallingConvention = CC)] public static extern int net_rudp_get_stats(ulong handle, ref NetRudpStats stats);
    }
}
