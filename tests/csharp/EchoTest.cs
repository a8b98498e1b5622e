// EchoTest.cs - the C# binding end to end: through the real library (P/Invoke)
// against the C echo server (samples/echo_server), in several framings.
//
//   mono EchoTest.exe <path of echo_server>
//
// For each framing: start the server with --port 0, read its "listening on"
// line, connect with an Engine, send messages of many sizes, check every echo
// byte for byte, close gracefully (CLOSE status 0), check that the stale
// handle now throws NetException(BadHandle), and stop the server with SIGTERM
// (it must exit 0). Also: a timer, a post, stats, a refused connect.
// NET_BACKEND (honoured by the library) and NET_TEST_IO_THREADS pick the mode.

using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Text.RegularExpressions;
using Net;

static class EchoTest
{
    static int passed, failed;

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

    // The first event matching pred: from parked (events seen before), else
    // polled; the non-matching ones polled meanwhile are parked.
    static NetEvent WaitFor(Engine eng, NetEvent[] buf, Func<NetEvent, bool> pred, List<NetEvent> parked, List<byte[]> payloads, int timeoutMs = 10000)
    {
        for (int i = 0; i < parked.Count; i++) {
            if (pred(parked[i])) {
                NetEvent e = parked[i];
                parked.RemoveAt(i);
                return e;
            }
        }
        var sw = Stopwatch.StartNew();
        while (sw.ElapsedMilliseconds < timeoutMs) {
            int n = eng.Poll(buf, 50);
            NetEvent? hit = null;
            for (int i = 0; i < n; i++) {
                if (hit == null && pred(buf[i])) {
                    hit = buf[i];
                    if (buf[i].Type == EventType.Data && payloads != null)
                        payloads.Add(buf[i].CopyData());
                } else {
                    parked.Add(buf[i]);
                }
            }
            if (hit != null)
                return hit.Value;
        }
        throw new Exception("timed out waiting for an event; parked: " + string.Join(", ", parked));
    }

    static Process StartServer(string exe, string framing, bool includesHeader, out int port)
    {
        var psi = new ProcessStartInfo(exe, "--port 0 --framing " + framing + (includesHeader ? " --length-includes-header" : ""));
        psi.UseShellExecute = false;
        psi.RedirectStandardOutput = true;
        var p = Process.Start(psi);
        string line = p.StandardOutput.ReadLine();
        var m = line == null ? null : Regex.Match(line, @"^listening on (\[[^\]]+\]|[^\s:]+):(\d+)\s");
        if (m == null || !m.Success) {
            try { p.Kill(); } catch (Exception) { }
            throw new Exception("echo server did not start: " + (line ?? "(no output)"));
        }
        port = int.Parse(m.Groups[2].Value);
        return p;
    }

    static void StopServer(Process p)
    {
        var k = Process.Start(new ProcessStartInfo("kill", "-TERM " + p.Id) { UseShellExecute = false });
        k.WaitForExit();
        if (!p.WaitForExit(15000)) {
            p.Kill();
            throw new Exception("echo server did not stop on SIGTERM");
        }
        Check(p.ExitCode == 0, "echo server exit code " + p.ExitCode);
    }

    static void EchoCase(string serverExe, Framing framing, bool includesHeader, uint ioThreads)
    {
        string fname = framing.ToString().ToLowerInvariant();
        int port;
        Process server = StartServer(serverExe, fname, includesHeader, out port);
        try {
            using (var eng = new Engine(Backend.Auto, ioThreads)) {
                var buf = new NetEvent[64];
                var parked = new List<NetEvent>();
                TcpFlags flags = includesHeader ? TcpFlags.LenIncludesHeader : TcpFlags.None;
                ulong conn = eng.Connect("127.0.0.1", (ushort)port, framing, flags, 0, 99);
                NetEvent ce = WaitFor(eng, buf, e => e.Type == EventType.Connect && e.Handle == conn, parked, null);
                Check(ce.Status == 0, "connect status " + ce.Error);
                Check(ce.User == 99, "connect event carries user data");
                Check(ce.Addr.Port == port && ce.Addr.Family == AddrFamily.Inet, "connect addr " + ce.Addr);
                Check(ce.Addr.ToString() == "127.0.0.1:" + port, "addr format " + ce.Addr);

                var sizes = new List<int> { 1, 2, 10, 100, 1000, 4096, 30000, 65000 };
                if (framing == Framing.Raw || framing == Framing.U32LE || framing == Framing.U32BE)
                    sizes.Add(300000);
                if (includesHeader && (framing == Framing.U16LE || framing == Framing.U16BE))
                    sizes.Remove(65000);
                var msgs = new List<byte[]>();
                for (int i = 0; i < sizes.Count; i++)
                    msgs.Add(Pattern(sizes[i], i));
                // Three ways in: whole array, a slice, a raw pointer.
                for (int i = 0; i < msgs.Count; i++) {
                    if (i % 3 == 0) {
                        NetApi.Send(conn, msgs[i]);
                    } else if (i % 3 == 1) {
                        var padded = new byte[msgs[i].Length + 10];
                        Array.Copy(msgs[i], 0, padded, 5, msgs[i].Length);
                        NetApi.Send(conn, padded, 5, msgs[i].Length);
                    } else {
                        unsafe {
                            fixed (byte* p = msgs[i])
                                NetApi.Send(conn, (IntPtr)p, (uint)msgs[i].Length);
                        }
                    }
                }

                var got = new List<byte[]>();
                long want = 0, have = 0;
                foreach (var m in msgs) want += m.Length;
                var sw = Stopwatch.StartNew();
                while (have < want && sw.ElapsedMilliseconds < 20000) {
                    int n = eng.Poll(buf, 50);
                    for (int i = 0; i < n; i++) {
                        if (buf[i].Type == EventType.Data && buf[i].Handle == conn) {
                            Check(buf[i].User == 99, "data event user");
                            got.Add(buf[i].CopyData());
                            have += buf[i].Len;
                        } else {
                            Check(buf[i].Type != EventType.Close, "unexpected close: " + buf[i]);
                        }
                    }
                }
                Check(have == want, "echoed " + have + " of " + want + " bytes");
                if (framing == Framing.Raw) {
                    var all = new byte[want];
                    int pos = 0;
                    foreach (var g in got) { Array.Copy(g, 0, all, pos, g.Length); pos += g.Length; }
                    pos = 0;
                    foreach (var m in msgs) {
                        for (int i = 0; i < m.Length; i++)
                            Check(all[pos + i] == m[i], "raw stream byte " + (pos + i));
                        pos += m.Length;
                    }
                } else {
                    Check(got.Count == msgs.Count, "message count " + got.Count + " != " + msgs.Count);
                    for (int i = 0; i < msgs.Count; i++)
                        Check(Same(got[i], msgs[i]), "message " + i + " (" + msgs[i].Length + " bytes)");
                }

                NetStats st = eng.Stats();
                Check(st.Connections == 1 && st.BytesIn >= (ulong)want, "stats");
                Check(NetApi.GetUser(conn) == 99, "get_user");
                Check(NetApi.PeerAddr(conn).Port == port, "peer_addr");
                Check(NetApi.GetOption(conn, NetOption.NoDelay) == 1, "nodelay default");

                NetApi.Close(conn);
                NetEvent cl = WaitFor(eng, buf, e => e.Type == EventType.Close && e.Handle == conn, parked, null);
                Check(cl.Status == 0, "close status " + cl.Error);
                try {
                    NetApi.Send(conn, new byte[] { 1 });
                    Check(false, "send on a stale handle did not throw");
                } catch (NetException e) {
                    Check(e.Code == NetError.BadHandle, "stale handle code " + e.Code);
                }
            }
        } finally {
            StopServer(server);
        }
    }

    static void MiscCase(uint ioThreads)
    {
        using (var eng = new Engine(Backend.Auto, ioThreads)) {
            var buf = new NetEvent[16];
            var parked = new List<NetEvent>();
            ulong tm = eng.StartTimer(30, 0, 1234);
            NetEvent te = WaitFor(eng, buf, e => e.Type == EventType.Timer, parked, null);
            Check(te.Handle == tm && te.User == 1234, "timer event");
            eng.Post(ulong.MaxValue);
            NetEvent ue = WaitFor(eng, buf, e => e.Type == EventType.User, parked, null);
            Check(ue.User == ulong.MaxValue, "posted value");

            // A refused connect: CONNECT with the reason, then CLOSE.
            ulong lst = eng.Listen("127.0.0.1", 0);
            ushort freePort = NetApi.LocalAddr(lst).Port;
            NetApi.Close(lst);
            WaitFor(eng, buf, e => e.Type == EventType.Close && e.Handle == lst, parked, null);
            ulong c = eng.Connect("127.0.0.1", freePort);
            NetEvent ce = WaitFor(eng, buf, e => e.Type == EventType.Connect && e.Handle == c, parked, null);
            Check(ce.Error == NetError.Refused, "refused connect status " + ce.Error);
            NetEvent cl = WaitFor(eng, buf, e => e.Type == EventType.Close && e.Handle == c, parked, null);
            Check(cl.Error == NetError.Refused, "refused close status " + cl.Error);

            try {
                eng.Listen("not an address", 0);
                Check(false, "bad address accepted");
            } catch (NetException e) {
                Check(e.Code == NetError.Addr, "bad address code " + e.Code);
            }
            Check(NetApi.StrError((int)NetError.BadHandle).Length > 0, "strerror");
            Check(Marshal_SizeOfEvent() == 72, "sizeof(NetEvent)");
        }
    }

    static int Marshal_SizeOfEvent()
    {
        return System.Runtime.InteropServices.Marshal.SizeOf(typeof(NetEvent));
    }

    static void Run(string name, Action body)
    {
        try {
            body();
            passed++;
            Console.WriteLine("ok   " + name);
        } catch (Exception e) {
            failed++;
            Console.WriteLine("FAIL " + name + ": " + e.Message);
            Console.WriteLine(e.StackTrace);
        }
    }

    static int Main(string[] args)
    {
        if (args.Length < 1) {
            Console.Error.WriteLine("usage: EchoTest.exe <echo_server>");
            return 2;
        }
        string server = args[0];
        uint io = 0;
        string env = Environment.GetEnvironmentVariable("NET_TEST_IO_THREADS");
        if (!string.IsNullOrEmpty(env))
            io = uint.Parse(env);
        Console.WriteLine("net " + NetApi.VersionString + ", io_threads " + io);
        using (var probe = new Engine(Backend.Auto, io))
            Console.WriteLine("backend " + probe.BackendName);

        Run("echo raw", () => EchoCase(server, Framing.Raw, false, io));
        Run("echo u16le", () => EchoCase(server, Framing.U16LE, false, io));
        Run("echo u16be+hdr", () => EchoCase(server, Framing.U16BE, true, io));
        Run("echo u32le", () => EchoCase(server, Framing.U32LE, false, io));
        Run("echo u32be+hdr", () => EchoCase(server, Framing.U32BE, true, io));
        Run("timer, post, refused connect", () => MiscCase(io));

        Console.WriteLine("{0} passed, {1} failed", passed, failed);
        return failed == 0 && passed > 0 ? 0 : 1;
    }
}
