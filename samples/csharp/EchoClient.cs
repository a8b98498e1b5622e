// EchoClient.cs - the C# echo client sample: connects to an echo server
// (EchoServer.exe, samples/echo_server, ...), sends --count numbered
// messages and checks that every byte comes back in order. With a framing,
// each echo must be one whole message; with raw, the echoes are a stream.
//
//   mono EchoClient.exe [--address HOST:PORT | --host H --port P] [--framing F]
//        [--length-includes-header] [--backend B] [--io-threads N] [--count N] [--timeout S]
//
// --address takes the server's "listening on" text as it is ("[::1]:7000").
// Prints "echoed N messages ..." and exits 0, or says what went wrong and exits 1.

using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Text;
using Net;

static class EchoClient
{
    static int Main(string[] args)
    {
        var cli = new SampleCli("EchoClient.exe [--address HOST:PORT | --host H --port P] " +
                                "[--framing raw|u16le|u16be|u32le|u32be] [--length-includes-header] " +
                                "[--backend auto|epoll|io_uring|iocp] [--io-threads N] [--count N] [--timeout S]", false);
        string address = null;
        uint count = 100, timeoutS = 10;
        cli.Parse(args, (name, val) => {
            bool ok = true;
            if (name == "--address") address = val;
            else if (name == "--count") count = SampleCli.ParseUint(val, 1000000, out ok);
            else if (name == "--timeout") timeoutS = SampleCli.ParseUint(val, 3600, out ok);
            else return false;
            return ok && count > 0 && timeoutS > 0;
        });
        if (address == null)
            address = NetApi.AddrParse(cli.Host, cli.Port).ToString();
        try {
            using (Engine eng = cli.CreateEngine())
                return Run(eng, cli, NetApi.AddrParse(address), (int)count, timeoutS * 1000);
        } catch (ArgumentException e) {
            Console.Error.WriteLine("EchoClient: " + e.Message);
            return 2;
        } catch (Exception e) {
            Console.Error.WriteLine("EchoClient: " + e.Message);
            return 1;
        }
    }

    static byte[] Message(int i, int count)
    {
        // Numbered, and of varied sizes so framing and partial reads are exercised.
        return Encoding.ASCII.GetBytes("message " + i + " of " + count + " " + new string((char)('a' + i % 26), i % 97));
    }

    static int Run(Engine eng, SampleCli cli, NetAddr server, int count, long timeoutMs)
    {
        var clock = Stopwatch.StartNew();
        var events = new NetEvent[256];
        ulong conn = eng.Connect(server, cli.Framing, cli.Flags);
        bool connected = false, framed = cli.Framing != Framing.Raw;
        var sent = new List<byte>();
        int echoed = 0, messagesBack = 0;
        while (clock.ElapsedMilliseconds < timeoutMs && (!connected || echoed < sent.Count)) {
            int n = eng.Poll(events, 100);
            for (int i = 0; i < n; i++) {
                NetEvent ev = events[i];
                if (ev.Handle != conn)
                    continue;
                if (ev.Type == EventType.Connect) {
                    if (ev.Status != 0)
                        throw new Exception("connect to " + server + ": " + ev);
                    connected = true;
                    for (int m = 1; m <= count; m++) {
                        byte[] msg = Message(m, count);
                        NetApi.Send(conn, msg);
                        sent.AddRange(msg);
                    }
                } else if (ev.Type == EventType.Data) {
                    byte[] got = ev.CopyData();
                    if (framed && !Same(got, Message(messagesBack + 1, count)))
                        throw new Exception("echo " + (messagesBack + 1) + " differs: \"" + Encoding.ASCII.GetString(got) + "\"");
                    messagesBack++;
                    if (echoed + got.Length > sent.Count || !SameAt(got, sent, echoed))
                        throw new Exception("the echoed stream differs from what was sent after byte " + echoed);
                    echoed += got.Length;
                } else if (ev.Type == EventType.Close) {
                    throw new Exception("the server closed the connection: " + ev);
                }
            }
        }
        if (!connected || echoed < sent.Count)
            throw new Exception(string.Format("timed out: connected={0}, {1} of {2} bytes echoed", connected,
                                              echoed, sent.Count));
        NetApi.Close(conn);
        Console.WriteLine("echoed {0} messages ({1} bytes) from {2} framing={3} in {4} ms", count, sent.Count, server,
                          SampleCli.FramingName(cli.Framing), clock.ElapsedMilliseconds);
        return 0;
    }

    static bool Same(byte[] a, byte[] b)
    {
        return a.Length == b.Length && SameAt(a, new List<byte>(b), 0);
    }

    // got equals sent[at .. at + got.Length).
    static bool SameAt(byte[] got, List<byte> sent, int at)
    {
        for (int i = 0; i < got.Length; i++)
            if (got[i] != sent[at + i]) return false;
        return true;
    }
}
