// RudpTest.cs - reliable-UDP sessions through the C# binding, in process:
// RudpListen / RudpConnect, Accept and Connect events, messages on four
// channels in the four modes echoed back on their channel (Data's Parent is
// the channel; channel 0, reliable-ordered, arrives in order), NetApi.Send
// as channel 0, RudpStats, the NetException codes of RudpSend (channel past
// the session's, closed, stale) and graceful closes (one Close each, status 0).
// NET_BACKEND (honoured by the library) and NET_TEST_IO_THREADS pick the mode.

using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Text;
using Net;

static class RudpTest
{
    const uint Channels = 4;
    static readonly RudpMode[] Modes = {
        RudpMode.ReliableOrdered, RudpMode.ReliableUnordered, RudpMode.UnreliableSequenced, RudpMode.Unreliable };

    static void Check(bool ok, string what)
    {
        if (!ok)
            throw new Exception("check failed: " + what);
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

    static void PollUntil(Engine eng, NetEvent[] buf, Func<NetEvent, bool> handler, string what)
    {
        var sw = Stopwatch.StartNew();
        while (sw.ElapsedMilliseconds < 10000) {
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

    static byte[] Msg(uint ch, int i)
    {
        return Encoding.ASCII.GetBytes(ch + ":" + i + ":" + new string('m', i * 13));
    }

    static int Main()
    {
        uint io = uint.Parse(Environment.GetEnvironmentVariable("NET_TEST_IO_THREADS") ?? "0");
        var buf = new NetEvent[256];
        using (var eng = new Engine(Backend.Auto, io)) {
            ulong lst = eng.RudpListen("127.0.0.1", 0, Channels);
            ulong cli = eng.RudpConnect("127.0.0.1:" + NetApi.LocalAddr(lst).Port);
            ulong srv = 0;
            bool connected = false;
            PollUntil(eng, buf, e => {
                Check(e.Type != EventType.Close, "unexpected " + e);
                if (e.Type == EventType.Accept) {
                    Check(e.Parent == lst, "Accept's Parent is the listener");
                    srv = e.Handle;
                } else if (e.Type == EventType.Connect) {
                    Check(e.Handle == cli && e.Status == 0, "connected: " + e);
                    connected = true;
                }
                return srv != 0 && connected;
            }, "a session");

            // The client asked for the default 8 channels, the listener 4: the session has 4.
            Expect(NetError.Inval, () => NetApi.RudpSend(cli, Channels, RudpMode.ReliableOrdered, Msg(0, 0)),
                   "a channel past the session's");
            const int per = 20;
            for (int i = 0; i < per; i++)
                for (uint ch = 0; ch < Channels; ch++)
                    NetApi.RudpSend(cli, ch, Modes[ch], Msg(ch, i));
            int got = 0, next0 = 0;
            var seen = new HashSet<string>();
            PollUntil(eng, buf, e => {
                Check(e.Type != EventType.Close, "unexpected " + e);
                if (e.Type != EventType.Data)
                    return false;
                byte[] data = e.CopyData();
                string[] parts = Encoding.ASCII.GetString(data).Split(':');
                uint ch = uint.Parse(parts[0]);
                int i = int.Parse(parts[1]);
                Check(e.Parent == ch, "Data's Parent is its channel: " + e.Parent + " != " + ch);
                if (e.Handle == srv) {
                    NetApi.RudpSend(srv, (uint)e.Parent, Modes[e.Parent], data);
                    return false;
                }
                Check(e.Handle == cli, "Data for the client: " + e);
                Check(seen.Add(ch + ":" + i), "twice: " + ch + ":" + i);
                if (ch == 0)
                    Check(i == next0++, "channel 0 in order");
                return ++got == per * (int)Channels;
            }, "every echo");

            NetApi.Send(cli, Encoding.ASCII.GetBytes("plain"));
            PollUntil(eng, buf, e => e.Type == EventType.Data && e.Handle == srv && e.Parent == 0 && e.Len == 5,
                      "NetApi.Send on channel 0");

            NetRudpStats st = NetApi.RudpStats(cli);
            Check(st.MessagesSent >= per * Channels + 1 && st.PacketsSent > 0, "session stats " + st.MessagesSent);
            NetRudpStats ls = NetApi.RudpStats(lst);
            Check(ls.Sessions == 1 && ls.Handshakes == 1, "listener stats");

            NetApi.Close(cli);
            Expect(NetError.Closed, () => NetApi.RudpSend(cli, 0, RudpMode.Unreliable, Msg(0, 1)), "send after close");
            NetApi.Close(lst);
            var closed = new Dictionary<ulong, int>();
            PollUntil(eng, buf, e => {
                if (e.Type == EventType.Close) {
                    Check(!closed.ContainsKey(e.Handle), "one Close per handle");
                    closed[e.Handle] = e.Status;
                }
                return closed.Count == 3;
            }, "three Close events");
            foreach (var kv in closed)
                Check(kv.Value == 0, "Close status of " + kv.Key + ": " + kv.Value);
            Expect(NetError.BadHandle, () => NetApi.RudpStats(cli), "a closed session is stale");
        }
        Console.WriteLine("rudp: ok");
        return 0;
    }
}
