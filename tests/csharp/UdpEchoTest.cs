// UdpEchoTest.cs - UDP through the C# binding, end to end over the loopback.
//
//   mono UdpEchoTest.exe [<path of udp_echo>]
//
// In process: one Engine, an echo socket and a client socket; datagrams of
// 0, 1, 1200 and 65507 bytes (IPv4, and IPv6 where the host has ::1) come
// back byte for byte, and each Datagram event names the sender (the other
// socket's LocalAddr). Then connected sockets (Send, NotConn, the ICMP Error
// event), oversized arrivals dropped and counted, a full send queue, options,
// stats, one Close and stale handles. With the path of samples/udp_echo, the
// same echo against the C server (started with --port 0, stopped by SIGTERM).
// NET_BACKEND (honoured by the library) and NET_TEST_IO_THREADS pick the mode.

using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Text.RegularExpressions;
using Net;

static class UdpEchoTest
{
    static int passed, failed, skipped;
    static uint io;

    sealed class SkipException : Exception
    {
        public SkipException(string why) : base(why) { }
    }

    static void Check(bool ok, string what)
    {
        if (!ok)
            throw new Exception("check failed: " + what);
    }

    static byte[] Pattern(int n, int seed)
    {
        var b = new byte[n];
        for (int i = 0; i < n; i++)
            b[i] = (byte)(i * 31 + seed * 17 + (i >> 8));
        return b;
    }

    static bool Same(byte[] a, byte[] b)
    {
        if (a.Length != b.Length) return false;
        for (int i = 0; i < a.Length; i++)
            if (a[i] != b[i]) return false;
        return true;
    }

    static bool SameAddr(NetAddr a, NetAddr b)
    {
        return a.Family == b.Family && a.Port == b.Port && Same(a.IpBytes(), b.IpBytes());
    }

    static void Expect(NetError code, Action call, string what)
    {
        try {
            call();
        } catch (NetException e) {
            Check(e.Code == code, what + ": got " + e.Code + ", want " + code);
            return;
        }
        throw new Exception("check failed: " + what + " did not throw " + code);
    }

    // Polls until handler returns true; a Close or Error it was not asked
    // about fails the test.
    static void PollUntil(Engine eng, NetEvent[] buf, Func<NetEvent, bool> handler, string what, int timeoutMs = 10000)
    {
        var sw = Stopwatch.StartNew();
        while (sw.ElapsedMilliseconds < timeoutMs) {
            int n = eng.Poll(buf, 20);
            bool done = false;
            for (int i = 0; i < n; i++)
                if (handler(buf[i]))
                    done = true;
            if (done)
                return;
        }
        throw new Exception("timed out waiting for " + what);
    }

    // Every event for ms milliseconds.
    static List<NetEvent> Drain(Engine eng, NetEvent[] buf, int ms)
    {
        var all = new List<NetEvent>();
        var sw = Stopwatch.StartNew();
        while (sw.ElapsedMilliseconds < ms) {
            int n = eng.Poll(buf, 10);
            for (int i = 0; i < n; i++)
                all.Add(buf[i]);
        }
        return all;
    }

    static void NoSurprise(NetEvent e)
    {
        Check(e.Type != EventType.Close && e.Type != EventType.Error, "unexpected event " + e);
    }

    // srv echoes each datagram from its payload pointer to the sender; cli
    // sends msgs (three ways) and collects the echoes; both sides check the
    // sender address of every event.
    static List<byte[]> Echo(Engine eng, NetEvent[] buf, ulong srv, ulong cli, List<byte[]> msgs)
    {
        NetAddr sa = NetApi.LocalAddr(srv), ca = NetApi.LocalAddr(cli);
        for (int i = 0; i < msgs.Count; i++) {
            if (i % 3 == 0) {
                NetApi.SendTo(cli, sa, msgs[i]);
            } else if (i % 3 == 1) {
                var padded = new byte[msgs[i].Length + 10];
                Array.Copy(msgs[i], 0, padded, 5, msgs[i].Length);
                NetApi.SendTo(cli, sa, padded, 5, msgs[i].Length);
            } else {
                unsafe {
                    fixed (byte* p = msgs[i])
                        NetApi.SendTo(cli, sa, (IntPtr)p, (uint)msgs[i].Length);
                }
            }
        }
        var got = new List<byte[]>();
        PollUntil(eng, buf, e => {
            NoSurprise(e);
            if (e.Type != EventType.Datagram)
                return false;
            if (e.Handle == srv) {
                Check(SameAddr(e.Addr, ca), "server sees the client's address: " + e.Addr + " != " + ca);
                Check(e.Addr.ToString() == ca.ToString(), "address text " + e.Addr);
                NetApi.SendTo(srv, e.Addr, e.Data, e.Len);
            } else {
                Check(e.Handle == cli, "datagram on an unknown handle " + e);
                Check(SameAddr(e.Addr, sa), "client sees the server's address: " + e.Addr + " != " + sa);
                got.Add(e.CopyData());
            }
            return got.Count == msgs.Count;
        }, msgs.Count + " echoes");
        return got;
    }

    // Datagrams may overtake each other: compare as sorted sets.
    static void CheckSameSet(List<byte[]> got, List<byte[]> want)
    {
        Check(got.Count == want.Count, "echo count " + got.Count + " != " + want.Count);
        Comparison<byte[]> cmp = (a, b) => {
            if (a.Length != b.Length) return a.Length.CompareTo(b.Length);
            for (int i = 0; i < a.Length; i++)
                if (a[i] != b[i]) return a[i].CompareTo(b[i]);
            return 0;
        };
        var g = new List<byte[]>(got);
        var w = new List<byte[]>(want);
        g.Sort(cmp);
        w.Sort(cmp);
        for (int i = 0; i < w.Count; i++)
            Check(Same(g[i], w[i]), "echo of a " + w[i].Length + "-byte datagram, byte for byte");
    }

    static void EchoCase(string host)
    {
        using (var eng = new Engine(Backend.Auto, io)) {
            var buf = new NetEvent[64];
            ulong srv, cli;
            try {
                srv = eng.UdpOpen(host, 0, host == "::1" ? UdpFlags.Ipv6Only : UdpFlags.None, 0, 0, 5);
            } catch (NetException e) {
                if (host == "::1")
                    throw new SkipException("no IPv6 loopback: " + e.Code);
                throw;
            }
            cli = eng.UdpOpen(host, 0, UdpFlags.None, 0, 0, 6);
            NetAddr sa = NetApi.LocalAddr(srv);
            Check(sa.Port != 0, "port 0 picks a port");
            Check(sa.Family == (host == "::1" ? AddrFamily.Inet6 : AddrFamily.Inet), "family " + sa.Family);
            Check(sa.ToString() == (host == "::1" ? "[::1]:" : "127.0.0.1:") + sa.Port, "address text " + sa);

            var sizes = new[] { 0, 1, 1200, 65507 };
            for (int k = 0; k < sizes.Length; k++) {
                var one = new List<byte[]> { Pattern(sizes[k], k) };
                var got = Echo(eng, buf, srv, cli, one);
                Check(got[0].Length == sizes[k], "echo length " + got[0].Length + " != " + sizes[k]);
                Check(Same(got[0], one[0]), "echo of " + sizes[k] + " bytes, byte for byte");
            }
            var many = new List<byte[]>();
            for (int i = 0; i < 60; i++)
                many.Add(Pattern(i * 37 % 2000, i));
            CheckSameSet(Echo(eng, buf, srv, cli, many), many);

            // The events carry each socket's user data; the stats count both ways.
            NetApi.SendTo(cli, sa, new byte[] { 42 });
            PollUntil(eng, buf, e => {
                NoSurprise(e);
                if (e.Type == EventType.Datagram && e.Handle == srv) {
                    Check(e.User == 5, "server user data " + e.User);
                    return true;
                }
                return false;
            }, "one more datagram");
            NetStats st = eng.Stats();
            Check(st.UdpSockets == 2, "stats.UdpSockets " + st.UdpSockets);
            Check(st.DatagramsIn >= 129 && st.DatagramsOut >= 129, "stats in/out " + st.DatagramsIn + "/" + st.DatagramsOut);
            Check(st.DatagramsDropped == 0 && st.DatagramSendErrors == 0, "nothing dropped or refused");
        }
    }

    static void ConnectedCase()
    {
        using (var eng = new Engine(Backend.Auto, io)) {
            var buf = new NetEvent[64];
            ulong srv = eng.UdpOpen("127.0.0.1", 0);
            ulong cli = eng.UdpOpen("127.0.0.1", 0, UdpFlags.None, 0, 0, 77);
            ulong stranger = eng.UdpOpen("127.0.0.1", 0);
            NetAddr sa = NetApi.LocalAddr(srv);
            Expect(NetError.NotConn, () => NetApi.Send(cli, new byte[] { 1 }), "Send on an unconnected socket");
            Expect(NetError.NotConn, () => NetApi.PeerAddr(cli), "PeerAddr of an unconnected socket");
            NetApi.UdpConnect(cli, "127.0.0.1", sa.Port);
            Check(SameAddr(NetApi.PeerAddr(cli), sa), "PeerAddr is the server");
            NetApi.Send(cli, Pattern(1200, 1));
            unsafe {
                byte[] two = Pattern(7, 2);
                fixed (byte* p = two)
                    NetApi.Check(Native.net_sendto(cli, null, p, (uint)two.Length), "sendto null: the peer");
            }
            NetApi.SendTo(cli, sa, Pattern(3, 3));
            Expect(NetError.Inval, () => NetApi.SendTo(cli, NetApi.LocalAddr(stranger), new byte[] { 1 }),
                   "SendTo another address on a connected socket");
            NetApi.SendTo(stranger, NetApi.LocalAddr(cli), Pattern(5, 4)); // filtered by the kernel
            int got = 0;
            PollUntil(eng, buf, e => {
                NoSurprise(e);
                if (e.Type != EventType.Datagram)
                    return false;
                if (e.Handle == srv) {
                    Check(SameAddr(e.Addr, NetApi.LocalAddr(cli)), "sent from the connected socket");
                    if (++got == 3)
                        NetApi.SendTo(srv, e.Addr, Pattern(9, 9));
                    return false;
                }
                Check(e.Handle == cli, "only the connected socket gets an answer");
                Check(Same(e.CopyData(), Pattern(9, 9)), "the peer's datagram, not the stranger's");
                return true;
            }, "three datagrams and a reply");
            foreach (NetEvent e in Drain(eng, buf, 100))
                Check(!(e.Type == EventType.Datagram && e.Handle == cli), "a stranger's datagram arrived: " + e);

            // ICMP port unreachable: an Error event; the socket stays open.
            ulong gone = eng.UdpOpen("127.0.0.1", 0);
            ushort gonePort = NetApi.LocalAddr(gone).Port;
            NetApi.Close(gone);
            PollUntil(eng, buf, e => e.Type == EventType.Close && e.Handle == gone, "Close of a socket");
            NetApi.UdpConnect(cli, "127.0.0.1", gonePort);
            NetEvent? err = null;
            var sw = Stopwatch.StartNew();
            while (err == null && sw.ElapsedMilliseconds < 5000) {
                NetApi.Send(cli, new byte[] { 0 });
                foreach (NetEvent e in Drain(eng, buf, 50)) {
                    Check(e.Type != EventType.Close, "an ICMP error must not close: " + e);
                    if (e.Type == EventType.Error && e.Handle == cli)
                        err = e;
                }
            }
            Check(err != null, "an Error event after sending to a closed port");
            Check(err.Value.Error == NetError.Refused, "Error status " + err.Value.Error);
            Check(err.Value.User == 77, "Error carries the user data");
            NetApi.UdpConnect(cli, "127.0.0.1", sa.Port);
            NetApi.Send(cli, new byte[] { 5, 5 });
            PollUntil(eng, buf, e => e.Type == EventType.Datagram && e.Handle == srv && e.Len == 2, "a datagram after the error");
        }
    }

    static void LimitsCase()
    {
        using (var eng = new Engine(Backend.Auto, io)) {
            var buf = new NetEvent[64];
            NetUdpConfig cfg = Engine.DefaultUdpConfig();
            Check(cfg.Size == (uint)System.Runtime.InteropServices.Marshal.SizeOf(typeof(NetUdpConfig)), "config size");
            Check(cfg.MaxDatagram == Native.UdpMaxPayload, "default max_datagram " + cfg.MaxDatagram);
            cfg.MaxDatagram = Native.UdpMaxPayload + 1;
            Expect(NetError.Inval, () => eng.UdpOpen("127.0.0.1", 0, ref cfg), "max_datagram past NET_UDP_MAX_PAYLOAD");
            cfg.MaxDatagram = 100;
            cfg.Flags = UdpFlags.Broadcast | UdpFlags.ReuseAddr;
            cfg.RcvBuf = 1 << 20;
            cfg.User = 3;
            ulong small = eng.UdpOpen("127.0.0.1", 0, ref cfg);
            ulong cli = eng.UdpOpen("127.0.0.1", 0, UdpFlags.None, 0, 1000);
            NetAddr smallAddr = NetApi.LocalAddr(small);
            Check(NetApi.GetOption(small, NetOption.MaxDatagram) == 100, "MaxDatagram option");
            Check(NetApi.GetOption(small, NetOption.Broadcast) == 1, "Broadcast option");
            Check(NetApi.GetOption(small, NetOption.ReuseAddr) == 1, "ReuseAddr option");
            Check(NetApi.GetOption(small, NetOption.RcvBuf) >= 1 << 20, "RcvBuf option");
            Check(NetApi.GetOption(cli, NetOption.SendCap) == 1000, "SendCap option");
            Check(NetApi.GetUser(small) == 3, "user data");
            NetApi.SetOption(small, NetOption.Broadcast, 0);
            Check(NetApi.GetOption(small, NetOption.Broadcast) == 0, "Broadcast off");
            Expect(NetError.Inval, () => NetApi.SetOption(small, NetOption.Dropped, 0), "Dropped is read only");
            Expect(NetError.Inval, () => NetApi.SetOption(small, NetOption.NoDelay, 1), "NoDelay on UDP");

            // Oversized arrivals: dropped and counted, never truncated.
            NetApi.SendTo(cli, smallAddr, Pattern(101, 1));
            NetApi.SendTo(cli, smallAddr, Pattern(100, 2));
            PollUntil(eng, buf, e => {
                NoSurprise(e);
                if (e.Type != EventType.Datagram)
                    return false;
                Check(e.Handle == small && Same(e.CopyData(), Pattern(100, 2)), "only the datagram that fits: " + e);
                return true;
            }, "the datagram that fits");
            Check(NetApi.GetOption(small, NetOption.Dropped) == 1, "Dropped option");
            Check(eng.Stats().DatagramsDropped == 1, "stats.DatagramsDropped");
            Expect(NetError.MsgSize, () => NetApi.SendTo(small, NetApi.LocalAddr(cli), Pattern(101, 3)), "send past max_datagram");

            // The send cap counts payload + 64 per datagram: nothing is queued
            // past it, the call says so at once.
            NetAddr self = NetApi.LocalAddr(cli);
            unsafe {
                byte[] big = Pattern(937, 4);
                fixed (byte* p = big)
                    Check(NetApi.TrySendTo(cli, self, (IntPtr)p, 937) == NetError.MsgSize, "937 + 64 > a cap of 1000: could never fit");
            }
            NetApi.SendTo(cli, self, Pattern(936, 5));
            PollUntil(eng, buf, e => {
                NoSurprise(e);
                if (e.Type != EventType.Datagram)
                    return false;
                Check(e.Handle == cli && Same(e.CopyData(), Pattern(936, 5)), "936 + 64 fits: " + e);
                return true;
            }, "936 bytes");

            // Close: exactly one Close, status 0, then the handle is stale.
            NetApi.SendTo(cli, smallAddr, Pattern(10, 6));
            NetApi.Close(cli);
            int closes = 0;
            bool arrived = false;
            PollUntil(eng, buf, e => {
                if (e.Type == EventType.Close) {
                    Check(e.Handle == cli && e.Status == 0, "orderly Close of the client: " + e);
                    closes++;
                }
                if (e.Type == EventType.Datagram && e.Handle == small)
                    arrived = true;
                return closes == 1 && arrived;
            }, "the queued datagram, then Close");
            foreach (NetEvent e in Drain(eng, buf, 100))
                Check(e.Handle != cli, "event after Close: " + e);
            Expect(NetError.BadHandle, () => NetApi.SendTo(cli, smallAddr, new byte[] { 1 }), "SendTo on a stale handle");
            Expect(NetError.BadHandle, () => NetApi.UdpConnect(cli, "127.0.0.1", 9), "UdpConnect on a stale handle");
            Expect(NetError.BadHandle, () => NetApi.Close(cli), "Close on a stale handle");
            Expect(NetError.BadHandle, () => NetApi.GetOption(cli, NetOption.Dropped), "GetOption on a stale handle");
            Expect(NetError.BadHandle, () => NetApi.SendTo(12345, smallAddr, new byte[] { 1 }), "SendTo on a made-up handle");
            Expect(NetError.Addr, () => NetApi.AddrParse("no such host.invalid", 1), "AddrParse of a bad name");
            NetAddr parsed = NetApi.AddrParse("127.0.0.1", smallAddr.Port);
            Check(SameAddr(parsed, smallAddr), "AddrParse " + parsed);
            Check(eng.Stats().UdpSockets == 1, "one socket left");
        }
    }

    static Process StartServer(string exe, out ushort port)
    {
        var psi = new ProcessStartInfo(exe, "--port 0 --host 127.0.0.1 --io-threads " + io);
        psi.UseShellExecute = false;
        psi.RedirectStandardOutput = true;
        var p = Process.Start(psi);
        string line = p.StandardOutput.ReadLine();
        var m = line == null ? null : Regex.Match(line, @"^listening on (\[[^\]]+\]|[^\s:]+):(\d+)\s");
        if (m == null || !m.Success) {
            try { p.Kill(); } catch (Exception) { }
            throw new Exception("udp_echo did not start: " + (line ?? "(no output)"));
        }
        port = ushort.Parse(m.Groups[2].Value);
        return p;
    }

    static void SampleCase(string serverExe)
    {
        ushort port;
        Process server = StartServer(serverExe, out port);
        try {
            using (var eng = new Engine(Backend.Auto, io)) {
                var buf = new NetEvent[64];
                ulong cli = eng.UdpOpen("127.0.0.1", 0);
                NetAddr sa = NetApi.AddrParse("127.0.0.1", port);
                var msgs = new List<byte[]>();
                foreach (int n in new[] { 0, 1, 1200, 65507 })
                    msgs.Add(Pattern(n, n));
                foreach (byte[] m in msgs)
                    NetApi.SendTo(cli, sa, m);
                var got = new List<byte[]>();
                PollUntil(eng, buf, e => {
                    NoSurprise(e);
                    if (e.Type != EventType.Datagram)
                        return false;
                    Check(e.Handle == cli, "datagram handle");
                    Check(SameAddr(e.Addr, sa), "echo comes from the server's address: " + e.Addr);
                    got.Add(e.CopyData());
                    return got.Count == msgs.Count;
                }, "echoes from udp_echo");
                CheckSameSet(got, msgs);
            }
        } finally {
            var k = Process.Start(new ProcessStartInfo("kill", "-TERM " + server.Id) { UseShellExecute = false });
            k.WaitForExit();
            if (!server.WaitForExit(15000)) {
                server.Kill();
                throw new Exception("udp_echo did not stop on SIGTERM");
            }
        }
        Check(server.ExitCode == 0, "udp_echo exit code " + server.ExitCode);
    }

    static void Run(string name, Action body)
    {
        try {
            body();
            passed++;
            Console.WriteLine("ok   " + name);
        } catch (SkipException e) {
            skipped++;
            Console.WriteLine("skip " + name + ": " + e.Message);
        } catch (Exception e) {
            failed++;
            Console.WriteLine("FAIL " + name + ": " + e.Message);
            Console.WriteLine(e.StackTrace);
        }
    }

    static int Main(string[] args)
    {
        string env = Environment.GetEnvironmentVariable("NET_TEST_IO_THREADS");
        if (!string.IsNullOrEmpty(env))
            io = uint.Parse(env);
        Console.WriteLine("net " + NetApi.VersionString + ", io_threads " + io);
        using (var probe = new Engine(Backend.Auto, io))
            Console.WriteLine("backend " + probe.BackendName);

        Run("udp echo ipv4", () => EchoCase("127.0.0.1"));
        Run("udp echo ipv6", () => EchoCase("::1"));
        Run("udp connected, icmp error", ConnectedCase);
        Run("udp limits, options, close, stale handles", LimitsCase);
        if (args.Length > 0)
            Run("udp echo against samples/udp_echo", () => SampleCase(args[0]));

        Console.WriteLine("{0} passed, {1} failed, {2} skipped", passed, failed, skipped);
        return failed == 0 && passed > 0 ? 0 : 1;
    }
}
