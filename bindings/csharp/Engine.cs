// Engine.cs - an engine (net_engine) as a .NET object. Its end is Close(),
// the name every binding uses (Lua e:close(), Python engine.close());
// Dispose() does the same for `using`. After it, every call throws
// ObjectDisposedException.

using System;
using System.Runtime.InteropServices;

namespace Net
{
    /// <summary>An engine: backend, I/O threads, handles, event queue.
    /// Poll from one thread; sends, closes and Post/Wakeup from any.</summary>
    public sealed class Engine : IDisposable
    {
        ulong handle;

        /// <summary>net_config_init's defaults.</summary>
        public static NetConfig DefaultConfig()
        {
            NetConfig c;
            Native.net_config_init(out c);
            return c;
        }

        public Engine(Backend backend = Backend.Auto, uint ioThreads = 0)
        {
            Args.Defined(backend, "backend");
            NetConfig c = DefaultConfig();
            c.Backend = backend;
            c.IoThreads = ioThreads;
            Create(ref c);
        }

        public Engine(NetConfig config)
        {
            if (config.Size == 0)
                throw new ArgumentException("start from Engine.DefaultConfig()", "config");
            Create(ref config);
        }

        void Create(ref NetConfig c)
        {
            ulong h;
            NetApi.Check(Native.net_engine_create(ref c, out h), "engine_create");
            handle = h;
        }

        ~Engine()
        {
            if (handle != 0)
                Native.net_engine_destroy(handle);
        }

        /// <summary>The net_engine value (0 once closed).</summary>
        public ulong Handle { get { return handle; } }

        public bool IsClosed { get { return handle == 0; } }

        // The handle of an engine still open, for every call but Close.
        ulong Open()
        {
            ulong h = handle;
            if (h == 0)
                throw new ObjectDisposedException("Engine", "the engine is closed");
            return h;
        }

        public string BackendName { get { return Marshal.PtrToStringAnsi(Native.net_backend_name(Open())); } }

        /// <summary>net_engine_destroy: closes every socket at once, stops the
        /// I/O threads. A second Close does nothing.</summary>
        public void Close()
        {
            ulong h = handle;
            handle = 0;
            GC.SuppressFinalize(this);
            if (h != 0)
                NetApi.Check(Native.net_engine_destroy(h), "engine_destroy");
        }

        /// <summary>Close, for `using`.</summary>
        public void Dispose() { Close(); }

        /// <summary>Fills events (up to its length) and returns the count; waits
        /// up to timeoutMs (-1 forever, 0 not at all). Payloads stay valid until the next Poll.</summary>
        public int Poll(NetEvent[] events, int timeoutMs)
        {
            Args.NotNull(events, "events");
            if (events.Length == 0)
                throw new ArgumentException("room for at least one event", "events");
            Args.Timeout(timeoutMs, "timeoutMs");
            return NetApi.Check(Native.net_poll(Open(), events, events.Length, timeoutMs), "poll");
        }

        public void Wakeup() { NetApi.Check(Native.net_wakeup(Open()), "wakeup"); }
        public void Post(ulong value) { NetApi.Check(Native.net_post(Open(), value), "post"); }

        /// <summary>net_engine_waitable: what another loop waits on instead of a
        /// blocking Poll. Linux: a file descriptor to poll for readability only;
        /// Windows: an event HANDLE (wrap it for WaitHandle.WaitOne / ThreadPool
        /// RegisterWaitForSingleObject without owning it). The engine owns it:
        /// never read, reset or close it; stop waiting on it before Close. It is
        /// ready whenever Poll has something to return or work due: when ready,
        /// Poll(events, 0) until it returns fewer than events.Length, then wait
        /// again (a spurious readiness may happen, a missed one never). The same
        /// value every time.</summary>
        public IntPtr Waitable
        {
            get
            {
                IntPtr w;
                NetApi.Check(Native.net_engine_waitable(Open(), out w), "engine_waitable");
                return w;
            }
        }

        public NetStats Stats()
        {
            var s = new NetStats();
            s.Size = (uint)Marshal.SizeOf(typeof(NetStats));
            NetApi.Check(Native.net_engine_stats(Open(), ref s), "engine_stats");
            return s;
        }

        static NetTcpConfig TcpConfig(Framing framing, TcpFlags addFlags, uint maxMessage, ulong user)
        {
            Args.Defined(framing, "framing");
            NetTcpConfig t;
            Native.net_tcp_config_init(out t);
            t.Framing = framing;
            t.Flags |= addFlags;
            t.MaxMessage = maxMessage;
            t.User = user;
            return t;
        }

        // net_listen, net_connect, net_udp_open, net_rudp_listen, net_rudp_connect.
        delegate int OpenCall<TConfig>(ulong engine, string host, ushort port, ref TConfig cfg, out ulong handle);

        // What opening a handle on host:port takes: a config made by its init
        // function (Size set), the call, its failure named with the address.
        ulong OpenOn<TConfig>(OpenCall<TConfig> call, string what, string host, ushort port, uint size, string init,
                              ref TConfig cfg)
        {
            if (size == 0)
                throw new ArgumentException("start from " + init, "cfg");
            ulong h;
            NetApi.CheckWithOsError(call(Open(), host, port, ref cfg, out h), what + " " + host + ":" + port);
            return h;
        }

        // The overloads taking "host:port" text (paramName: how the error names it).
        static ulong AtAddress(string address, string paramName, Func<string, ushort, ulong> open)
        {
            string host;
            ushort port;
            Address.Split(address, paramName, out host, out port);
            return open(host, port);
        }

        /// <summary>Listens on host:port (host null or "" = any IPv4, "::" = any
        /// IPv6); port 0 picks a free port (see NetApi.LocalAddr).</summary>
        public ulong Listen(string host, ushort port, Framing framing = Framing.Raw, TcpFlags addFlags = TcpFlags.None,
                            uint maxMessage = 0, ulong user = 0)
        {
            NetTcpConfig t = TcpConfig(framing, addFlags, maxMessage, user);
            return Listen(host, port, ref t);
        }

        public ulong Listen(string host, ushort port, ref NetTcpConfig cfg)
        {
            return OpenOn<NetTcpConfig>(Native.net_listen, "listen", host, port, cfg.Size, "Native.net_tcp_config_init",
                                        ref cfg);
        }

        /// <summary>Listens on "host:port" as net prints it ("127.0.0.1:7000",
        /// "[::]:0"), raw framing.</summary>
        public ulong Listen(string address)
        {
            return AtAddress(address, "address", (host, port) => Listen(host, port));
        }

        /// <summary>Listens on an address (NetApi.AddrParse, LocalAddr, an event's Addr).</summary>
        public ulong Listen(NetAddr addr, Framing framing = Framing.Raw, TcpFlags addFlags = TcpFlags.None,
                            uint maxMessage = 0, ulong user = 0)
        {
            return AtAddress(addr.ToString(), "addr",
                             (host, port) => Listen(host, port, framing, addFlags, maxMessage, user));
        }

        /// <summary>Starts connecting; a Connect event reports the outcome.</summary>
        public ulong Connect(string host, ushort port, Framing framing = Framing.Raw, TcpFlags addFlags = TcpFlags.None,
                             uint maxMessage = 0, ulong user = 0)
        {
            Args.NotNull(host, "host");
            NetTcpConfig t = TcpConfig(framing, addFlags, maxMessage, user);
            return OpenOn<NetTcpConfig>(Native.net_connect, "connect", host, port, t.Size, "Native.net_tcp_config_init",
                                        ref t);
        }

        /// <summary>Connects to "host:port" as net prints it ("127.0.0.1:7000",
        /// "[::1]:7000"), raw framing.</summary>
        public ulong Connect(string address)
        {
            return AtAddress(address, "address", (host, port) => Connect(host, port));
        }

        /// <summary>Connects to an address (NetApi.AddrParse, LocalAddr, an event's Addr).</summary>
        public ulong Connect(NetAddr addr, Framing framing = Framing.Raw, TcpFlags addFlags = TcpFlags.None,
                             uint maxMessage = 0, ulong user = 0)
        {
            return AtAddress(addr.ToString(), "addr",
                             (host, port) => Connect(host, port, framing, addFlags, maxMessage, user));
        }

        /// <summary>net_udp_config_init's defaults.</summary>
        public static NetUdpConfig DefaultUdpConfig()
        {
            NetUdpConfig c;
            Native.net_udp_config_init(out c);
            return c;
        }

        /// <summary>Opens a UDP socket bound to host:port (null = any IPv4,
        /// "::" = any IPv6; port 0 picks one, see NetApi.LocalAddr).
        /// Datagram events come from then on.</summary>
        public ulong UdpOpen(string host, ushort port, UdpFlags flags = UdpFlags.None, uint maxDatagram = 0,
                             uint sendCap = 0, ulong user = 0)
        {
            NetUdpConfig u = DefaultUdpConfig();
            u.Flags = flags;
            if (maxDatagram != 0) u.MaxDatagram = maxDatagram;
            if (sendCap != 0) u.SendCap = sendCap;
            u.User = user;
            return UdpOpen(host, port, ref u);
        }

        public ulong UdpOpen(string host, ushort port, ref NetUdpConfig cfg)
        {
            return OpenOn<NetUdpConfig>(Native.net_udp_open, "udp_open", host, port, cfg.Size,
                                        "Engine.DefaultUdpConfig()", ref cfg);
        }

        /// <summary>Opens a UDP socket bound to "host:port" ("127.0.0.1:0", "[::1]:7000").</summary>
        public ulong UdpOpen(string address)
        {
            return AtAddress(address, "address", (host, port) => UdpOpen(host, port));
        }

        // ---- reliable UDP sessions ----

        /// <summary>net_rudp_config_init's defaults.</summary>
        public static NetRudpConfig DefaultRudpConfig()
        {
            NetRudpConfig c;
            Native.net_rudp_config_init(out c);
            return c;
        }

        static NetRudpConfig RudpConfig(uint channels, ulong user)
        {
            NetRudpConfig c = DefaultRudpConfig();
            if (channels != 0) c.Channels = channels;
            c.User = user;
            return c;
        }

        /// <summary>Accepts reliable-UDP sessions on host:port (null = any
        /// IPv4; port 0 picks one, see NetApi.LocalAddr): each comes as an
        /// Accept event. channels 0 keeps the default (8).</summary>
        public ulong RudpListen(string host, ushort port, uint channels = 0, ulong user = 0)
        {
            NetRudpConfig c = RudpConfig(channels, user);
            return RudpListen(host, port, ref c);
        }

        public ulong RudpListen(string host, ushort port, ref NetRudpConfig cfg)
        {
            return OpenOn<NetRudpConfig>(Native.net_rudp_listen, "rudp_listen", host, port, cfg.Size,
                                         "Engine.DefaultRudpConfig()", ref cfg);
        }

        /// <summary>Starts a reliable-UDP session to host:port; a Connect
        /// event reports the outcome (sends before it are queued). Data
        /// events carry the channel in Parent.</summary>
        public ulong RudpConnect(string host, ushort port, uint channels = 0, ulong user = 0)
        {
            NetRudpConfig c = RudpConfig(channels, user);
            return RudpConnect(host, port, ref c);
        }

        public ulong RudpConnect(string host, ushort port, ref NetRudpConfig cfg)
        {
            Args.NotNull(host, "host");
            return OpenOn<NetRudpConfig>(Native.net_rudp_connect, "rudp_connect", host, port, cfg.Size,
                                         "Engine.DefaultRudpConfig()", ref cfg);
        }

        /// <summary>RudpConnect to "host:port" ("[::1]:7000" for IPv6).</summary>
        public ulong RudpConnect(string address)
        {
            return AtAddress(address, "address", (host, port) => RudpConnect(host, port));
        }

        /// <summary>A Timer event after delayMs, then every repeatMs (0 = once).
        /// Stop it with NetApi.Close.</summary>
        public ulong StartTimer(uint delayMs, uint repeatMs = 0, ulong user = 0)
        {
            ulong h;
            NetApi.Check(Native.net_timer_start(Open(), delayMs, repeatMs, user, out h), "timer_start");
            return h;
        }
    }
}
