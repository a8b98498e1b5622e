// AddressTest.cs - addresses round-trip: the text net prints (NetAddr.ToString,
// "127.0.0.1:9", "[::1]:7000") is what Listen, Connect, UdpOpen, UdpConnect,
// SendTo and AddrParse accept, over IPv4 and IPv6 loopback:
//   - AddrParse(text).ToString() == text;
//   - TCP: listen on "host:0", connect to the printed LocalAddr (as text and
//     as NetAddr); the accepted peer prints as the client's LocalAddr;
//   - UDP: SendTo the printed address as text; the datagram's sender prints
//     as the sender's LocalAddr, and SendTo(ev.Addr.ToString()) answers it;
//     UdpConnect to the text fixes the peer.
//
//   mono AddressTest.exe

using System;
using System.Text;
using Net;
using static TestUtil;

static class AddressTest
{
    static void Parse(string text)
    {
        string back = NetApi.AddrParse(text).ToString();
        Check(back == text, "AddrParse(\"" + text + "\") prints " + back);
    }

    static void Tcp(Engine eng, string any)
    {
        ulong lst = eng.Listen(any);
        string listening = NetApi.LocalAddr(lst).ToString();
        for (int round = 0; round < 2; round++) {
            ulong conn = round == 0 ? eng.Connect(listening) : eng.Connect(NetApi.AddrParse(listening));
            NetEvent connected = WaitFor(eng, e => e.Handle == conn && e.Type == EventType.Connect);
            Check(connected.Status == 0, "connect to " + listening + ": " + connected);
            Check(connected.Addr.ToString() == listening, "Connect event's addr " + connected.Addr + " is " + listening);
            NetEvent accepted = WaitFor(eng, e => e.Type == EventType.Accept && e.Parent == lst);
            string client = NetApi.LocalAddr(conn).ToString();
            Check(accepted.Addr.ToString() == client, "accepted peer " + accepted.Addr + " is the client " + client);
            Check(NetApi.PeerAddr(accepted.Handle).ToString() == client, "PeerAddr of the accepted connection");
            NetApi.Abort(conn);
            NetApi.Abort(accepted.Handle);
        }
        NetApi.Close(lst);
        Console.WriteLine("tcp {0}: listen, connect (text and NetAddr), accept addresses agree", listening);
    }

    static void Udp(Engine eng, string any)
    {
        ulong a = eng.UdpOpen(any);
        ulong b = eng.UdpOpen(any);
        string aText = NetApi.LocalAddr(a).ToString(), bText = NetApi.LocalAddr(b).ToString();
        NetApi.SendTo(b, aText, Encoding.ASCII.GetBytes("ping"));
        NetEvent got = WaitFor(eng, e => e.Handle == a && e.Type == EventType.Datagram);
        Check(got.Addr.ToString() == bText, "sender printed as " + got.Addr + ", is " + bText);
        NetApi.SendTo(a, got.Addr.ToString(), Encoding.ASCII.GetBytes("pong"));
        byte[] data;
        got = WaitFor(eng, e => e.Handle == b && e.Type == EventType.Datagram, out data);
        Check(Encoding.ASCII.GetString(data) == "pong" && got.Addr.ToString() == aText, "answer to the printed sender");
        NetApi.UdpConnect(b, aText);
        Check(NetApi.PeerAddr(b).ToString() == aText, "UdpConnect(text): PeerAddr prints " + NetApi.PeerAddr(b));
        NetApi.Send(b, Encoding.ASCII.GetBytes("fixed"));
        got = WaitFor(eng, e => e.Handle == a && e.Type == EventType.Datagram);
        Check(got.Len == 5 && got.Addr.ToString() == bText, "datagram through the connected socket");
        NetApi.Close(a);
        NetApi.Close(b);
        Console.WriteLine("udp {0} <-> {1}: SendTo, UdpConnect with printed addresses", aText, bText);
    }

    // A taken port: Listen and UdpOpen throw NetException with Code
    // AddrInUse and OsError 98 (EADDRINUSE, Linux) from net_last_os_error.
    static void TakenPort(Engine eng)
    {
        ulong lst = eng.Listen("127.0.0.1:0");
        ulong udp = eng.UdpOpen("127.0.0.1:0");
        foreach (bool tcp in new[] { true, false }) {
            string taken = NetApi.LocalAddr(tcp ? lst : udp).ToString();
            try {
                if (tcp)
                    eng.Listen(taken);
                else
                    eng.UdpOpen(taken);
                Check(false, (tcp ? "Listen" : "UdpOpen") + " on the taken " + taken + " succeeded");
            } catch (NetException e) {
                Check(e.Code == NetError.AddrInUse, "code " + e.Code);
                Check(e.OsError == 98, "OsError " + e.OsError + ": " + e.Message);
                Check(e.Message.Contains("[os error 98]"), "message " + e.Message);
            }
        }
        NetApi.Close(lst);
        NetApi.Close(udp);
    }

    static int Main()
    {
        foreach (string text in new[] { "127.0.0.1:9", "[::1]:7000", "0.0.0.0:0", "[::]:65535" })
            Parse(text);
        using (var eng = new Engine()) {
            Tcp(eng, "127.0.0.1:0");
            Tcp(eng, "[::1]:0");
            Udp(eng, "127.0.0.1:0");
            Udp(eng, "[::1]:0");
            TakenPort(eng);
        }
        Console.WriteLine("addresses round-trip over IPv4 and IPv6");
        return 0;
    }
}
